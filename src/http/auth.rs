//! Who is calling: the admin API token in `Authorization`, turned into the use cases' caller:
//! its grants, and the actor, request id and source address its changes carry.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::AppState;
use super::error::ApiError;
use super::ops::FailureKind;
use super::throttle::SourceAddress;
use crate::app::{Caller, tokens};
use crate::domain::change::{Actor, ChangeContext};
use crate::domain::secret::SecretString;
use crate::domain::token::Grants;

/// The caller of a route that least-privilege tokens reach (`secrets/verify`, token
/// introspection, the events routes): any valid admin token, whatever its permissions; the
/// use case checks the one it needs.
pub struct AnyToken(pub Caller);

/// The caller of every other route: a token whose permissions reach clients and tenants
/// (client.read or more). A token that holds only `secret.verify` or `audit.read` is 403.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AnyToken(caller) = AnyToken::from_request_parts(parts, state).await?;
        if !caller.grants.reaches_clients() {
            return Err(ApiError::Forbidden(caller.grants.reach()));
        }
        Ok(caller)
    }
}

/// Extracting the caller answers 401 when the credentials do not check out. The token is
/// checked first, so a valid one is always served: only requests without valid credentials
/// count as failures of their source address, and only they get 429 once it is past its
/// limit (one bad caller behind a NAT must not lock out the good ones beside it).
impl FromRequestParts<AppState> for AnyToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Authenticated already, by the idempotency middleware.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(Self(caller.clone()));
        }
        let source = parts.extensions.get::<SourceAddress>().copied();
        let refusal = match presented_token(&parts.headers)? {
            None => ApiError::Unauthorized(MALFORMED),
            Some(presented) => match authenticate(state, &presented).await? {
                Some((grants, actor)) => {
                    return Ok(Self(caller(parts, grants, actor, source)));
                }
                None => ApiError::Unauthorized("the token is unknown, revoked or expired"),
            },
        };
        let limit_key = source.map_or(IpAddr::from([0, 0, 0, 0]), SourceAddress::limit_key);
        let too_many = |retry_after| ApiError::TooManyRequests {
            what: "too many failed authentications from this address; requests with a valid token are still served",
            retry_after,
        };
        if let Some(wait) = state.auth_failures.refused(&limit_key) {
            state.metrics.refused(FailureKind::Authentication);
            return Err(too_many(wait));
        }
        let limited = state.auth_failures.record_failure(&limit_key);
        (state.metrics).failure(FailureKind::Authentication, limited.is_some());
        Err(limited.map_or(refusal, too_many))
    }
}

fn caller(parts: &Parts, grants: Grants, actor: Actor, source: Option<SourceAddress>) -> Caller {
    let request_id = (parts.headers.get("x-request-id"))
        .and_then(|id| id.to_str().ok())
        .map(str::to_owned);
    Caller {
        grants,
        change: ChangeContext {
            actor,
            request_id,
            source: source.map(|source| source.0),
            idempotency: None,
        },
    }
}

const MALFORMED: &str =
    "the Authorization header must be Bearer <token> or Basic with the token as password";

/// The token from `Bearer <token>`, or the password of `Basic` (the user name is ignored).
/// No header is a 401; a header that holds no token is None.
fn presented_token(headers: &HeaderMap) -> Result<Option<SecretString>, ApiError> {
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
    Ok((token.filter(|token| !token.is_empty())).map(SecretString::new))
}

/// Whether the request authenticates with `Basic`: the one scheme a browser replays by itself.
pub fn by_basic(headers: &HeaderMap) -> bool {
    (headers.get(header::AUTHORIZATION))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split(' ').next())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic"))
}

async fn authenticate(
    state: &AppState,
    presented: &SecretString,
) -> Result<Option<(Grants, Actor)>, ApiError> {
    if state.bootstrap.is_some_and(|hash| hash.matches(presented)) {
        return Ok(Some((Grants::everything(), Actor::Bootstrap)));
    }
    Ok(tokens::authenticate(&state.app, presented).await?)
}

/// Refuses a body-less state change sent with Basic unless it says it is JSON. A browser
/// that holds Basic credentials for clientd replays them on any request another site makes
/// it send; such a request can carry no content type or a form or text one, but not
/// `application/json` without a CORS preflight, which clientd never grants.
pub fn require_deliberate(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let json = (headers.get(header::CONTENT_TYPE))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    let form_or_text = headers.get(header::CONTENT_TYPE).is_some() && !json;
    if form_or_text || (by_basic(headers) && !json) {
        return Err(ApiError::UnsupportedMediaType(
            "send this request with Content-Type: application/json (an empty body or {} is fine)"
                .to_owned(),
        ));
    }
    if !body.is_empty() {
        super::extract::parse_json::<serde_json::Map<String, serde_json::Value>>(body).map_err(
            |_| {
                ApiError::BadRequest(
                    "this request takes no body; send none, or the empty object {}".to_owned(),
                )
            },
        )?;
    }
    Ok(())
}
