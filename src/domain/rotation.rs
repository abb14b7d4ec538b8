//! Client secrets over their life (Stytch): the current secret, a next one while a rotation is
//! under way, verification of a presented secret, and coarse use telemetry.

use chrono::TimeDelta;
use serde::Serialize;

use super::client::{Client, ClientType};
use super::refusal::Refusal;
use super::secret::{IssuedSecret, SecretHash, SecretString};
use super::time::{Timestamp, rfc3339_millis};
use super::token::Grants;

/// How stale `last_used` may get by default: a verification records its use at most this
/// often, so that verifying is a read, not a write, nearly every time.
pub const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::minutes(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    Current,
    Next,
}

impl Slot {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Next => "next",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "current" => Ok(Self::Current),
            "next" => Ok(Self::Next),
            other => Err(format!("unknown secret slot {other:?}")),
        }
    }
}

/// A stored secret: its hash, and what an operator may see of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSecret {
    #[serde(skip)]
    pub slot: Slot,
    #[serde(skip)]
    pub hash: SecretHash,
    pub last_four: String,
    #[serde(with = "rfc3339_millis")]
    pub created: Timestamp,
    #[serde(with = "rfc3339_millis::option")]
    pub last_used: Option<Timestamp>,
}

/// A client's secrets by slot.
pub fn in_slot(secrets: &[StoredSecret], slot: Slot) -> Option<&StoredSecret> {
    secrets.iter().find(|secret| secret.slot == slot)
}

/// A rotation step; starting one brings the secret that will be next.
#[derive(Clone, Copy)]
pub enum Rotation<'a> {
    Start(&'a IssuedSecret),
    Complete,
    Cancel,
}

/// What a rotation step does to the stored secrets.
#[derive(Debug, Clone)]
pub enum SecretChange {
    /// Store a next secret beside the current one.
    Start(StoredSecret),
    /// The next secret becomes the only one; stale from `stale_at` under the client's policy.
    Complete { stale_at: Option<Timestamp> },
    /// The next secret is dropped.
    Cancel,
}

/// Decides a rotation step under the client's lock.
pub fn decide_rotation(
    client: &Client,
    secrets: &[StoredSecret],
    step: Rotation<'_>,
    grants: &Grants,
    now: Timestamp,
) -> Result<SecretChange, Refusal> {
    super::client::writable(client, grants)?;
    if client.client_type() == ClientType::Public {
        return Err(Refusal::Conflict(
            "a PUBLIC client (spa, native) has no secret to rotate".to_owned(),
        ));
    }
    let rotating = in_slot(secrets, Slot::Next).is_some();
    match (step, rotating) {
        (Rotation::Start(_), true) => Err(Refusal::Conflict(
            "a rotation is already under way: complete or cancel it first".to_owned(),
        )),
        (Rotation::Start(next), false) => Ok(SecretChange::Start(StoredSecret {
            slot: Slot::Next,
            hash: next.hash,
            last_four: next.last_four.clone(),
            created: now,
            last_used: None,
        })),
        (Rotation::Complete | Rotation::Cancel, false) => Err(Refusal::Conflict(
            "no rotation is under way: start one first".to_owned(),
        )),
        (Rotation::Complete, true) => Ok(SecretChange::Complete {
            stale_at: (in_slot(secrets, Slot::Next))
                .and_then(|next| client.settings.secret_policy.stale_at(next.created)),
        }),
        (Rotation::Cancel, true) => Ok(SecretChange::Cancel),
    }
}

/// The secrets after `change`, as the store will hold them.
pub fn after(secrets: &[StoredSecret], change: &SecretChange) -> Vec<StoredSecret> {
    let mut secrets = secrets.to_vec();
    match change {
        SecretChange::Start(next) => secrets.push(next.clone()),
        SecretChange::Complete { .. } => {
            secrets.retain(|s| s.slot == Slot::Next);
            secrets.iter_mut().for_each(|s| s.slot = Slot::Current);
        }
        SecretChange::Cancel => secrets.retain(|s| s.slot == Slot::Current),
    }
    secrets
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    #[error("the client is disabled: its secrets do not verify")]
    Disabled,
    #[error("the secret does not match this client's current or next secret")]
    Mismatch,
}

/// Which secret `presented` is. Every stored hash is compared, in constant time, whatever
/// matched, so timing tells nothing about which slot (if any) matched.
pub fn verify(
    client: &Client,
    secrets: &[StoredSecret],
    presented: &SecretString,
) -> Result<Slot, VerifyFailure> {
    let matched = secrets
        .iter()
        .map(|secret| (secret.slot, secret.hash.matches(presented)))
        .fold(
            None,
            |found, (slot, matches)| if matches { Some(slot) } else { found },
        );
    if !client.settings.enabled {
        return Err(VerifyFailure::Disabled);
    }
    matched.ok_or(VerifyFailure::Mismatch)
}

/// Whether a use at `now` is worth writing down, when uses are recorded every `granularity`.
pub fn use_is_news(last_used: Option<Timestamp>, now: Timestamp, granularity: TimeDelta) -> bool {
    last_used.is_none_or(|at| now - at >= granularity)
}

#[cfg(test)]
mod tests;
