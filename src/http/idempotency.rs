//! `Idempotency-Key` on the creating and rotating POSTs: the first answer is kept (without
//! any secret) for 24 hours, per caller and key, and a retry with the same body gets it
//! again with `Idempotent-Replayed: true`. The same key with another body is 422; a retry
//! while the first is still running is 409. Replicas agree through the claim the use cases
//! make (`app::idempotency`); this middleware keeps the HTTP: headers, bodies, replays.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::AppState;
use super::error::ApiError;
use super::extract::DryRun;
use crate::app::idempotency::{self, HeldKey, KeyClaim, MAX_KEY, SECRET_FIELDS, StoredAnswer};
use crate::app::{App, Caller};
use crate::domain::audit::{Action, Event};

/// The routes whose POST creates or rotates, as the router names them, and whether the
/// route can rehearse (`?dry_run=true`), which keeps nothing and so is never remembered.
const REMEMBERED: [(&str, bool); 5] = [
    ("/tenants", false),
    ("/tokens", false),
    ("/tenants/{tenant_id}/clients", true),
    ("/clients/{client_id}/credentials", true),
    ("/clients/{client_id}/secrets/rotate/start", false),
];

/// The headers a replay gives back.
const KEPT_HEADERS: [HeaderName; 3] = [header::LOCATION, header::ETAG, header::CONTENT_TYPE];

/// Middleware: remembers and replays answers to requests that carry an `Idempotency-Key`.
pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match with_key(&state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn with_key(state: &AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    // Any bytes will do (obs-text too, read leniently); their number is the key's length,
    // as a client that sends Latin-1 counts it.
    let Some(key) = request.headers().get("idempotency-key").cloned() else {
        return Ok(next.run(request).await);
    };
    let route = (request.extensions().get::<MatchedPath>())
        .map(|path| path.as_str().trim_start_matches("/v1").to_owned());
    let remembered = (REMEMBERED.iter()).find(|(path, _)| route.as_deref() == Some(*path));
    let rehearsal = remembered.is_some_and(|(_, rehearses)| *rehearses)
        && DryRun::of(request.uri()).is_some_and(|dry_run| dry_run.0);
    if request.method() != Method::POST || remembered.is_none() || rehearsal {
        return Ok(next.run(request).await);
    }
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, state).await?;
    let key = key.as_bytes().trim_ascii();
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY} characters (a UUID is a good key)"
        )));
    }
    let key = String::from_utf8_lossy(key).into_owned();
    // Inside the request timeout, so a body that never arrives cannot hold the connection.
    let body = to_bytes(body, state.body_limit_bytes)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let hash = request_hash(&parts.method, parts.uri.path(), parts.uri.query(), &body);
    // The claim, the request and the keeping of its answer run to the end even if the caller
    // hangs up (which drops this future): a claim dropped half-way would leave the key held,
    // and a retry must find the answer, not make the change a second time.
    let request = Request::from_parts(parts, Body::from(body));
    let state = state.clone();
    let finished = tokio::spawn(
        async move {
            match claimed(&state, caller, key, &hash, request, next).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            }
        }
        .in_current_span(),
    );
    finished
        .await
        .map_err(|e| ApiError::Internal(format!("the request's task failed: {e}")))
}

/// Claims the key, then answers from what the claim found, or runs the request and settles
/// the key with its answer.
async fn claimed(
    state: &AppState,
    mut caller: Caller,
    key: String,
    hash: &[u8],
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match idempotency::claim(&state.app, &caller, key, hash).await? {
        KeyClaim::Running => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed; retry in a moment"
                .to_owned(),
        )),
        KeyClaim::Mismatch => Err(ApiError::KeyReused(
            "this Idempotency-Key was used for another request (another route or body) in the last 24 hours; use a new key for a new request"
                .to_owned(),
        )),
        KeyClaim::Replay(answer) => Ok(replay(answer)),
        KeyClaim::Committed(event) => {
            Ok(replay(from_event(state, &event, request.uri().path()).await?))
        }
        KeyClaim::Held(held) => {
            // The change's event takes the claim's id: the proof, in the change's own
            // transaction, that it committed.
            caller.change.idempotency = Some(held.id());
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(caller);
            let response = next.run(Request::from_parts(parts, body)).await;
            Ok(settle(&state.app, held, response).await)
        }
    }
}

/// Keeps a success for replay (without any secret); releases the key after a failure, so a
/// retry tries again. The answer goes back to the caller either way.
async fn settle(app: &App, held: HeldKey, response: Response) -> Response {
    if !response.status().is_success() {
        held.release(app).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(%error, "could not read an answer to keep it");
            return Response::from_parts(parts, Body::empty());
        }
    };
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
    held.keep(app, &answer).await;
    Response::from_parts(parts, Body::from(body))
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

/// The answer to a retry whose first request's change committed but whose answer was never
/// kept (the process stopped in between, or the request timeout answered first): the first
/// answer's status and `Location`, and the resource as the change's event recorded it, with
/// no secret (`secret_shown: false` where the first answer held one). A rotation's answer is
/// the client's view as it is now, without the next secret.
async fn from_event(state: &AppState, event: &Event, path: &str) -> Result<StoredAnswer, ApiError> {
    let creates = event.action.as_str().ends_with(".create");
    let mut body = match event.action {
        Action::SecretRotateStart => {
            let id = event
                .client
                .as_ref()
                .ok_or(ApiError::Conflict(LOST.to_owned()))?;
            let cached = (idempotency::rotated_client(&state.app, id).await?)
                .ok_or(ApiError::Conflict(LOST.to_owned()))?;
            super::secrets::m2m_view(&cached.client, &cached.secrets, None)?.0
        }
        _ => event.document.clone().unwrap_or(Value::Null),
    };
    let held_a_secret = match event.action {
        Action::ClientCreate => body["type"] == "CONFIDENTIAL",
        Action::TokenCreate | Action::SecretRotateStart => true,
        _ => false,
    };
    if let (true, Value::Object(fields)) = (held_a_secret, &mut body) {
        fields.insert("secret_shown".to_owned(), Value::Bool(false));
    }
    let mut headers = vec![(
        header::CONTENT_TYPE.as_str().to_owned(),
        "application/json".to_owned(),
    )];
    if creates {
        let prefix = if path.starts_with("/v1/") { "/v1" } else { "" };
        let location = format!("{prefix}{}", event.resource_path);
        headers.push((header::LOCATION.as_str().to_owned(), location));
    }
    Ok(StoredAnswer {
        status: if creates { 201 } else { 200 },
        headers,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    })
}

/// The client a lost rotation answer was about is gone: nothing true can be replayed.
const LOST: &str = "the request with this Idempotency-Key was done, but its answer was lost and its client no longer exists";

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
