//! `/clients/{clientId}/credentials`: Auth0-style public-key and certificate credentials.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::auth::Caller;
use super::clients::{not_found_client, visible_client};
use super::error::ApiError;
use super::extract::{JsonBody, Prefix};
use crate::domain::client::{Client, ClientId};
use crate::domain::credential::{
    self, ChangeExpiry, CreateCredential, Credential, CredentialChange,
};
use crate::domain::time;
use crate::store::{CredentialDecision, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/clients/{client_id}/credentials",
            get(list_credentials).post(create_credential),
        )
        .route(
            "/clients/{client_id}/credentials/{credential_id}",
            get(read_credential)
                .patch(change_expiry)
                .delete(delete_credential),
        )
}

/// Applies a decision under the client's lock and returns the credential it touched.
async fn change(
    state: &AppState,
    client_id: &str,
    decide: &CredentialDecision<'_>,
) -> Result<Credential, ApiError> {
    let id = ClientId::parse(client_id).map_err(|_| not_found_client())?;
    match state.store.change_credentials(&id, decide).await {
        Ok(Ok(
            CredentialChange::Add(c) | CredentialChange::Replace(c) | CredentialChange::Remove(c),
        )) => Ok(c),
        Ok(Err(refusal)) => Err(refusal.into()),
        Err(StoreError::NotFound) => Err(not_found_client()),
        Err(error) => Err(error.into()),
    }
}

async fn create_credential(
    State(state): State<AppState>,
    caller: Caller,
    Prefix(prefix): Prefix,
    Path(client_id): Path<String>,
    JsonBody(request): JsonBody<CreateCredential>,
) -> Result<impl IntoResponse, ApiError> {
    let new = request.into_credential(time::now())?;
    let most = state.max_credentials;
    let decide = |client: &Client, existing: &[Credential]| {
        credential::decide_add(client, existing, &new, &caller.grants, most)
    };
    let created = change(&state, &client_id, &decide).await?;
    let location = format!("{prefix}/clients/{client_id}/credentials/{}", created.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    ))
}

async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Json<Vec<Credential>>, ApiError> {
    let client = visible_client(&state, &caller, &client_id).await?;
    Ok(Json(state.store.credentials(&client.id).await?))
}

async fn read_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path((client_id, credential_id)): Path<(String, String)>,
) -> Result<Json<Credential>, ApiError> {
    let client = visible_client(&state, &caller, &client_id).await?;
    let credentials = state.store.credentials(&client.id).await?;
    (credentials.into_iter())
        .find(|c| c.id == credential_id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no credential with this id".to_owned()))
}

async fn change_expiry(
    State(state): State<AppState>,
    caller: Caller,
    Path((client_id, credential_id)): Path<(String, String)>,
    JsonBody(request): JsonBody<ChangeExpiry>,
) -> Result<Json<Credential>, ApiError> {
    let expires_at = request.expires_at.ok_or_else(|| {
        ApiError::BadRequest(
            "send {\"expires_at\": <date-time in the future>} or {\"expires_at\": null} to clear it; nothing else can change"
                .to_owned(),
        )
    })?;
    let expires_at = expires_at.map(time::truncate);
    let now = time::now();
    let decide = |client: &Client, existing: &[Credential]| {
        credential::decide_expiry(
            client,
            existing,
            &credential_id,
            expires_at,
            &caller.grants,
            now,
        )
    };
    Ok(Json(change(&state, &client_id, &decide).await?))
}

async fn delete_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path((client_id, credential_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let now = time::now();
    let decide = |client: &Client, existing: &[Credential]| {
        credential::decide_remove(client, existing, &credential_id, &caller.grants, now)
    };
    change(&state, &client_id, &decide).await?;
    Ok(StatusCode::NO_CONTENT)
}
