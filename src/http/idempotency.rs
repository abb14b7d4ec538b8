//! `Idempotency-Key` on the creating and rotating POSTs: the first answer is kept (without
//! any secret) for 24 hours, per caller and key, and a retry with the same body gets it
//! again with `Idempotent-Replayed: true`. The same key with another body is 422; a retry
//! while the first is still running is 409. Replicas agree through the store's claim.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::app::Caller;
use crate::app::idempotency::{LIFETIME, MAX_KEY, SECRET_FIELDS, actor_key};
use crate::domain::time;
use crate::store::{Claim, Horizon, StoredAnswer};

/// The routes whose POST creates or rotates, as the router names them.
const REMEMBERED: [&str; 5] = [
    "/tenants",
    "/tokens",
    "/tenants/{tenant_id}/clients",
    "/clients/{client_id}/credentials",
    "/clients/{client_id}/secrets/rotate/start",
];

/// The headers a replay gives back.
const KEPT_HEADERS: [HeaderName; 3] = [header::LOCATION, header::ETAG, header::CONTENT_TYPE];

/// Middleware: remembers and replays answers to requests that carry an `Idempotency-Key`.
pub async fn remember(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match remembered(&state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn remembered(state: &AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let Some(key) = request.headers().get("idempotency-key").cloned() else {
        return Ok(next.run(request).await);
    };
    let route = (request.extensions().get::<MatchedPath>())
        .map(|path| path.as_str().trim_start_matches("/v1").to_owned());
    let remembered_route = route.is_some_and(|route| REMEMBERED.contains(&route.as_str()));
    // A dry run keeps nothing, so there is nothing to replay.
    let dry_run = (request.uri().query()).is_some_and(|query| query.contains("dry_run=true"));
    if request.method() != Method::POST || !remembered_route || dry_run {
        return Ok(next.run(request).await);
    }
    let key = (key.to_str().ok())
        .filter(|key| (1..=MAX_KEY).contains(&key.len()))
        .filter(|key| key.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters (a UUID is a good key)"
            ))
        })?;
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, state).await?;
    let actor = actor_key(&caller.change.actor);
    parts.extensions.insert(caller);
    let body = to_bytes(body, state.body_limit_bytes).await.map_err(|_| {
        ApiError::PayloadTooLarge(
            "the request body is larger than this server accepts (CLIENTD_BODY_LIMIT_BYTES)"
                .to_owned(),
        )
    })?;
    let hash = request_hash(&parts.method, parts.uri.path(), parts.uri.query(), &body);
    let now = time::now();
    let horizon = Horizon {
        now,
        expired: now - LIFETIME,
        abandoned: now - state.abandoned_after,
    };
    let store = &state.app.store;
    match store.claim_idempotency_key(&actor, &key, &hash, horizon).await? {
        Claim::Running => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed; retry in a moment"
                .to_owned(),
        )),
        Claim::Mismatch => Err(ApiError::KeyReused(
            "this Idempotency-Key was used for another request (another route or body) in the last 24 hours; use a new key for a new request"
                .to_owned(),
        )),
        Claim::Replay(answer) => Ok(replay(answer)),
        Claim::Claimed => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            if !response.status().is_success() {
                // Only a success is kept: after a failure the retry tries again.
                store.release_idempotency_key(&actor, &key).await?;
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let body = to_bytes(body, usize::MAX)
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let answer = StoredAnswer {
                status: parts.status.as_u16(),
                headers: (KEPT_HEADERS.iter())
                    .filter_map(|name| {
                        let value = parts.headers.get(name)?.to_str().ok()?;
                        Some((name.as_str().to_owned(), value.to_owned()))
                    })
                    .collect(),
                body: without_secrets(&body),
            };
            store.complete_idempotency_key(&actor, &key, &answer).await?;
            Ok(Response::from_parts(parts, Body::from(body)))
        }
    }
}

/// SHA-256 over what makes a request the same request: method, path, query and body.
fn request_hash(method: &Method, path: &str, query: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [
        method.as_str().as_bytes(),
        path.as_bytes(),
        query.unwrap_or("").as_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    hash.finalize().to_vec()
}

/// The answer as it may be kept: a secret or token text is dropped, and `secret_shown:
/// false` says so.
fn without_secrets(body: &[u8]) -> Vec<u8> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    let mut removed = false;
    for field in SECRET_FIELDS {
        removed |= fields.remove(field).is_some();
    }
    if removed {
        fields.insert("secret_shown".to_owned(), Value::Bool(false));
    }
    serde_json::to_vec(&fields).unwrap_or_default()
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    );
    response
}
