//! Idempotency keys (the IETF httpapi draft): a retried create or rotation gets the first
//! answer again instead of making a second client, token or secret.

use chrono::TimeDelta;

use crate::domain::change::Actor;

/// How long a key is remembered.
pub const LIFETIME: TimeDelta = TimeDelta::hours(24);

/// The longest key taken.
pub const MAX_KEY: usize = 255;

/// Keys are the caller's own: two tokens may use the same key for different requests.
pub fn actor_key(actor: &Actor) -> String {
    match actor {
        Actor::Token { id, .. } => format!("token:{id}"),
        Actor::Bootstrap => "bootstrap".to_owned(),
        Actor::Cli => "cli".to_owned(),
    }
}

/// The fields of an answer that hold a secret or a token text, which a replay leaves out.
pub const SECRET_FIELDS: [&str; 3] = ["secret", "token", "next_client_secret"];
