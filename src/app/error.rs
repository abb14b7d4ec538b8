//! The one error of the use cases; `http/error.rs` answers it as a problem.

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
    #[error(transparent)]
    Refused(Refusal),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    SecretRefused(VerifyFailure),
    /// Too many failed verifications of one client's secret; `failed` when this attempt was
    /// one of them (rather than refused before it was checked).
    #[error("too many failed verifications of this client's secret")]
    TooManyFailures { retry_after: Duration, failed: bool },
    #[error("the OS random number generator failed: {0}")]
    Randomness(#[from] getrandom::Error),
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(missing) => Self::NotFound(missing),
            StoreError::Refused(refusal) => refusal.into(),
            error => Self::Store(error),
        }
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Hidden => Self::NotFound(Missing::Client),
            Refusal::NoSuchCredential => Self::NotFound(Missing::Credential),
            Refusal::Forbidden(why) => Self::Forbidden(why),
            Refusal::Invalid(invalid) => Self::Invalid(invalid),
            refusal => Self::Refused(refusal),
        }
    }
}
