//! `/tokens`: admin API tokens. The token text is shown once, in the answer to its creation.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, NO_STORE, Paging, Prefix};
use crate::app::Caller;
use crate::app::tokens::{self, CreateToken};
use crate::domain::token::ApiToken;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{token_id}", get(read_token).delete(revoke_token))
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
    let (token, text) = tokens::create(&state.app, &caller, request).await?;
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
    let after = (paging.cursor.as_ref())
        .map(|cursor| token_id_cursor(cursor.key()))
        .transpose()?;
    Ok(Json(
        tokens::list(&state.app, &caller, after, paging.limit).await?,
    ))
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
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(tokens::read(&state.app, &caller, &id).await?))
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    tokens::revoke(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
