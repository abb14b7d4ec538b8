//! `/clients/{clientId}/credentials`: Auth0-style public-key and certificate credentials.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::error::ApiError;
use super::extract::{
    ClientPath, CredentialPath, DryRun, JsonBody, Prefix, QueryParams, bad_parameter,
    cursor_parameter, limit_parameter,
};
use serde::Deserialize;

use crate::app::credentials::{ClientCredential, CredentialFilters};
use crate::app::{Caller, credentials};
use crate::domain::client::ClientId;
use crate::domain::credential::{ChangeExpiry, CreateCredential, Credential, CredentialType};
use crate::domain::page::Page;
use crate::domain::time;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/credentials", get(list_all_credentials))
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

async fn create_credential(
    State(state): State<AppState>,
    caller: Caller,
    Prefix(prefix): Prefix,
    ClientPath(client): ClientPath,
    dry_run: DryRun,
    JsonBody(request): JsonBody<CreateCredential>,
) -> Result<impl IntoResponse, ApiError> {
    let mode = dry_run.write_mode();
    let created = credentials::add(&state.app, &caller, &client, request, mode).await?;
    let location = format!("{prefix}/clients/{client}/credentials/{}", created.id);
    Ok((
        StatusCode::CREATED,
        dry_run.header(),
        [(header::LOCATION, location)],
        Json(created),
    ))
}

async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
    ClientPath(client): ClientPath,
) -> Result<Json<Vec<Credential>>, ApiError> {
    Ok(Json(credentials::list(&state.app, &caller, &client).await?))
}

async fn read_credential(
    State(state): State<AppState>,
    caller: Caller,
    CredentialPath(client, credential): CredentialPath,
) -> Result<Json<Credential>, ApiError> {
    let found = credentials::read(&state.app, &caller, &client, &credential).await?;
    Ok(Json(found))
}

async fn change_expiry(
    State(state): State<AppState>,
    caller: Caller,
    CredentialPath(client, credential): CredentialPath,
    JsonBody(request): JsonBody<ChangeExpiry>,
) -> Result<Json<Credential>, ApiError> {
    let expires_at = request.expires_at.ok_or_else(|| {
        ApiError::BadRequest(
            "send {\"expires_at\": <date-time in the future>} or {\"expires_at\": null} to clear it; nothing else can change"
                .to_owned(),
        )
    })?;
    let changed =
        credentials::change_expiry(&state.app, &caller, &client, &credential, expires_at).await?;
    Ok(Json(changed))
}

async fn delete_credential(
    State(state): State<AppState>,
    caller: Caller,
    CredentialPath(client, credential): CredentialPath,
) -> Result<StatusCode, ApiError> {
    credentials::remove(&state.app, &caller, &client, &credential).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcrossClients {
    limit: Option<u32>,
    cursor: Option<String>,
    expires_before: Option<String>,
    client_id: Option<String>,
    credential_type: Option<String>,
}

/// Credentials of every client in the tenants the token can read, each with its client and
/// tenant, by credential id.
async fn list_all_credentials(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<AcrossClients>,
) -> Result<Json<Page<ClientCredential>>, ApiError> {
    let limit = limit_parameter(query.limit)?;
    let expires_before = (query.expires_before.as_deref())
        .map(time::parse_rfc3339)
        .transpose()
        .map_err(|why| bad_parameter("expires_before", why))?;
    let client = (query.client_id.as_deref())
        .map(|id| ClientId::parse(id).map_err(|_| bad_parameter("client_id", "is not a client id")))
        .transpose()?;
    let credential_type = (query.credential_type.as_deref())
        .map(|kind| {
            CredentialType::parse(kind).map_err(|_| {
                bad_parameter(
                    "credential_type",
                    "must be public_key, x509_cert or cert_subject_dn",
                )
            })
        })
        .transpose()?;
    let cursor = cursor_parameter(query.cursor.as_deref())?;
    let filters = CredentialFilters {
        expires_before,
        client,
        credential_type,
    };
    let after = cursor.as_ref().map(|cursor| cursor.key());
    let page = credentials::list_all(&state.app, &caller, &filters, after, limit).await?;
    Ok(Json(page))
}
