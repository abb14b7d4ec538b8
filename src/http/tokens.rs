//! `/tokens`: admin API tokens. The token text is shown once, in the answer to its creation.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{JsonBody, NO_STORE, Paging, Prefix};
use crate::domain::FieldError;
use crate::domain::secret::SecretString;
use crate::domain::tenant::TenantId;
use crate::domain::time::{self, Timestamp};
use crate::domain::token::{ApiToken, TokenText};
use crate::store::Store;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{token_id}", get(read_token).delete(revoke_token))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub permissions: Vec<String>,
    #[serde(default)]
    pub tenants: Vec<String>,
    pub expires_at: Option<Timestamp>,
}

/// Checks a token request and stores the token: shared by the API and `clientd token create`.
pub async fn issue_token(
    store: &dyn Store,
    request: CreateToken,
) -> Result<(ApiToken, SecretString), ApiError> {
    let expires_at = request.expires_at.map(time::truncate);
    let token = ApiToken::new(
        &request.name,
        &request.permissions,
        &request.tenants,
        expires_at,
        time::now(),
    )?;
    let missing = store.missing_tenants(token.grants.tenants()).await?;
    if !missing.is_empty() {
        return Err(ApiError::Invalid(unknown_tenants(
            &request.tenants,
            &missing,
        )));
    }
    let (text, hash) = TokenText::issue(token.id)?;
    store.create_token(&token, &hash).await?;
    Ok((token, text))
}

fn unknown_tenants(requested: &[String], missing: &[TenantId]) -> Vec<FieldError> {
    (requested.iter().enumerate())
        .filter(|(_, id)| missing.iter().any(|m| m.as_str() == id.as_str()))
        .map(|(i, _)| FieldError::new(format!("/tenants/{i}"), "no tenant with this id"))
        .collect()
}

#[derive(Serialize)]
struct IssuedToken<'a> {
    #[serde(flatten)]
    details: &'a ApiToken,
    token: &'a str,
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Prefix(prefix): Prefix,
    JsonBody(request): JsonBody<CreateToken>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let (token, text) = issue_token(state.store.as_ref(), request).await?;
    let location = format!("{prefix}/tokens/{}", token.id);
    let body = serde_json::to_value(IssuedToken {
        details: &token,
        token: text.expose(),
    })
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        [NO_STORE],
        [(header::LOCATION, location)],
        Json(body),
    ))
}

async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    paging: Paging,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let after = (paging.cursor.as_ref())
        .map(|cursor| token_id_cursor(cursor.key()))
        .transpose()?;
    Ok(Json(state.store.list_tokens(after, paging.limit).await?))
}

/// Token cursors are token ids, in the hyphenated form `next_cursor` gives.
fn token_id_cursor(key: &str) -> Result<Uuid, ApiError> {
    (Uuid::try_parse(key).ok())
        .filter(|_| key.len() == 36)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "cursor must be the next_cursor of the previous page (a token id)".to_owned(),
            )
        })
}

async fn read_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(token_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let id = Uuid::try_parse(&token_id).map_err(|_| not_found_token())?;
    let stored = state.store.token(id).await?.ok_or_else(not_found_token)?;
    Ok(Json(stored.token))
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(token_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let id = Uuid::try_parse(&token_id).map_err(|_| not_found_token())?;
    match state.store.delete_token(id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(crate::store::StoreError::NotFound) => Err(not_found_token()),
        Err(error) => Err(error.into()),
    }
}

fn not_found_token() -> ApiError {
    ApiError::NotFound("no token with this id".to_owned())
}
