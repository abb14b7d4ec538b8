//! `/clients/{clientId}/secrets`: zero-downtime rotation (Stytch), verification for gateways
//! and authorization servers, and rotation telemetry.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::AnyToken;
use super::auth::require_deliberate;
use super::error::ApiError;
use super::extract::{ClientPath, JsonBody, NO_STORE};
use super::ops::FailureKind;
use crate::app::clients;
use crate::app::secrets::{self, Rotated, Step};
use crate::app::{self, Caller};
use crate::domain::client::Client;
use crate::domain::rotation::{Slot, StoredSecret, in_slot};
use crate::domain::secret::SecretString;

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

pub(super) fn m2m_view(
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
    client: &crate::domain::client::ClientId,
    step: Step,
) -> Result<Json<Value>, ApiError> {
    let Rotated {
        client,
        secrets,
        next,
    } = secrets::rotate(&state.app, caller, client, step).await?;
    let next_text = next.as_ref().map(|next| next.text.expose());
    m2m_view(&client, &secrets, next_text)
}

/// The answer carries the next secret: no cache may keep it (RFC 6749 section 5.1).
async fn rotate_start(
    State(state): State<AppState>,
    caller: Caller,
    ClientPath(client): ClientPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_deliberate(&headers, &body)?;
    let answer = rotate(&state, &caller, &client, Step::Start).await?;
    Ok(([NO_STORE], answer))
}

async fn rotate_complete(
    State(state): State<AppState>,
    caller: Caller,
    ClientPath(client): ClientPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_deliberate(&headers, &body)?;
    rotate(&state, &caller, &client, Step::Complete).await
}

async fn rotate_cancel(
    State(state): State<AppState>,
    caller: Caller,
    ClientPath(client): ClientPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_deliberate(&headers, &body)?;
    rotate(&state, &caller, &client, Step::Cancel).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    client_secret: SecretString,
}

async fn verify_secret(
    State(state): State<AppState>,
    AnyToken(caller): AnyToken,
    ClientPath(client): ClientPath,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> Result<Json<Value>, ApiError> {
    let verified = secrets::verify(&state.app, &caller, &client, &request.client_secret).await;
    match &verified {
        Err(app::Error::SecretRefused(_)) => {
            (state.metrics).failure(FailureKind::Verification, false);
        }
        Err(app::Error::TooManyFailures { failed: true, .. }) => {
            (state.metrics).failure(FailureKind::Verification, true);
        }
        Err(app::Error::TooManyFailures { failed: false, .. }) => {
            state.metrics.refused(FailureKind::Verification);
        }
        _ => {}
    }
    let slot = verified?;
    Ok(Json(json!({"valid": true, "secret": slot})))
}

async fn secret_telemetry(
    State(state): State<AppState>,
    caller: Caller,
    ClientPath(client): ClientPath,
) -> Result<Json<Value>, ApiError> {
    let cached = clients::read(&state.app, &caller, &client).await?;
    Ok(Json(json!({
        "client_id": cached.client.id,
        "current": in_slot(&cached.secrets, Slot::Current),
        "next": in_slot(&cached.secrets, Slot::Next),
    })))
}
