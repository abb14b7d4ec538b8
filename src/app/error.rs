//! The one error of the use cases, in their own terms: what went wrong, never how a caller
//! is told (`http/error.rs` alone turns it into a problem).

use std::time::Duration;

use crate::domain::refusal::Refusal;
use crate::domain::rotation::VerifyFailure;
use crate::domain::{Invalid, Missing};
use crate::store::StoreError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Absent, or in a tenant the caller cannot see: the two are told apart to no one.
    #[error("no {0} with this id")]
    NotFound(Missing),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The domain refused the change (under the store's lock, or before it was asked).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// What the change would take is taken already (a name, an id): nothing was written.
    #[error("{0}")]
    Conflict(&'static str),
    /// The database could not be reached in time: worth retrying, not the caller's fault.
    #[error(transparent)]
    Unavailable(StoreError),
    /// The database gave the transaction up for a concurrent one's sake: nothing was
    /// written, and the same change, asked again, is decided afresh.
    #[error(transparent)]
    Contention(StoreError),
    /// The statements ran out of the request's time and were rolled back.
    #[error(transparent)]
    TimedOut(StoreError),
    /// Any other failure of the database: a fault, not the weather.
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    SecretRefused(VerifyFailure),
    /// Too many failed verifications of one client's secret; `failed` when this attempt was
    /// one of them (rather than refused before it was checked).
    #[error("too many failed verifications of this client's secret")]
    TooManyFailures { retry_after: Duration, failed: bool },
    /// Refused as OAuth says it (RFC 6749 5.2), on the token endpoint's routes.
    #[error(transparent)]
    OAuth(#[from] crate::domain::oauth::OAuthError),
    /// Too many failed authentications as one client from one address.
    #[error("too many failed authentications of this client from this address")]
    TooManyClientFailures { retry_after: Duration },
    /// The token routes cannot work now: the key-encryption keys are not configured, or do
    /// not open the stored signing keys. Says what to set.
    #[error("{0}")]
    TokensUnavailable(String),
    #[error("the OS random number generator failed: {0}")]
    Randomness(#[from] getrandom::Error),
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(missing) => Self::NotFound(missing),
            StoreError::Refused(refusal) => Self::Refused(refusal),
            StoreError::Conflict(why) => Self::Conflict(why),
            StoreError::Unavailable(_) => Self::Unavailable(error),
            StoreError::Contention(_) => Self::Contention(error),
            StoreError::TimedOut(_) => Self::TimedOut(error),
            error => Self::Store(error),
        }
    }
}
