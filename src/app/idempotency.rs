//! Idempotency keys (the IETF httpapi draft): a retried create or rotation gets the first
//! answer again instead of making a second client, token or secret.
//!
//! A request claims its key before it runs, and settles it after: its answer kept for a
//! retry, or the key released after a failure. The claim, the request and the settling
//! belong together: whoever runs them runs them to the end, whatever the caller does.

use std::sync::Arc;

use chrono::TimeDelta;
use uuid::Uuid;

use super::cache::CachedClient;
use super::{App, Caller, Result};
use crate::domain::audit::Event;
use crate::domain::change::Actor;
use crate::domain::client::ClientId;
use crate::domain::time;
use crate::store::{Claim, ClaimDeadlines};

/// An answer kept for replay: never a secret or token text (the caller strips them).
pub use crate::store::StoredAnswer;

/// How long a key is remembered.
pub const LIFETIME: TimeDelta = TimeDelta::hours(24);

/// The longest key taken.
pub const MAX_KEY: usize = 255;

/// Keys are the caller's own: two tokens may use the same key for different requests.
fn actor_key(actor: &Actor) -> String {
    match actor {
        Actor::Token { id, .. } => format!("token:{id}"),
        Actor::Bootstrap => "bootstrap".to_owned(),
        Actor::Cli => "cli".to_owned(),
        Actor::Server => "server".to_owned(),
        Actor::Autopilot => "autopilot".to_owned(),
    }
}

/// The fields of an answer that hold a secret or a token text, which a replay leaves out.
pub const SECRET_FIELDS: [&str; 3] = ["secret", "token", "next_client_secret"];

/// What claiming a key found.
pub enum KeyClaim {
    /// The key was free (new, expired, or its first request abandoned before its change
    /// committed): this request holds it and goes ahead.
    Held(HeldKey),
    /// The first request with this key is still running.
    Running,
    /// The key was used for another request.
    Mismatch,
    /// The first request's answer, as kept.
    Replay(StoredAnswer),
    /// The first request's change committed, but its answer was never kept: the change's
    /// event is what a retry can be told.
    Committed(Box<Event>),
}

/// Claims `key` for the caller's request, which `request_hash` identifies. The claim is a
/// transaction of its own: run it where a caller who hangs up cannot drop it half-way.
pub async fn claim(
    app: &App,
    caller: &Caller,
    key: String,
    request_hash: &[u8],
) -> Result<KeyClaim> {
    let actor = actor_key(&caller.change.actor);
    let now = time::now();
    let deadlines = ClaimDeadlines {
        now,
        expired: now - LIFETIME,
        abandoned: now - app.abandoned_after,
    };
    let id = Uuid::now_v7();
    let claim = (app.store)
        .claim_idempotency_key(&actor, &key, request_hash, id, deadlines)
        .await?;
    Ok(match claim {
        Claim::Claimed => KeyClaim::Held(HeldKey { actor, key, id }),
        Claim::Running => KeyClaim::Running,
        Claim::Mismatch => KeyClaim::Mismatch,
        Claim::Replay(answer) => KeyClaim::Replay(answer),
        Claim::Committed(event) => KeyClaim::Committed(event),
    })
}

/// A key a request holds, until its answer is kept or the key released.
pub struct HeldKey {
    actor: String,
    key: String,
    id: Uuid,
}

impl HeldKey {
    /// The claim's id, which the change's event takes: the proof, in the change's own
    /// transaction, that it committed.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Keeps a success's answer for replay. A record that could not be kept is logged, never
    /// turned into an error for a change that was made: a retry is answered from its event.
    pub async fn keep(self, app: &App, answer: &StoredAnswer) {
        let kept = (app.store)
            .complete_idempotency_key(&self.actor, &self.key, self.id, answer)
            .await;
        if let Err(error) = kept {
            tracing::warn!(%error, "could not keep an idempotent answer; a retry is answered from the change's event");
        }
    }

    /// Releases the key after a failure (unless its change committed all the same, as one
    /// overtaken by the request timeout may have), so a retry tries again.
    pub async fn release(self, app: &App) {
        let released = (app.store)
            .release_idempotency_key(&self.actor, &self.key, self.id)
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "could not release an idempotency key");
        }
    }
}

/// The client a committed rotation was about, as it is now (None when it is gone), for the
/// answer to a retry whose first answer was lost.
pub async fn rotated_client(app: &App, id: &ClientId) -> Result<Option<Arc<CachedClient>>> {
    Ok(app.cache.client(app.store.as_ref(), id).await?)
}
