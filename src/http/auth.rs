//! Who is calling: the admin API token in `Authorization`, turned into grants.

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::AppState;
use super::error::ApiError;
use crate::domain::secret::SecretString;
use crate::domain::tenant::TenantId;
use crate::domain::time;
use crate::domain::token::{Grants, TokenText};

/// An authenticated caller. Extracting it answers 401 when the credentials do not check out.
pub struct Caller {
    pub grants: Grants,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = presented_token(&parts.headers)?;
        let grants = authenticate(state, &presented)
            .await?
            .ok_or(ApiError::Unauthorized(
                "the token is unknown, revoked or expired",
            ))?;
        Ok(Self { grants })
    }
}

/// The token from `Bearer <token>`, or the password of `Basic` (the user name is ignored).
fn presented_token(headers: &HeaderMap) -> Result<SecretString, ApiError> {
    let missing = ApiError::Unauthorized(
        "send an admin API token as Authorization: Bearer <token> (or as the Basic password)",
    );
    let value = (headers.get(header::AUTHORIZATION))
        .and_then(|value| value.to_str().ok())
        .ok_or(missing)?;
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        Some(credentials.to_owned())
    } else if scheme.eq_ignore_ascii_case("basic") {
        (STANDARD.decode(credentials).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|pair| {
                pair.split_once(':')
                    .map(|(_, password)| password.to_owned())
            })
    } else {
        None
    };
    token
        .filter(|token| !token.is_empty())
        .map(SecretString::new)
        .ok_or(ApiError::Unauthorized(
            "the Authorization header must be Bearer <token> or Basic with the token as password",
        ))
}

async fn authenticate(
    state: &AppState,
    presented: &SecretString,
) -> Result<Option<Grants>, ApiError> {
    if state.bootstrap.is_some_and(|hash| hash.matches(presented)) {
        return Ok(Some(Grants::everything()));
    }
    let Some(id) = TokenText::token_id(presented) else {
        return Ok(None);
    };
    let Some(stored) = state.store.token(id).await? else {
        return Ok(None);
    };
    Ok((stored.hash.matches(presented))
        .then(|| stored.token.grants_at(time::now()).cloned())
        .flatten())
}

impl Caller {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.grants.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this needs a token with the admin permission".to_owned(),
            ))
        }
    }

    /// A tenant the caller cannot see is answered exactly as one that does not exist.
    pub fn require_read(&self, tenant: &TenantId) -> Result<(), ApiError> {
        if self.grants.can_read(tenant) {
            Ok(())
        } else {
            Err(not_found_tenant())
        }
    }
}

pub fn not_found_tenant() -> ApiError {
    ApiError::NotFound("no tenant with this id".to_owned())
}
