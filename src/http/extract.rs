//! Request extractors whose rejections are problems that say what to change.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Path, Query, Request};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::client::ClientId;
use crate::domain::page::{Cursor, Limit, MAX_LIMIT};
use crate::domain::tenant::TenantId;
use crate::domain::{Missing, json};

/// For answers that carry a secret or a token text: no cache may keep them (RFC 6749 5.1).
pub const NO_STORE: (axum::http::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// A JSON request body. Unknown fields and malformed JSON are 400; a value of the wrong type
/// is 422 pointing at it.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".to_owned(),
            ));
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                    _ => ApiError::BadRequest(rejection.body_text()),
                })?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = (content_type.to_str().unwrap_or(""))
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = json::fit(&mut deserializer).map_err(|error| {
        if error.inner().is_data() {
            ApiError::from_misfit(json::misfit(&error))
        } else {
            ApiError::BadRequest(format!("the body is not valid JSON: {}", error.inner()))
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::BadRequest(format!("the body is not valid JSON: {error}")))?;
    Ok(value)
}

/// A route's query parameters, `T`. A parameter the route does not take (serde names the
/// ones it does) or a value not of its type is a 400 worded alike on every route.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(params) =
            Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| {
                    ApiError::BadRequest(format!(
                        "the query does not fit this route ({})",
                        rejection.body_text()
                    ))
                })?;
        Ok(Self(params))
    }
}

/// One wording for a query parameter whose value cannot be used: its name, then why.
pub fn bad_parameter(name: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("{name}: {why}"))
}

/// `?limit=` of a listing, or the default page size.
pub fn limit_parameter(limit: Option<u32>) -> Result<Limit, ApiError> {
    Limit::parse(limit).map_err(|_| {
        bad_parameter(
            "limit",
            format!("must be a whole number from 1 to {MAX_LIMIT}"),
        )
    })
}

/// `?cursor=` of a listing: the first page when absent or empty.
pub fn cursor_parameter(cursor: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    Cursor::parse(cursor.unwrap_or(""))
        .map_err(|_| bad_parameter("cursor", "must not hold control characters"))
}

/// `?limit=&cursor=` of a list endpoint.
pub struct Paging {
    pub limit: Limit,
    pub cursor: Option<Cursor>,
}

#[derive(Deserialize)]
struct RawPaging {
    limit: Option<u32>,
    cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryParams(raw) = QueryParams::<RawPaging>::from_request_parts(parts, state).await?;
        Ok(Self {
            limit: limit_parameter(raw.limit)?,
            cursor: cursor_parameter(raw.cursor.as_deref())?,
        })
    }
}

/// The path prefix (`/v1` or nothing) the caller used, so links point where they came from.
pub struct Prefix(pub &'static str);

impl<S: Send + Sync> FromRequestParts<S> for Prefix {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let path = (parts.extensions.get::<OriginalUri>())
            .map(|uri| uri.path())
            .unwrap_or(parts.uri.path());
        Ok(Self(if path.starts_with("/v1/") { "/v1" } else { "" }))
    }
}

/// The path's `{client_id}`, parsed; an id that cannot be one is a client that does not exist.
pub struct ClientPath(pub ClientId);

/// The path's `{client_id}` and `{credential_id}`.
pub struct CredentialPath(pub ClientId, pub String);

/// The path's `{tenant_id}`, parsed.
pub struct TenantPath(pub TenantId);

#[derive(Deserialize)]
struct PathIds {
    client_id: Option<String>,
    credential_id: Option<String>,
    tenant_id: Option<String>,
}

async fn path_ids<S: Send + Sync>(parts: &mut Parts, state: &S) -> PathIds {
    (Path::<PathIds>::from_request_parts(parts, state).await)
        .map(|Path(ids)| ids)
        .unwrap_or(PathIds {
            client_id: None,
            credential_id: None,
            tenant_id: None,
        })
}

fn client_id(text: Option<String>) -> Result<ClientId, ApiError> {
    (text.as_deref())
        .and_then(|text| ClientId::parse(text).ok())
        .ok_or(ApiError::NotFound(Missing::Client))
}

impl<S: Send + Sync> FromRequestParts<S> for ClientPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Self(client_id(path_ids(parts, state).await.client_id)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CredentialPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ids = path_ids(parts, state).await;
        let credential = (ids.credential_id).ok_or(ApiError::NotFound(Missing::Credential))?;
        Ok(Self(client_id(ids.client_id)?, credential))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TenantPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        (path_ids(parts, state).await.tenant_id.as_deref())
            .and_then(|text| TenantId::parse(text).ok())
            .map(Self)
            .ok_or(ApiError::NotFound(Missing::Tenant))
    }
}

/// `?dry_run=true` of a route that can rehearse a change. Any other query parameter is a
/// 400, so that a misspelt `dryrun=true` cannot make the change for real.
pub struct DryRun(pub bool);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDryRun {
    dry_run: Option<bool>,
}

impl<S: Send + Sync> FromRequestParts<S> for DryRun {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryParams(raw) = QueryParams::<RawDryRun>::from_request_parts(parts, state).await?;
        Ok(Self(raw.dry_run.unwrap_or(false)))
    }
}

impl DryRun {
    /// The dry-run flag of a request's query, or None when the query is not one.
    pub fn of(uri: &axum::http::Uri) -> Option<Self> {
        let Query(raw) = Query::<RawDryRun>::try_from_uri(uri).ok()?;
        Some(Self(raw.dry_run.unwrap_or(false)))
    }

    pub fn write_mode(&self) -> crate::app::WriteMode {
        if self.0 {
            crate::app::WriteMode::DryRun
        } else {
            crate::app::WriteMode::Apply
        }
    }

    /// `Dry-Run: true` on the answer to a rehearsal, nothing otherwise.
    pub fn header(&self) -> Option<[(axum::http::HeaderName, &'static str); 1]> {
        self.0
            .then_some([(axum::http::HeaderName::from_static("dry-run"), "true")])
    }
}

/// `?limit=&cursor=&filters=&sorters=&count=` of a client listing (SailPoint's collection
/// parameters). Any other parameter is a 400, so that a misspelt `filter=` cannot quietly
/// list everything.
pub struct ClientListing(pub crate::app::clients::Listing);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListing {
    limit: Option<u32>,
    cursor: Option<String>,
    filters: Option<String>,
    sorters: Option<String>,
    count: Option<bool>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientListing {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use crate::domain::query::{ClientFilter, Position, Sorter};
        let QueryParams(raw) = QueryParams::<RawListing>::from_request_parts(parts, state).await?;
        let limit = limit_parameter(raw.limit)?;
        let filter = (raw.filters.as_deref())
            .map(ClientFilter::parse)
            .transpose()
            .map_err(|why| bad_parameter("filters", why))?
            .unwrap_or_default();
        let sorter = (raw.sorters.as_deref())
            .map(Sorter::parse)
            .transpose()
            .map_err(|why| bad_parameter("sorters", why))?
            .unwrap_or_default();
        let cursor = cursor_parameter(raw.cursor.as_deref())?;
        let after = (cursor.as_ref())
            .map(|cursor| Position::decode(cursor.key(), sorter))
            .transpose()
            .map_err(|why| bad_parameter("cursor", why))?;
        Ok(Self(crate::app::clients::Listing {
            filter,
            sorter,
            after,
            limit,
            count: raw.count.unwrap_or(false),
        }))
    }
}
