//! The token endpoint's rules (DESIGN 15): client credentials for machines, access tokens as
//! RFC 9068 JWTs signed by per-tenant keys that clientd generates, seals and rotates, client
//! assertions (`private_key_jwt`), and errors as RFC 6749 says them.

pub mod access_token;
pub mod assertion;
pub mod error;
pub mod grant;
pub mod jws;
pub mod keys;
pub mod request;
pub mod seal;
pub mod signing;

pub use error::{ErrorCode, OAuthError};
