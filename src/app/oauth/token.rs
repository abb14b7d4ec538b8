//! `POST .../oauth2/token`: an access token for a client's credentials. Served from memory
//! (the client, its secret hashes, the tenant's opened keys); a secret writes nothing per
//! request, an assertion only its jti.

use std::net::IpAddr;

use super::authenticate::authenticate;
use super::keys::ring;
use crate::app::{App, Error, Result};
use crate::domain::oauth::access_token;
use crate::domain::oauth::grant::{self, GrantRequest};
use crate::domain::oauth::request::ClientProof;
use crate::domain::tenant::TenantId;
use crate::domain::time;

/// An issued token, as RFC 6749 5.1 answers it. No `Debug`: it is a bearer credential.
#[derive(serde::Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

pub async fn issue(
    app: &App,
    tenant: &TenantId,
    proof: &ClientProof,
    asked: &GrantRequest,
    source: Option<IpAddr>,
) -> Result<Issued> {
    // The tenant's keys first: an unknown tenant is a 404, before any client is looked at.
    let keys = ring(app, tenant).await?;
    let authenticated = authenticate(app, tenant, proof, source).await?;
    let client = &authenticated.cached.client;
    grant::check_client(client, authenticated.method)?;
    let now = time::now();
    let issuer = app.oauth.issuer(tenant);
    let claims = grant::grant(
        client,
        asked,
        &issuer,
        now,
        app.oauth.max_token_lifetime_secs,
    )?;
    let (kid, key) = keys.current().ok_or_else(|| {
        Error::TokensUnavailable("the tenant has no current signing key; try again".to_owned())
    })?;
    let access_token = access_token::sign(&claims, key, kid)
        .map_err(|why| Error::TokensUnavailable(why.to_string()))?;
    Ok(Issued {
        access_token,
        token_type: "Bearer",
        expires_in: claims.exp - claims.iat,
        scope: claims.scope,
    })
}
