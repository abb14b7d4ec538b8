//! Who is calling: the admin API token in `Authorization`, turned into grants.

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use std::net::IpAddr;

use super::AppState;
use super::error::ApiError;
use super::ops::FailureKind;
use super::throttle::SourceAddress;
use crate::domain::secret::SecretString;
use crate::domain::tenant::TenantId;
use crate::domain::time;
use crate::domain::token::{Grants, TokenText};

/// An authenticated caller. Extracting it answers 401 when the credentials do not check out,
/// and 429 to a source address past its limit of failed attempts, whatever it presents.
pub struct Caller {
    pub grants: Grants,
    /// Authenticated with `Basic`: the one scheme a browser replays by itself.
    pub by_basic: bool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let source = (parts.extensions.get::<SourceAddress>())
            .map_or(IpAddr::from([0, 0, 0, 0]), |source| source.0);
        let too_many = |retry_after| ApiError::TooManyRequests {
            what: "too many failed authentications from this address",
            retry_after,
        };
        if let Some(wait) = state.auth_failures.refused(&source) {
            state.metrics.refused(FailureKind::Authentication);
            return Err(too_many(wait));
        }
        let (presented, by_basic) = presented_token(&parts.headers)?;
        let failed = |state: &AppState, error: ApiError| {
            let limited = state.auth_failures.record_failure(&source);
            state
                .metrics
                .failure(FailureKind::Authentication, limited.is_some());
            limited.map_or(error, too_many)
        };
        let Some(presented) = presented else {
            return Err(failed(state, ApiError::Unauthorized(MALFORMED)));
        };
        match authenticate(state, &presented).await? {
            Some(grants) => Ok(Self { grants, by_basic }),
            None => Err(failed(
                state,
                ApiError::Unauthorized("the token is unknown, revoked or expired"),
            )),
        }
    }
}

const MALFORMED: &str =
    "the Authorization header must be Bearer <token> or Basic with the token as password";

/// The token from `Bearer <token>`, or the password of `Basic` (the user name is ignored),
/// and whether it came as Basic. No header is a 401; a header that holds no token is None.
fn presented_token(headers: &HeaderMap) -> Result<(Option<SecretString>, bool), ApiError> {
    let missing = ApiError::Unauthorized(
        "send an admin API token as Authorization: Bearer <token> (or as the Basic password)",
    );
    let value = (headers.get(header::AUTHORIZATION))
        .and_then(|value| value.to_str().ok())
        .ok_or(missing)?;
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim();
    let by_basic = scheme.eq_ignore_ascii_case("basic");
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
    let token = (token.filter(|token| !token.is_empty())).map(SecretString::new);
    Ok((token, by_basic))
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
    /// Refuses a body-less state change sent with Basic unless it says it is JSON. A browser
    /// that holds Basic credentials for clientd replays them on any request another site
    /// makes it send; such a request can carry no content type or a form or text one, but
    /// not `application/json` without a CORS preflight, which clientd never grants.
    pub fn require_deliberate(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let json = (headers.get(header::CONTENT_TYPE))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        let form_or_text = headers.get(header::CONTENT_TYPE).is_some() && !json;
        if form_or_text || (self.by_basic && !json) {
            return Err(ApiError::UnsupportedMediaType(
                "send this request with Content-Type: application/json (an empty body or {} is fine)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

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
