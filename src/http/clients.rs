//! `/tenants/{tenantId}/clients` and `/clients/{clientId}`: create (Nexus), list, read,
//! JSON Patch (SailPoint) and delete OAuth clients.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::extract::{
    ClientListing, ClientPath, DryRun, JsonBody, NO_STORE, Prefix, TenantPath, parse_json,
};
use crate::app::clients::Listed;
use crate::app::{Caller, clients};
use crate::domain::client::{self, Client, ClientPatch, CreateClient};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/tenants/{tenant_id}/clients",
            get(list_clients).post(create_client),
        )
        .route("/clients", get(list_all_clients))
        .route(
            "/clients/{client_id}",
            get(read_client).patch(patch_client).delete(delete_client),
        )
}

async fn create_client(
    State(state): State<AppState>,
    caller: Caller,
    Prefix(prefix): Prefix,
    TenantPath(tenant): TenantPath,
    dry_run: DryRun,
    JsonBody(request): JsonBody<CreateClient>,
) -> Result<Response, ApiError> {
    let mode = dry_run.write_mode();
    let (client, secret) = clients::create(&state.app, &caller, tenant, request, mode).await?;
    let mut document = client.document_value();
    if let (Some(secret), Value::Object(fields)) = (&secret, &mut document) {
        fields.insert("secret".to_owned(), Value::from(secret.text.expose()));
    }
    let location = format!("{prefix}/clients/{}", client.id);
    let headers = [(header::LOCATION, location), (header::ETAG, client.etag())];
    let answer = (StatusCode::CREATED, [NO_STORE], headers, Json(document));
    Ok((dry_run.header(), answer).into_response())
}

async fn list_clients(
    State(state): State<AppState>,
    caller: Caller,
    TenantPath(tenant): TenantPath,
    ClientListing(listing): ClientListing,
) -> Result<Response, ApiError> {
    let listed = clients::list(&state.app, &caller, &tenant, &listing).await?;
    Ok(listing_response(&listed))
}

/// Every tenant's clients that the caller can read.
async fn list_all_clients(
    State(state): State<AppState>,
    caller: Caller,
    ClientListing(listing): ClientListing,
) -> Result<Response, ApiError> {
    let listed = clients::list_all(&state.app, &caller, &listing).await?;
    Ok(listing_response(&listed))
}

/// The page of documents, and `X-Total-Count` when the matches were counted.
fn listing_response(listed: &Listed) -> Response {
    let total =
        (listed.total).map(|total| [(HeaderName::from_static("x-total-count"), total.to_string())]);
    (total, Json(listed.page.map_ref(Client::document))).into_response()
}

async fn read_client(
    State(state): State<AppState>,
    caller: Caller,
    ClientPath(id): ClientPath,
) -> Result<Response, ApiError> {
    let cached = clients::read(&state.app, &caller, &id).await?;
    Ok(document_answer(
        cached.etag.clone(),
        cached.document.clone(),
    ))
}

async fn patch_client(
    State(state): State<AppState>,
    caller: Caller,
    ClientPath(id): ClientPath,
    dry_run: DryRun,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !is_patch_media_type(&headers) {
        return Err(ApiError::UnsupportedPatchType);
    }
    let patch = ClientPatch::parse(parse_json::<Value>(&body)?)?;
    let if_match = if_match(&headers)?;
    let mode = dry_run.write_mode();
    let client = clients::patch(&state.app, &caller, &id, &patch, if_match.as_deref(), mode);
    Ok((dry_run.header(), document_response(&client.await?)).into_response())
}

async fn delete_client(
    State(state): State<AppState>,
    caller: Caller,
    ClientPath(id): ClientPath,
) -> Result<StatusCode, ApiError> {
    clients::delete(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The client's document with its ETag, serialized once for both.
fn document_response(client: &Client) -> Response {
    let Ok(body) = serde_json::to_vec(&client.document()) else {
        return ApiError::Internal("the client document did not serialize".to_owned())
            .into_response();
    };
    document_answer(client::etag_of(&body), Bytes::from(body))
}

fn document_answer(etag: String, document: Bytes) -> Response {
    let headers = [
        (header::ETAG, etag),
        (header::CONTENT_TYPE, "application/json".to_owned()),
    ];
    (headers, document).into_response()
}

fn is_patch_media_type(headers: &HeaderMap) -> bool {
    let essence = (headers.get(header::CONTENT_TYPE))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase());
    matches!(
        essence.as_deref(),
        Some("application/json-patch+json" | "application/json")
    )
}

/// The entity tags of `If-Match`, or None when the header is absent or names none.
fn if_match(headers: &HeaderMap) -> Result<Option<Vec<String>>, ApiError> {
    let malformed = || {
        ApiError::BadRequest(
            "If-Match must be * or a comma-separated list of entity tags such as \"3f2a\" \
             (send back the ETag of a GET)"
                .to_owned(),
        )
    };
    let mut tags = Vec::new();
    for value in headers.get_all(header::IF_MATCH) {
        let value = value.to_str().map_err(|_| malformed())?;
        for tag in value
            .split(',')
            .map(str::trim)
            .filter(|tag| !tag.is_empty())
        {
            if tag != "*" && !is_entity_tag(tag) {
                return Err(malformed());
            }
            tags.push(tag.to_owned());
        }
    }
    Ok((!tags.is_empty()).then_some(tags))
}

/// `"opaque"` or `W/"opaque"` (RFC 9110 section 8.8.3).
fn is_entity_tag(tag: &str) -> bool {
    let opaque = tag.strip_prefix("W/").unwrap_or(tag);
    (opaque
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"')))
    .is_some_and(|inside| !inside.contains('"'))
}
