//! Where and why a JSON value does not fit a type, as a JSON Pointer and a message.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use super::{FieldError, Invalid};

/// Why a value did not deserialize. An unknown field is the caller's typo (400), anything
/// else a broken rule at `pointer` (422).
#[derive(Debug)]
pub struct Misfit {
    pub pointer: String,
    pub message: String,
    pub unknown_field: bool,
}

impl From<Misfit> for Invalid {
    fn from(misfit: Misfit) -> Self {
        Invalid(vec![FieldError::new(misfit.pointer, misfit.message)])
    }
}

/// Deserializes `T`, locating the first misfit by JSON Pointer.
pub fn fit<'de, T, D>(deserializer: D) -> Result<T, serde_path_to_error::Error<D::Error>>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    serde_path_to_error::deserialize(deserializer)
}

/// Describes a deserialization error of serde_json by pointer and plain message.
pub fn misfit(error: &serde_path_to_error::Error<serde_json::Error>) -> Misfit {
    let pointer = pointer(error.path());
    let message = error.inner().to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    if message.starts_with("unknown field") {
        return Misfit {
            pointer: if pointer.is_empty() {
                "/".to_owned()
            } else {
                pointer
            },
            message,
            unknown_field: true,
        };
    }
    match (message.strip_prefix("missing field `")).and_then(|rest| rest.strip_suffix('`')) {
        Some(field) => Misfit {
            pointer: format!("{pointer}/{field}"),
            message: "is required".to_owned(),
            unknown_field: false,
        },
        None => Misfit {
            pointer,
            message,
            unknown_field: false,
        },
    }
}

/// The RFC 6901 pointer to where deserialization stopped.
fn pointer(path: &serde_path_to_error::Path) -> String {
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .map(|token| format!("/{token}"))
        .collect()
}

/// Reads an optional struct from a JSON object or `null` only. Derived structs would also
/// accept an array of their fields in order, which no caller of a JSON API means.
pub fn object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectOrNull<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOrNull<T> {
        type Value = Option<T>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("an object or null")
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }
    }

    deserializer.deserialize_any(ObjectOrNull(PhantomData))
}

/// Free-form members with every negative zero made zero. Postgres keeps a JSON number as
/// `numeric`, which has no negative zero: stored there, -0 reads back as 0, so the client a
/// write answers (and its ETag) would not be the one every later read shows. SQLite would
/// keep -0, so both stores are given 0.
pub fn without_negative_zero(mut members: Map<String, Value>) -> Map<String, Value> {
    fn walk(value: &mut Value) {
        match value {
            Value::Number(number) if number.as_f64() == Some(0.0) && number.is_f64() => {
                *value = Value::from(0.0);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Object(members) => members.values_mut().for_each(walk),
            _ => {}
        }
    }
    members.values_mut().for_each(walk);
    members
}

/// The length of `value` serialized as compact JSON, counted without building the text.
pub fn json_size<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, and clientd's types always serialize.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}
