//! A client proving who it is at the token, introspection and revocation endpoints, with
//! its failures limited per (client, source address): a client is never refused because a
//! caller elsewhere, or one naming another client, failed.

use std::net::IpAddr;
use std::sync::Arc;

use super::ClientKey;
use crate::app::cache::CachedClient;
use crate::app::{App, Error, Result};
use crate::domain::client::{ClientAuthMethod, ClientId, ClientType};
use crate::domain::oauth::assertion;
use crate::domain::oauth::request::ClientProof;
use crate::domain::oauth::{ErrorCode, OAuthError};
use crate::domain::rotation::{self, StoredSecret};
use crate::domain::secret::SecretString;
use crate::domain::tenant::TenantId;
use crate::domain::time;
use crate::store::UsedAssertion;

/// Said alike of an unknown client and a wrong secret, so neither tells which clients exist.
const FAILED: &str =
    "client authentication failed: no such client in this tenant, or a wrong secret";

/// A client of the tenant that proved who it is, and how it did.
pub(super) struct Authenticated {
    pub cached: Arc<CachedClient>,
    pub method: ClientAuthMethod,
}

pub(super) async fn authenticate(
    app: &App,
    tenant: &TenantId,
    proof: &ClientProof,
    source: Option<IpAddr>,
) -> Result<Authenticated> {
    let named = match proof {
        ClientProof::Assertion {
            client_id: None,
            assertion,
        } => assertion::claimed_client(assertion),
        other => other.client_id().map(str::to_owned),
    }
    .ok_or_else(|| {
        OAuthError::invalid_client(
            "client_assertion names no client: its iss must be the client id",
        )
    })?;
    let key = ClientKey::new(&named, source);
    let limit = &app.oauth.failures;
    if let Some(retry_after) = limit.refused(&key) {
        return Err(Error::TooManyClientFailures { retry_after });
    }
    match check(app, tenant, proof, &named).await {
        Err(Error::OAuth(refusal)) if refusal.code == ErrorCode::InvalidClient => {
            Err(match limit.record_failure(&key) {
                Some(retry_after) => Error::TooManyClientFailures { retry_after },
                None => Error::OAuth(refusal),
            })
        }
        other => other,
    }
}

async fn check(
    app: &App,
    tenant: &TenantId,
    proof: &ClientProof,
    named: &str,
) -> Result<Authenticated> {
    let id = ClientId::parse(named).map_err(|_| OAuthError::invalid_client(FAILED))?;
    let cached = (app.cache.client(app.store.as_ref(), &id).await?)
        .filter(|cached| cached.client.tenant == *tenant)
        .ok_or_else(|| OAuthError::invalid_client(FAILED))?;
    let method = match proof {
        ClientProof::Basic { secret, .. } => {
            check_secret(app, &cached, secret)?;
            ClientAuthMethod::ClientSecretBasic
        }
        ClientProof::Post { secret, .. } => {
            check_secret(app, &cached, secret)?;
            ClientAuthMethod::ClientSecretPost
        }
        ClientProof::Assertion { assertion, .. } => {
            check_assertion(app, tenant, &id, assertion).await?;
            ClientAuthMethod::PrivateKeyJwt
        }
        ClientProof::IdOnly { .. } if cached.client.client_type() == ClientType::Public => {
            ClientAuthMethod::None
        }
        ClientProof::IdOnly { .. } => {
            return Err(OAuthError::invalid_client(
                "the client did not authenticate: send its secret (Authorization: Basic, or client_secret) or a client_assertion",
            )
            .into());
        }
    };
    Ok(Authenticated { cached, method })
}

/// The current secret or, during a rotation, the next: each is compared, in constant time.
/// A match is noted for the rotation telemetry, as `secrets/verify` notes it.
fn check_secret(app: &App, cached: &CachedClient, presented: &SecretString) -> Result<()> {
    let matched: Option<&StoredSecret> = (cached.secrets.iter())
        .map(|secret| (secret, secret.hash.matches(presented)))
        .fold(
            None,
            |found, (secret, matches)| if matches { Some(secret) } else { found },
        );
    let secret = matched.ok_or_else(|| OAuthError::invalid_client(FAILED))?;
    let now = time::now();
    let client = &cached.client;
    if rotation::use_is_news(secret.last_used, now, app.autopilot.granularity)
        || rotation::use_is_news(client.last_used, now, app.autopilot.granularity)
    {
        app.secret_uses.note(&client.id, secret.hash, now);
    }
    Ok(())
}

async fn check_assertion(
    app: &App,
    tenant: &TenantId,
    client: &ClientId,
    presented: &str,
) -> Result<()> {
    let now = time::now();
    let credentials = app.cache.credentials(app.store.as_ref(), client).await?;
    let audiences = app.oauth.assertion_audiences(tenant);
    let verified = assertion::verify(presented, client, &credentials, &audiences, now)
        .map_err(OAuthError::invalid_client)?;
    let used = UsedAssertion {
        client: client.clone(),
        jti: verified.jti,
        expires_at: verified.expires_at,
    };
    if !app.oauth.jtis.first_use(&app.store, used).await? {
        return Err(OAuthError::invalid_client(
            "this client_assertion was used before (its jti): sign a fresh one for each request",
        )
        .into());
    }
    Ok(())
}
