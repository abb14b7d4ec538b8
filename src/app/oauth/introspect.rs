//! Introspection (RFC 7662) and revocation (RFC 7009) of the tenant's access tokens.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::authenticate::authenticate;
use super::keys::ring;
use crate::app::{App, Caller, Error, Result};
use crate::domain::client::ClientId;
use crate::domain::oauth::access_token;
use crate::domain::oauth::grant::{self, AccessClaims};
use crate::domain::oauth::request::ClientProof;
use crate::domain::tenant::TenantId;
use crate::domain::time;

/// Who asks about a token: a client of the tenant, or an admin token that may read it.
pub enum Introspector<'a> {
    Client(&'a ClientProof),
    Admin(&'a Caller),
}

/// What RFC 7662 answers: the token's claims while it is active, else exactly
/// `{"active": false}`.
pub async fn introspect(
    app: &App,
    tenant: &TenantId,
    who: Introspector<'_>,
    token: &str,
    source: Option<IpAddr>,
) -> Result<Value> {
    match who {
        Introspector::Client(proof) => {
            authenticate_caller(app, tenant, proof, source).await?;
        }
        Introspector::Admin(caller) => {
            if !caller.grants.can_verify(tenant) {
                return Err(Error::Forbidden(
                    "introspection needs secret.verify or client.read (or more) on this tenant",
                ));
            }
        }
    }
    Ok(match active(app, tenant, token).await? {
        Some(claims) => json!({
            "active": true,
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
            "token_type": "Bearer",
            "tenant": claims.tenant,
        }),
        None => json!({"active": false}),
    })
}

/// Revokes a token its own client sends; anything else is accepted and ignored (RFC 7009
/// 2.2: the answer is the same whatever the token).
pub async fn revoke(
    app: &App,
    tenant: &TenantId,
    proof: &ClientProof,
    token: &str,
    source: Option<IpAddr>,
) -> Result<()> {
    let client = authenticate_caller(app, tenant, proof, source).await?;
    let Some(claims) = active(app, tenant, token).await? else {
        return Ok(());
    };
    if claims.client_id != client.as_str() {
        return Ok(());
    }
    let Some(expires_at) = claims.expires_at() else {
        return Ok(());
    };
    app.store
        .revoke_access_token(tenant, &claims.jti, &client, expires_at)
        .await?;
    Ok(())
}

/// A confidential, enabled client of the tenant, authenticated as its `clientAuthMethod`
/// says (a client moved to private_key_jwt no longer authenticates with a leftover secret).
async fn authenticate_caller(
    app: &App,
    tenant: &TenantId,
    proof: &ClientProof,
    source: Option<IpAddr>,
) -> Result<ClientId> {
    let authenticated = authenticate(app, tenant, proof, source).await?;
    let client = &authenticated.cached.client;
    grant::check_client(client, authenticated.method)?;
    Ok(client.id.clone())
}

/// The claims of a token of this tenant that is active now: signed by a published key of
/// the tenant for its issuer, unexpired, not revoked, and of a client that exists, is
/// enabled and was created (under that id) before the token was issued. A tenant deleted
/// and created again has new keys, so its old tokens fail the first test.
async fn active(app: &App, tenant: &TenantId, token: &str) -> Result<Option<AccessClaims>> {
    let now = time::now();
    let keys = ring(app, tenant).await?;
    let issuer = app.oauth.issuer(tenant);
    let Some(claims) = access_token::read(token, &issuer, |kid| keys.published(kid, now), now)
    else {
        return Ok(None);
    };
    if claims.tenant != tenant.as_str()
        || app.store.access_token_revoked(tenant, &claims.jti).await?
    {
        return Ok(None);
    }
    let Ok(id) = ClientId::parse(&claims.client_id) else {
        return Ok(None);
    };
    let client = app.cache.client(app.store.as_ref(), &id).await?;
    let current = client.is_some_and(|cached| {
        let client = &cached.client;
        client.tenant == *tenant
            && client.settings.enabled
            && claims
                .issued_at()
                .is_some_and(|issued| issued >= client.created)
    });
    Ok(current.then_some(claims))
}
