//! `/clients/{clientId}/secrets`: zero-downtime rotation (Stytch), verification for gateways
//! and authorization servers, and rotation telemetry.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::Caller;
use super::clients::not_found_client;
use super::error::ApiError;
use super::extract::{JsonBody, NO_STORE};
use super::ops::FailureKind;
use crate::domain::client::{Client, ClientId, IssuedSecret};
use crate::domain::rotation::{self, Rotation, Slot, StoredSecret, in_slot};
use crate::domain::secret::SecretString;
use crate::domain::time;
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/clients/{client_id}/secrets", get(secret_telemetry))
        .route(
            "/clients/{client_id}/secrets/rotate/start",
            post(rotate_start),
        )
        .route("/clients/{client_id}/secrets/rotate", post(rotate_complete))
        .route(
            "/clients/{client_id}/secrets/rotate/cancel",
            post(rotate_cancel),
        )
        .route("/clients/{client_id}/secrets/verify", post(verify_secret))
}

/// Stytch's `M2MClientWithNextClientSecret`; `next_client_secret` only when a rotation starts.
#[derive(Serialize)]
struct M2mClient<'a> {
    client_id: &'a str,
    client_name: &'a str,
    client_description: &'a str,
    status: &'static str,
    scopes: &'a [String],
    client_secret_last_four: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_client_secret: Option<&'a str>,
    next_client_secret_last_four: Option<&'a str>,
    trusted_metadata: &'a Map<String, Value>,
}

fn m2m_view(
    client: &Client,
    secrets: &[StoredSecret],
    next_text: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let last_four = |slot| in_slot(secrets, slot).map(|s: &StoredSecret| s.last_four.as_str());
    let view = M2mClient {
        client_id: client.id.as_str(),
        client_name: &client.settings.name,
        client_description: client.settings.description.as_deref().unwrap_or(""),
        status: if client.settings.enabled {
            "active"
        } else {
            "inactive"
        },
        scopes: &client.settings.scope,
        client_secret_last_four: last_four(Slot::Current),
        next_client_secret: next_text,
        next_client_secret_last_four: last_four(Slot::Next),
        trusted_metadata: &client.settings.trusted_metadata,
    };
    serde_json::to_value(view)
        .map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

async fn rotate(
    state: &AppState,
    caller: &Caller,
    client_id: &str,
    step: Rotation<'_>,
) -> Result<Json<Value>, ApiError> {
    let id = ClientId::parse(client_id).map_err(|_| not_found_client())?;
    let now = time::now();
    let decide = |client: &Client, secrets: &[StoredSecret]| {
        rotation::decide_rotation(client, secrets, step, &caller.grants, now)
    };
    match state.store.rotate_secrets(&id, &decide).await {
        Ok(Ok((client, secrets))) => {
            let next_text = match step {
                Rotation::Start(next) => Some(next.text.expose()),
                Rotation::Complete | Rotation::Cancel => None,
            };
            m2m_view(&client, &secrets, next_text)
        }
        Ok(Err(refusal)) => Err(refusal.into()),
        Err(StoreError::NotFound) => Err(not_found_client()),
        Err(error) => Err(error.into()),
    }
}

/// The answer carries the next secret: no cache may keep it (RFC 6749 section 5.1).
async fn rotate_start(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_deliberate(&headers)?;
    let next = IssuedSecret::generate()?;
    let answer = rotate(&state, &caller, &client_id, Rotation::Start(&next)).await?;
    Ok(([NO_STORE], answer))
}

async fn rotate_complete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_deliberate(&headers)?;
    rotate(&state, &caller, &client_id, Rotation::Complete).await
}

async fn rotate_cancel(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_deliberate(&headers)?;
    rotate(&state, &caller, &client_id, Rotation::Cancel).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    client_secret: SecretString,
}

async fn verify_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> Result<Json<Value>, ApiError> {
    let (client, secrets) = visible_client_with_secrets(&state, &caller, &client_id).await?;
    let too_many = |retry_after| ApiError::TooManyRequests {
        what: "too many failed verifications of this client's secret",
        retry_after,
    };
    if let Some(wait) = state.verify_failures.refused(&client.id) {
        state.metrics.refused(FailureKind::Verification);
        return Err(too_many(wait));
    }
    let slot = rotation::verify(&client, &secrets, &request.client_secret).map_err(|failure| {
        let limited = state.verify_failures.record_failure(&client.id);
        (state.metrics).failure(FailureKind::Verification, limited.is_some());
        limited.map_or_else(|| ApiError::SecretRefused(failure.to_string()), too_many)
    })?;
    let now = time::now();
    let secret_used = in_slot(&secrets, slot).and_then(|secret| secret.last_used);
    if rotation::use_is_news(secret_used, now) || rotation::use_is_news(client.last_used, now) {
        let since = now - rotation::LAST_USED_GRANULARITY;
        state
            .store
            .record_secret_use(&client.id, slot, now, since)
            .await?;
    }
    Ok(Json(json!({"valid": true, "secret": slot})))
}

async fn secret_telemetry(
    State(state): State<AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (client, secrets) = visible_client_with_secrets(&state, &caller, &client_id).await?;
    Ok(Json(json!({
        "client_id": client.id,
        "current": in_slot(&secrets, Slot::Current),
        "next": in_slot(&secrets, Slot::Next),
    })))
}

/// The client with its secrets, read together, if the caller can see its tenant.
async fn visible_client_with_secrets(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Client, Vec<StoredSecret>), ApiError> {
    let id = ClientId::parse(id).map_err(|_| not_found_client())?;
    match state.store.client_with_secrets(&id).await? {
        Some((client, secrets)) if caller.grants.can_read(&client.tenant) => Ok((client, secrets)),
        _ => Err(not_found_client()),
    }
}
