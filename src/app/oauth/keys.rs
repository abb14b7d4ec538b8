//! Each tenant's signing keys: made on first use, opened into memory, rotated on schedule
//! or on request (`immediate` for a compromise), published as JWKS.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::OAuthConfig;
use crate::app::{App, Caller, Error, Result};
use crate::domain::Missing;
use crate::domain::audit::{Action, Event};
use crate::domain::change::{Actor, ChangeContext};
use crate::domain::oauth::keys::{self, KeyState, Rotation, SigningKey, Why};
use crate::domain::oauth::seal::Sealer;
use crate::domain::oauth::signing::{KeyError, KeyPair};
use crate::domain::refusal::Refusal;
use crate::domain::tenant::TenantId;
use crate::domain::time::{self, Timestamp};
use crate::store::Change;

/// A tenant's keys as memory holds them: the stored rows, each published key opened, and
/// the JWKS document.
pub struct KeyRing {
    keys: Vec<SigningKey>,
    opened: Vec<(String, KeyPair)>,
    pub jwks: Bytes,
}

impl KeyRing {
    fn open(keys: Vec<SigningKey>, sealer: &Sealer, now: Timestamp) -> Result<Self> {
        let mut opened = Vec::new();
        let mut published = Vec::new();
        for key in keys.iter().filter(|key| key.is_published(now)) {
            let pair = (sealer.open(&key.sealed, &bound_to(&key.tenant, &key.kid)))
                .map_err(|why| Error::TokensUnavailable(why.to_string()))
                .and_then(|pkcs8| KeyPair::from_pkcs8(key.alg, &pkcs8).map_err(key_fault));
            match pair {
                Ok(pair) => {
                    opened.push((key.kid.clone(), pair));
                    published.push(key.public_jwk.clone());
                }
                // Without the signing key no token can be issued: say why.
                Err(error) if key.state == KeyState::Current => return Err(error),
                // A key that only verifies is left out, loudly, rather than stop the tenant.
                Err(error) => {
                    tracing::error!(tenant = %key.tenant, kid = %key.kid, %error, "a signing key cannot be opened; it is left out of JWKS until CLIENTD_KEY_ENCRYPTION_KEYS opens it again");
                }
            }
        }
        let jwks = serde_json::to_vec(&json!({ "keys": published }))
            .map_err(|e| Error::TokensUnavailable(e.to_string()))?;
        Ok(Self {
            keys,
            opened,
            jwks: Bytes::from(jwks),
        })
    }

    /// The key that signs now, with its kid.
    pub(super) fn current(&self) -> Option<(&str, &KeyPair)> {
        let current = self
            .keys
            .iter()
            .find(|key| key.state == KeyState::Current)?;
        self.pair(&current.kid)
            .map(|pair| (current.kid.as_str(), pair))
    }

    /// A key that may have signed a token still valid at `now`.
    pub(super) fn published(&self, kid: &str, now: Timestamp) -> Option<&KeyPair> {
        let key = self.keys.iter().find(|key| key.kid == kid)?;
        key.is_published(now).then(|| self.pair(kid)).flatten()
    }

    fn pair(&self, kid: &str) -> Option<&KeyPair> {
        (self.opened.iter())
            .find(|(opened, _)| opened == kid)
            .map(|(_, pair)| pair)
    }

    fn due(&self, config: &OAuthConfig, now: Timestamp) -> bool {
        keys::is_due(&self.keys, config.policy, now)
    }
}

fn bound_to(tenant: &TenantId, kid: &str) -> String {
    format!("{tenant}/{kid}")
}

fn key_fault(error: KeyError) -> Error {
    Error::TokensUnavailable(error.to_string())
}

fn sealer(app: &App) -> Result<Arc<Sealer>> {
    app.oauth.sealer.clone().ok_or_else(|| {
        Error::TokensUnavailable(
            "tokens need signing keys, sealed at rest: set CLIENTD_KEY_ENCRYPTION_KEYS (comma-separated secrets of at least 32 characters; try openssl rand -hex 32)".to_owned(),
        )
    })
}

/// The tenant's keys, made on first use and rotated when due (a change made once whatever
/// the number of replicas asking: the store applies it only to the keys it was decided on).
pub(super) async fn ring(app: &App, tenant: &TenantId) -> Result<Arc<KeyRing>> {
    let sealer = sealer(app)?;
    let now = time::now();
    let load = || {
        app.cache.key_ring(app.store.as_ref(), tenant, |keys| {
            KeyRing::open(keys, &sealer, now)
        })
    };
    let ring = load().await?;
    if !ring.due(&app.oauth, now) {
        return Ok(ring);
    }
    let by_server = ChangeContext::without_request(Actor::Server);
    change_keys(app, tenant, None, &by_server).await?;
    load().await
}

/// JWKS: every published key of the tenant.
pub async fn jwks(app: &App, tenant: &TenantId) -> Result<Bytes> {
    Ok(ring(app, tenant).await?.jwks.clone())
}

/// Refuses a tenant that does not exist, for the routes anyone may read (metadata).
pub async fn require_tenant(app: &App, tenant: &TenantId) -> Result<()> {
    match app.store.tenant(tenant).await? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound(Missing::Tenant)),
    }
}

/// The tenant's keys, without private material. Read permission on the tenant.
pub async fn signing_keys(
    app: &App,
    caller: &Caller,
    tenant: &TenantId,
) -> Result<Vec<SigningKey>> {
    caller.require_read(tenant)?;
    if app.store.tenant(tenant).await?.is_none() {
        return Err(Error::NotFound(Missing::Tenant));
    }
    Ok(app.store.signing_keys(tenant).await?)
}

/// Makes the next key current now; `immediate` also retires the current key at once, so its
/// tokens stop being valid. Write permission on the tenant.
pub async fn rotate_keys(
    app: &App,
    caller: &Caller,
    tenant: &TenantId,
    immediate: bool,
) -> Result<Vec<SigningKey>> {
    caller.require_read(tenant)?;
    if !caller.grants.can_write(tenant) {
        return Err(Refusal::Forbidden(
            "rotating signing keys needs write permission on the tenant",
        )
        .into());
    }
    sealer(app)?;
    let asked = if immediate {
        Rotation::Immediate
    } else {
        Rotation::Planned
    };
    change_keys(app, tenant, Some(asked), &caller.change).await?;
    Ok(app.store.signing_keys(tenant).await?)
}

/// Decides on the keys as stored and writes the change if they are still as read; an asked
/// rotation that lost a race is decided again, a scheduled one is done by the winner.
async fn change_keys(
    app: &App,
    tenant: &TenantId,
    asked: Option<Rotation>,
    context: &ChangeContext,
) -> Result<()> {
    let config = &app.oauth;
    // Whoever waited here finds the keys another request just made, and makes none.
    let _one_at_a_time = config.key_changes.lock().await;
    for _ in 0..3 {
        let keys = app.store.signing_keys(tenant).await?;
        // A tenant without keys may not exist: a read tells, before any write begins (on
        // SQLite a write takes the database's one lock, which no stranger may hold).
        if keys.is_empty() {
            require_tenant(app, tenant).await?;
        }
        let (sealer, alg, policy, owner) = (
            sealer(app)?,
            config.signing_alg,
            config.policy,
            tenant.clone(),
        );
        let now = time::now();
        // Making an RSA key takes a while: off the request threads.
        let decided = tokio::task::spawn_blocking(move || {
            keys::decide(&keys, asked, policy, now, |state| {
                fresh(&owner, state, alg, &sealer, now)
            })
            .map(|change| change.map(|change| (change.outcome(&keys), change)))
        })
        .await
        .map_err(|e| Error::TokensUnavailable(format!("making a signing key failed: {e}")))??;
        let Some((outcome, change)) = decided else {
            return Ok(());
        };
        let action = match change.why {
            Why::FirstUse => Action::SigningKeyCreate,
            _ => Action::SigningKeyRotate,
        };
        let current = outcome["current"].as_str().unwrap_or_default().to_owned();
        let event = Event::new(
            context,
            action,
            Some(tenant),
            &current,
            format!("/tenants/{tenant}/signing-keys"),
        )
        .with_document(&outcome);
        let _forget = app.cache.forget_after(Change::SigningKeys(tenant.clone()));
        if app
            .store
            .change_signing_keys(tenant, &change, &event)
            .await?
            || asked.is_none()
        {
            return Ok(());
        }
    }
    Err(Error::Conflict(
        "the tenant's signing keys kept changing under this rotation; send it again",
    ))
}

fn fresh(
    tenant: &TenantId,
    state: KeyState,
    alg: crate::domain::oauth::signing::SigningAlg,
    sealer: &Sealer,
    now: Timestamp,
) -> Result<SigningKey> {
    let generated = KeyPair::generate(alg).map_err(key_fault)?;
    let public_jwk = generated.pair.public_jwk().map_err(key_fault)?;
    let kid = public_jwk["kid"].as_str().unwrap_or_default().to_owned();
    let sealed = sealer
        .seal(&generated.pkcs8, &bound_to(tenant, &kid))
        .map_err(|why| Error::TokensUnavailable(why.to_string()))?;
    Ok(SigningKey {
        tenant: tenant.clone(),
        kid,
        alg,
        state,
        public_jwk,
        sealed,
        created: now,
        activated: (state == KeyState::Current).then_some(now),
        deactivated: None,
        published_until: None,
    })
}
