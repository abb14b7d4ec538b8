//! The client credentials grant (RFC 6749 4.4): which clients may use it, what they may
//! ask for, and the access token (an RFC 9068 JWT) they get.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::error::{ErrorCode, OAuthError};
use super::request::Form;
use crate::domain::client::{Client, ClientAuthMethod, ClientType, GrantType};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;

pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// What a token request asks for, past its client's authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRequest {
    pub scope: Option<Vec<String>>,
    /// `audience` (Auth0) or `resource` (RFC 8707): one, at most.
    pub audience: Option<String>,
}

impl GrantRequest {
    pub fn read(form: &Form) -> Result<Self, OAuthError> {
        match form.require("grant_type")? {
            CLIENT_CREDENTIALS => {}
            other => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    format!(
                        "grant_type {other:?} is not supported here; this server issues tokens for client_credentials only"
                    ),
                ));
            }
        }
        let audience = match (form.get("audience"), form.get("resource")) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "name one audience: send audience or resource, not both",
                ));
            }
            (one, other) => one.or(other).map(str::to_owned),
        };
        let scope = form.get("scope").map(|scope| {
            scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        Ok(Self { scope, audience })
    }
}

/// How the client proved who it is, as `clientAuthMethod` names it.
pub fn check_client(client: &Client, used: ClientAuthMethod) -> Result<(), OAuthError> {
    if client.client_type() == ClientType::Public {
        return Err(OAuthError::invalid_client(
            "this client is PUBLIC and cannot authenticate; client credentials are for CONFIDENTIAL clients",
        ));
    }
    if !client.settings.enabled {
        return Err(OAuthError::invalid_client("this client is disabled"));
    }
    let method = client.settings.client_auth_method;
    if matches!(
        method,
        ClientAuthMethod::ClientSecretJwt
            | ClientAuthMethod::TlsClientAuth
            | ClientAuthMethod::SelfSignedTlsClientAuth
            | ClientAuthMethod::None
    ) {
        return Err(OAuthError::invalid_client(format!(
            "this client's clientAuthMethod {} is not supported here; use client_secret_basic, client_secret_post or private_key_jwt",
            auth_method_name(method)
        )));
    }
    if method != used {
        return Err(OAuthError::invalid_client(format!(
            "this client authenticates with {}, not {}",
            auth_method_name(method),
            auth_method_name(used)
        )));
    }
    Ok(())
}

pub fn auth_method_name(method: ClientAuthMethod) -> String {
    serde_json::to_value(method)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The claims of an RFC 9068 access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub client_id: String,
    pub aud: Value,
    pub iat: i64,
    pub exp: i64,
    /// A v7 UUID: it also tells the millisecond of issue, finer than `iat`.
    pub jti: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub tenant: String,
}

impl AccessClaims {
    /// When the token was issued, to the millisecond where its jti says so.
    pub fn issued_at(&self) -> Option<Timestamp> {
        let from_jti = Uuid::try_parse(&self.jti)
            .ok()
            .and_then(|id| id.get_timestamp())
            .map(|ts| ts.to_unix())
            .and_then(|(secs, nanos)| {
                chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
            });
        from_jti.or_else(|| chrono::DateTime::from_timestamp(self.iat, 0))
    }

    pub fn expires_at(&self) -> Option<Timestamp> {
        chrono::DateTime::from_timestamp(self.exp, 0)
    }
}

/// The token a client gets for what it asked, or why not. `max_lifetime_secs` caps the
/// client's `accessTokenValiditySeconds`.
pub fn grant(
    client: &Client,
    asked: &GrantRequest,
    issuer: &str,
    now: Timestamp,
    max_lifetime_secs: i64,
) -> Result<AccessClaims, OAuthError> {
    if !client
        .settings
        .grant_types
        .contains(&GrantType::ClientCredentials)
    {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use client_credentials: add it to the client's grantTypes",
        ));
    }
    let allowed = &client.settings.scope;
    let scope = match &asked.scope {
        None => allowed.clone(),
        Some(wanted) => {
            if let Some(unknown) = wanted.iter().find(|s| !allowed.contains(s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!(
                        "scope {unknown:?} is not one of this client's scopes ({})",
                        allowed.join(" ")
                    ),
                ));
            }
            wanted.clone()
        }
    };
    let audiences = &client.settings.audiences;
    let aud = match &asked.audience {
        Some(wanted) if audiences.contains(wanted) => Value::from(wanted.clone()),
        Some(wanted) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("audience {wanted:?} is not one of this client's audiences"),
            ));
        }
        None => match audiences.as_slice() {
            [] => Value::from(issuer),
            [one] => Value::from(one.clone()),
            many => Value::from(many.to_vec()),
        },
    };
    let lifetime = client
        .settings
        .access_token_validity_seconds
        .clamp(1, max_lifetime_secs);
    let iat = now.timestamp();
    Ok(AccessClaims {
        iss: issuer.to_owned(),
        sub: client.id.as_str().to_owned(),
        client_id: client.id.as_str().to_owned(),
        aud,
        iat,
        exp: iat + lifetime,
        jti: Uuid::now_v7().to_string(),
        scope: scope.join(" "),
        tenant: client.tenant.as_str().to_owned(),
    })
}

/// An issuer's URL for a tenant: the public URL, then `/tenants/{id}`.
pub fn issuer(public_url: &str, tenant: &TenantId) -> String {
    format!("{}/tenants/{tenant}", public_url.trim_end_matches('/'))
}
