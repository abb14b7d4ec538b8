//! Each tenant's authorization server (DESIGN 15): the token, introspection and revocation
//! endpoints, JWKS, RFC 8414 metadata, and the admin routes of its signing keys. The OAuth
//! routes take no admin token (but introspection may); their refusals are RFC 6749 JSON.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, FromRequestParts, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::AnyToken;
use super::auth::require_deliberate;
use super::error::ApiError;
use super::extract::{NO_STORE, QueryParams, TenantPath};
use super::throttle::SourceAddress;
use crate::app::{Caller, oauth};
use crate::domain::client::ClientAuthMethod;
use crate::domain::credential::Alg;
use crate::domain::oauth::OAuthError;
use crate::domain::oauth::assertion::JWT_BEARER;
use crate::domain::oauth::grant::{GrantRequest, auth_method_name};
use crate::domain::oauth::request::{ClientProof, Form};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants/{tenant_id}/oauth2/token", post(token))
        .route("/tenants/{tenant_id}/oauth2/jwks.json", get(jwks))
        .route("/tenants/{tenant_id}/oauth2/introspect", post(introspect))
        .route("/tenants/{tenant_id}/oauth2/revoke", post(revoke))
        .route(
            "/.well-known/oauth-authorization-server/tenants/{tenant_id}",
            get(metadata),
        )
        .route(
            "/tenants/{tenant_id}/.well-known/oauth-authorization-server",
            get(metadata),
        )
        .route("/tenants/{tenant_id}/signing-keys", get(list_keys))
        .route(
            "/tenants/{tenant_id}/signing-keys/rotate",
            post(rotate_keys),
        )
}

const FORM: &str = "application/x-www-form-urlencoded";
/// JWKS and metadata change rarely and are public: resource servers may keep them a while,
/// and fetch JWKS again on a kid they do not know.
const PUBLIC_CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "public, max-age=300");
const AUTH_METHODS: [ClientAuthMethod; 3] = [
    ClientAuthMethod::ClientSecretBasic,
    ClientAuthMethod::ClientSecretPost,
    ClientAuthMethod::PrivateKeyJwt,
];

/// The credentials after `Basic `, if `Authorization` is Basic; any other scheme is refused,
/// for an admin token does not authenticate a client.
fn basic(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default().trim();
    match value.split_once(' ') {
        Some((scheme, credentials)) if scheme.eq_ignore_ascii_case("basic") => {
            Ok(Some(credentials.trim()))
        }
        _ => Err(OAuthError::invalid_client(
            "this endpoint authenticates clients: send Authorization: Basic with client_id:client_secret (an admin token is not taken here)",
        )),
    }
}

/// The parameters of a form body; anything else is refused, as RFC 6749 3.2 asks.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
    let is_form = (headers.get(header::CONTENT_TYPE))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(FORM));
    if !is_form {
        return Err(OAuthError::invalid_request(format!(
            "send the parameters as a form body, with Content-Type: {FORM}"
        )));
    }
    Form::parse(body)
}

/// A client's request: its form and how it authenticates.
fn client_request(headers: &HeaderMap, body: &[u8]) -> Result<(Form, ClientProof), OAuthError> {
    let form = form(headers, body)?;
    let proof = ClientProof::read(basic(headers)?, &form)?;
    Ok((form, proof))
}

/// A refusal, challenging for Basic when the client used it.
fn refused(error: impl Into<ApiError>, headers: &HeaderMap) -> Response {
    match error.into() {
        ApiError::OAuth { error, .. } => ApiError::OAuth {
            error,
            basic: matches!(basic(headers), Ok(Some(_))),
        }
        .into_response(),
        other => other.into_response(),
    }
}

async fn token(
    State(state): State<AppState>,
    TenantPath(tenant): TenantPath,
    source: Option<Extension<SourceAddress>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let (form, proof) = client_request(&headers, &body)?;
        let asked = GrantRequest::read(&form)?;
        let source = source.map(|Extension(source)| source.0);
        Ok::<_, ApiError>(oauth::issue(&state.app, &tenant, &proof, &asked, source).await?)
    };
    match answer.await {
        Ok(issued) => ([NO_STORE, (header::PRAGMA, "no-cache")], Json(issued)).into_response(),
        Err(error) => refused(error, &headers),
    }
}

async fn jwks(State(state): State<AppState>, TenantPath(tenant): TenantPath) -> Response {
    match oauth::jwks(&state.app, &tenant).await {
        Ok(jwks) => (
            [PUBLIC_CACHE, (header::CONTENT_TYPE, "application/json")],
            jwks,
        )
            .into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

async fn introspect(
    State(state): State<AppState>,
    TenantPath(tenant): TenantPath,
    source: Option<Extension<SourceAddress>>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let headers = parts.headers.clone();
    let answer = async {
        let bearer = (headers.get(header::AUTHORIZATION))
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("bearer ")
            });
        // An admin token is checked before the body is read, as on the admin API.
        let admin = match bearer {
            true => Some(AnyToken::from_request_parts(&mut parts, &state).await?.0),
            false => None,
        };
        let body = axum::body::to_bytes(body, state.body_limit_bytes)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        let form = form(&headers, &body)?;
        let token = form.require("token")?.to_owned();
        let source = source.map(|Extension(source)| source.0);
        let answer = match &admin {
            // An admin token authenticates the request; client parameters beside it are
            // ignored, but still must be well-formed.
            Some(_)
                if form
                    .get("client_assertion_type")
                    .is_some_and(|kind| kind != JWT_BEARER) =>
            {
                return Err(OAuthError::invalid_request(format!(
                    "client_assertion_type must be {JWT_BEARER}"
                ))
                .into());
            }
            Some(caller) => {
                let who = oauth::Introspector::Admin(caller);
                oauth::introspect(&state.app, &tenant, who, &token, source).await?
            }
            None => {
                let proof = ClientProof::read(basic(&headers)?, &form)?;
                let who = oauth::Introspector::Client(&proof);
                oauth::introspect(&state.app, &tenant, who, &token, source).await?
            }
        };
        Ok::<Value, ApiError>(answer)
    };
    match answer.await {
        Ok(answer) => ([NO_STORE], Json(answer)).into_response(),
        Err(error) => refused(error, &headers),
    }
}

async fn revoke(
    State(state): State<AppState>,
    TenantPath(tenant): TenantPath,
    source: Option<Extension<SourceAddress>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        let (form, proof) = client_request(&headers, &body)?;
        let token = form.require("token")?;
        let source = source.map(|Extension(source)| source.0);
        oauth::revoke(&state.app, &tenant, &proof, token, source).await?;
        Ok::<_, ApiError>(())
    };
    match answer.await {
        Ok(()) => ([NO_STORE], Json(json!({}))).into_response(),
        Err(error) => refused(error, &headers),
    }
}

/// RFC 8414 metadata of the tenant's authorization server.
async fn metadata(
    State(state): State<AppState>,
    TenantPath(tenant): TenantPath,
) -> Result<impl IntoResponse, ApiError> {
    oauth::require_tenant(&state.app, &tenant).await?;
    let issuer = state.app.oauth().issuer(&tenant);
    let methods: Vec<String> = AUTH_METHODS.into_iter().map(auth_method_name).collect();
    let algs: Vec<&str> = [Alg::RS256, Alg::RS384, Alg::PS256]
        .map(Alg::as_str)
        .to_vec();
    let document = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/oauth2/jwks.json"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
    });
    Ok(([PUBLIC_CACHE], Json(document)))
}

async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    TenantPath(tenant): TenantPath,
) -> Result<Json<Value>, ApiError> {
    let keys = oauth::signing_keys(&state.app, &caller, &tenant).await?;
    Ok(Json(json!({ "keys": keys })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateParams {
    immediate: Option<bool>,
}

async fn rotate_keys(
    State(state): State<AppState>,
    caller: Caller,
    TenantPath(tenant): TenantPath,
    QueryParams(params): QueryParams<RotateParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_deliberate(&headers, &body)?;
    let immediate = params.immediate.unwrap_or(false);
    let keys = oauth::rotate_keys(&state.app, &caller, &tenant, immediate).await?;
    Ok(Json(json!({ "keys": keys })))
}

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        Self::OAuth {
            error,
            basic: false,
        }
    }
}
