//! Timestamps as clientd stores and shows them: UTC, millisecond precision.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub type Timestamp = DateTime<Utc>;

/// The current time, truncated to what the API shows, so a stored value reads back identically.
pub fn now() -> Timestamp {
    truncate(Utc::now())
}

pub fn truncate(at: Timestamp) -> Timestamp {
    at.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(at)
}

/// RFC 3339 in UTC with milliseconds, as the API shows every timestamp.
pub fn rfc3339(at: Timestamp) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Why a text is not a time clientd takes, worded the same wherever a time is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be an RFC 3339 date-time, like 2027-01-31T00:00:00Z")]
pub struct NotRfc3339;

/// The one reading of a time given as text (a flag, a query parameter, a cursor, a filter):
/// RFC 3339 with any offset, kept in UTC at the millisecond precision clientd stores.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, NotRfc3339> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| truncate(at.to_utc()))
        .map_err(|_| NotRfc3339)
}

/// Serde format for `Timestamp` fields: RFC 3339 in UTC with milliseconds (`2026-11-24T10:00:00.000Z`).
pub mod rfc3339_millis {
    use super::Timestamp;
    use chrono::SecondsFormat;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub mod option {
        use super::Timestamp;
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            at: &Option<Timestamp>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, serializer),
                None => serializer.serialize_none(),
            }
        }
    }
}
