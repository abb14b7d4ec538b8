//! Where and why a JSON value does not fit a type, as a JSON Pointer and a message.

use serde::{Deserialize, Deserializer};
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
