//! When secrets (and admin tokens) were last used, written off the request path: a verification notes the use,
//! and `record` writes what was noted, once a second, one write per secret. A secret is
//! known by its hash, so a use noted before a rotation step is written to the secret used.
//!
//! A use is noted only when it is news (the stored time is a minute old or more, or there is
//! none), so a secret's time is written at most about once a minute. What could not be
//! written is kept for the next round: the first use of a new secret is never lost.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

use super::App;
use crate::domain::client::ClientId;
use crate::domain::secret::SecretHash;
use crate::domain::time::Timestamp;
use crate::store::Change;

#[derive(Default)]
pub struct SecretUses {
    noted: Mutex<HashMap<(ClientId, SecretHash), Timestamp>>,
    /// Admin tokens' uses, recorded alike for `GET /tokens`.
    tokens: Mutex<HashMap<Uuid, Timestamp>>,
}

impl SecretUses {
    /// Notes a use at `at`; a use noted earlier and not yet written stands.
    pub fn note(&self, client: &ClientId, secret: SecretHash, at: Timestamp) {
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        noted.entry((client.clone(), secret)).or_insert(at);
    }

    /// Notes a use of the admin token `id` at `at`, likewise.
    pub fn note_token(&self, id: Uuid, at: Timestamp) {
        let mut noted = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        noted.entry(id).or_insert(at);
    }

    fn take(&self) -> HashMap<(ClientId, SecretHash), Timestamp> {
        std::mem::take(&mut *self.noted.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn take_tokens(&self) -> HashMap<Uuid, Timestamp> {
        std::mem::take(&mut *self.tokens.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Writes every noted use, and drops each client written from the cache so its next read
/// shows the time. A use that fails to be written is noted again.
pub(super) async fn record(app: &App) {
    let mut written = Vec::new();
    for ((client, secret), at) in app.secret_uses.take() {
        let since = at - app.autopilot.granularity;
        let written_now = app
            .store
            .record_secret_use(&client, &secret, at, since)
            .await;
        app.cache.forget(&Change::Client(client.clone()));
        written.push(Change::Client(client.clone()));
        if let Err(error) = written_now {
            tracing::warn!(%error, client = %client.as_str(), "could not record a secret's use; will retry");
            app.secret_uses.note(&client, secret, at);
        }
    }
    // No event records a use: the other replicas hear of it in the notice.
    if !written.is_empty()
        && let Err(error) = app.store.announce(&written).await
    {
        tracing::debug!(%error, "could not announce recorded uses; other replicas show them later");
    }
    for (token, at) in app.secret_uses.take_tokens() {
        let since = at - app.autopilot.granularity;
        let written = app.store.record_token_use(token, at, since).await;
        app.cache.forget(&Change::Token(token));
        if let Err(error) = written {
            tracing::warn!(%error, %token, "could not record an admin token's use; will retry");
            app.secret_uses.note_token(token, at);
        }
    }
}

/// `record`, once a second, until `stop` says so; a round under way is finished first, so
/// what it took is written (the caller records once more after the last request).
pub(super) async fn record_every_second(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => record(&app).await,
            _ = async { stop.wait_for(|stop| *stop).await.is_ok() } => return,
        }
    }
}
