//! Integer fields read as JSON Schema reads `type: integer`: any JSON number whose value is a
//! whole number. `3600`, `3600.0` and `3.6e3` are all 3600, so a caller whose JSON library
//! writes every number as a double (JavaScript, many YAML tools) is not refused for the
//! spelling, and what is stored is the integer, whichever way it was written.
//!
//! serde_json (built without `arbitrary_precision`) hands over a number written as plain
//! digits as an `i64` or `u64`, exactly, and any other as the nearest `f64`. A double is
//! taken only when it is finite, has no fractional part, and lies within ±(2^53 − 1): there
//! every whole number is exactly one double, so none other, written with a fraction or an
//! exponent, can have been rounded onto it. Beyond that range (`9007199254740993.0` reads as
//! 9007199254740992) the caller is asked for plain digits rather than handed a neighbour of
//! the number they sent. A fraction too small for a double to hold (`3600.0000000000001`)
//! is lost when the number is parsed, as in every JSON reader built on doubles.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{Error, Visitor};

/// The largest whole number no other can have been rounded onto when read as a double
/// (2^53 − 1, JavaScript's `Number.MAX_SAFE_INTEGER`): up to it, each is exactly one double.
pub const MAX_EXACT: i64 = (1 << 53) - 1;

/// An integer type a field may be read into; its range is named when a value falls outside.
pub trait Integer: Sized + TryFrom<i128> {
    const MIN: i128;
    const MAX: i128;
}

macro_rules! integer {
    ($($t:ty),*) => {
        $(impl Integer for $t {
            const MIN: i128 = <$t>::MIN as i128;
            const MAX: i128 = <$t>::MAX as i128;
        })*
    };
}

integer!(i32, i64, u32, u64);

/// Reads a required integer field: `#[serde(deserialize_with = "integer::whole")]`.
pub fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Integer,
{
    deserializer.deserialize_any(WholeNumber(PhantomData))
}

/// Reads an optional integer field, `null` as none:
/// `#[serde(default, deserialize_with = "integer::option")]`.
pub fn option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Integer,
{
    deserializer.deserialize_option(WholeNumberOrNull(PhantomData))
}

struct WholeNumber<T>(PhantomData<T>);

impl<'de, T: Integer> Visitor<'de> for WholeNumber<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an integer")
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<T, E> {
        in_range(i128::from(value), &value)
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<T, E> {
        in_range(i128::from(value), &value)
    }

    fn visit_f64<E: Error>(self, value: f64) -> Result<T, E> {
        from_double(value)
    }
}

struct WholeNumberOrNull<T>(PhantomData<T>);

impl<'de, T: Integer> Visitor<'de> for WholeNumberOrNull<T> {
    type Value = Option<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an integer or null")
    }

    fn visit_none<E: Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        whole(deserializer).map(Some)
    }
}

/// `value` as a `T`, or an error naming `T`'s range. `shown` is the number as it arrived.
fn in_range<T: Integer, E: Error>(value: i128, shown: &dyn fmt::Debug) -> Result<T, E> {
    T::try_from(value).map_err(|_| {
        E::custom(format!(
            "invalid value: {shown:?}, expected an integer from {} to {}",
            T::MIN,
            T::MAX
        ))
    })
}

/// A double as a `T` when it is a whole number that cannot have been rounded from another.
/// `-0.0` is 0: an integer has no negative zero.
fn from_double<T: Integer, E: Error>(value: f64) -> Result<T, E> {
    if !value.is_finite() || value.fract() != 0.0 {
        return Err(E::custom(format!(
            "invalid value: {value:?}, expected an integer (a number without a fractional part)"
        )));
    }
    if value < T::MIN as f64 || value > T::MAX as f64 {
        return Err(E::custom(format!(
            "invalid value: {value:?}, expected an integer from {} to {}",
            T::MIN,
            T::MAX
        )));
    }
    if value.abs() > MAX_EXACT as f64 {
        return Err(E::custom(format!(
            "invalid value: {value:?}, expected an integer; beyond ±{MAX_EXACT} write it as \
             plain digits, without a fraction or exponent, which a double may have rounded"
        )));
    }
    // WholeNumber and within ±(2^53 − 1), so the conversion is exact.
    in_range(value as i128, &value)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::json::{fit, misfit};

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Fields {
        #[serde(default, deserialize_with = "option")]
        optional: Option<i64>,
        #[serde(default, deserialize_with = "option")]
        small: Option<i32>,
        #[serde(default, deserialize_with = "option")]
        unsigned: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    struct Required {
        #[serde(deserialize_with = "whole")]
        n: i64,
    }

    /// Reads `{"optional": <text>}` from JSON text, as a request body is read.
    fn optional(text: &str) -> Result<Option<i64>, String> {
        read(&format!(r#"{{"optional": {text}}}"#)).map(|fields| fields.optional)
    }

    fn read(body: &str) -> Result<Fields, String> {
        serde_json::from_str(body).map_err(|e| e.to_string())
    }

    #[test]
    fn integer_valued_numbers_are_integers() {
        for (text, want) in [
            ("3600", 3600),
            ("3600.0", 3600),
            ("1e3", 1000),
            ("1E3", 1000),
            ("3.6e3", 3600),
            ("36000e-1", 3600),
            ("-5.0", -5),
            ("-0.0", 0),
            ("-0", 0),
            ("0e10", 0),
            ("9007199254740991.0", MAX_EXACT),
            ("-9007199254740991.0", -MAX_EXACT),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(optional(text), Ok(Some(want)), "{text}");
        }
    }

    #[test]
    fn null_and_absence_are_none() {
        assert_eq!(optional("null"), Ok(None));
        assert_eq!(read("{}").map(|f| f.optional), Ok(None));
    }

    #[test]
    fn fractions_other_types_and_out_of_range_are_refused() {
        for (text, says) in [
            ("3600.5", "3600.5, expected an integer (a number without"),
            ("0.1", "0.1, expected an integer"),
            ("-1e-300", "expected an integer (a number without"),
            (
                r#""3600""#,
                "invalid type: string \"3600\", expected an integer",
            ),
            ("true", "invalid type: boolean `true`, expected an integer"),
            ("[1]", "invalid type: sequence, expected an integer"),
            ("{}", "invalid type: map, expected an integer"),
            (
                "1e300",
                "1e300, expected an integer from -9223372036854775808",
            ),
            (
                "-1e19",
                "-1e19, expected an integer from -9223372036854775808",
            ),
            ("9223372036854775808", "expected an integer from"),
            ("9007199254740993.0", "write it as plain digits"),
            ("1e18", "write it as plain digits"),
        ] {
            let error = optional(text).expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn the_range_is_the_target_types() {
        let small = |text: &str| read(&format!(r#"{{"small": {text}}}"#)).map(|f| f.small);
        let unsigned = |text: &str| read(&format!(r#"{{"unsigned": {text}}}"#)).map(|f| f.unsigned);
        assert_eq!(small("2147483647.0"), Ok(Some(i32::MAX)));
        assert!(small("2147483648.0").is_err());
        assert!(small("2147483648").is_err());
        assert_eq!(unsigned("4294967295"), Ok(Some(u32::MAX)));
        assert_eq!(unsigned("-0.0"), Ok(Some(0)));
        assert!(unsigned("-1").is_err());
        assert!(unsigned("-1.0").is_err());
    }

    #[test]
    fn a_json_value_reads_the_same_as_json_text() {
        for (value, want) in [
            (json!(3600), Some(3600)),
            (json!(3600.0), Some(3600)),
            (json!(-0.0), Some(0)),
            (Value::Null, None),
        ] {
            let fields: Fields = serde_json::from_value(json!({ "optional": value })).unwrap();
            assert_eq!(fields.optional, want, "{value}");
        }
        assert!(serde_json::from_value::<Fields>(json!({"optional": 3600.5})).is_err());
        let required: Required = serde_json::from_value(json!({"n": 1e3})).unwrap();
        assert_eq!(required.n, 1000);
    }

    #[test]
    fn a_required_field_is_still_required_and_not_null() {
        let missing = serde_json::from_value::<Required>(json!({})).unwrap_err();
        assert!(
            missing.to_string().contains("missing field `n`"),
            "{missing}"
        );
        let null = serde_json::from_value::<Required>(json!({"n": null})).unwrap_err();
        assert!(null.to_string().contains("expected an integer"), "{null}");
    }

    #[test]
    fn a_misfit_points_at_the_field() {
        let mut deserializer = serde_json::Deserializer::from_str(r#"{"optional": 3600.5}"#);
        let error = fit::<Fields, _>(&mut deserializer).unwrap_err();
        let misfit = misfit(&error);
        assert_eq!(misfit.pointer, "/optional");
        assert!(misfit.message.contains("3600.5"), "{}", misfit.message);
        assert!(!misfit.unknown_field);
    }
}
