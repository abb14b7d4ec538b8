//! Why a change to a stored client was refused: decided by the domain under the store's lock,
//! carried out of the store, and answered by the HTTP layer.

use super::Invalid;

/// Why a change to a stored client was refused, decided under the store's lock.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The caller cannot see the client's tenant: answered as if it did not exist.
    #[error("no client with this id")]
    Hidden,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the client changed since it was read: If-Match does not match its ETag")]
    Stale,
    #[error("no credential with this id")]
    NoSuchCredential,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The change cannot be made as asked: a patch that is no JSON Patch, or one that
    /// touches a read-only field. The request itself is wrong, whatever the client holds.
    #[error("{0}")]
    Malformed(String),
    /// Not a refusal yet: the decision turns on the client's credentials, which the store
    /// reads only when asked (most patches do not need them, and the read is a round trip).
    #[error("the decision needs the client's credentials")]
    NeedsCredentials,
}
