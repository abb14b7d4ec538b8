//! A tenant's signing keys over their life: `next` (published, not yet signing), `current`
//! (signs), `previous` (published until the last token it signed has expired) and `retired`
//! (taken out at once, for a compromise: its tokens stop being valid). As at Auth0, a tenant
//! always has a next key, so a rotation makes a key current that resource servers have
//! already fetched.

use chrono::TimeDelta;
use serde::Serialize;
use serde_json::Value;

use super::signing::SigningAlg;
use crate::domain::tenant::TenantId;
use crate::domain::time::{Timestamp, rfc3339_millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Current,
    Previous,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Previous => "previous",
            Self::Retired => "retired",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        [Self::Next, Self::Current, Self::Previous, Self::Retired]
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| format!("unknown signing key state {text:?}"))
    }
}

/// A tenant's signing key as stored: the public half as a JWK, the private half sealed.
/// What the admin API shows of it holds no private material.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SigningKey {
    #[serde(skip)]
    pub tenant: TenantId,
    pub kid: String,
    pub alg: SigningAlg,
    pub state: KeyState,
    #[serde(rename = "public_jwk")]
    pub public_jwk: Value,
    #[serde(skip)]
    pub sealed: Vec<u8>,
    #[serde(with = "rfc3339_millis")]
    pub created: Timestamp,
    /// When it began signing.
    #[serde(with = "rfc3339_millis::option")]
    pub activated: Option<Timestamp>,
    /// When it stopped signing.
    #[serde(with = "rfc3339_millis::option")]
    pub deactivated: Option<Timestamp>,
    /// A previous key is published, and its tokens valid, until then.
    #[serde(with = "rfc3339_millis::option")]
    pub published_until: Option<Timestamp>,
}

impl SigningKey {
    /// Whether JWKS lists it, and tokens it signed can be valid.
    pub fn is_published(&self, now: Timestamp) -> bool {
        match self.state {
            KeyState::Next | KeyState::Current => true,
            KeyState::Previous => self.published_until.is_some_and(|until| until > now),
            KeyState::Retired => false,
        }
    }
}

/// How keys age: how long one signs before it is rotated out, and how long any token it
/// signed can live (so how long it stays published once it stops signing).
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    pub rotation_period: TimeDelta,
    pub max_token_lifetime: TimeDelta,
}

/// A rotation someone asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The next key signs from now; the current one stays published for its tokens.
    Planned,
    /// As planned, but the current key is retired at once: its tokens stop being valid.
    Immediate,
}

/// A change to a tenant's keys, decided on the keys as read. The store applies it only if
/// the current key is still `expected_current` (so of replicas deciding the same scheduled
/// rotation at once, one does it).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyChange {
    pub expected_current: Option<String>,
    /// The current key, stepping down.
    pub demote: Option<Demotion>,
    /// The next key, which signs from now.
    pub promote: Option<String>,
    pub insert: Vec<SigningKey>,
    pub at: Timestamp,
    pub why: Why,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Demotion {
    pub kid: String,
    pub state: KeyState,
    pub published_until: Timestamp,
}

/// Why keys change, as the audit trail says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The tenant's first keys.
    FirstUse,
    /// The current key is older than the rotation period.
    Scheduled,
    Requested,
    RequestedImmediate,
}

impl KeyChange {
    /// What the change leaves, by role: the new current and next kid, the previous or
    /// retired one.
    pub fn outcome(&self, keys: &[SigningKey]) -> Value {
        let next = self.insert.iter().find(|key| key.state == KeyState::Next);
        let current = (self.promote.clone())
            .or_else(|| {
                (self
                    .insert
                    .iter()
                    .find(|key| key.state == KeyState::Current))
                .map(|k| k.kid.clone())
            })
            .or_else(|| self.expected_current.clone());
        let next = next.map(|key| key.kid.clone()).or_else(|| {
            (keys.iter().find(|key| key.state == KeyState::Next)).map(|key| key.kid.clone())
        });
        let mut outcome = serde_json::json!({"reason": self.why, "current": current, "next": next});
        if let Some(demoted) = &self.demote {
            outcome[demoted.state.as_str()] = Value::from(demoted.kid.clone());
        }
        outcome
    }
}

/// Whether the keys need a change at `now` with no one asking: none yet, no next key, or a
/// current one older than the rotation period.
pub fn is_due(keys: &[SigningKey], policy: KeyPolicy, now: Timestamp) -> bool {
    let current = keys.iter().find(|key| key.state == KeyState::Current);
    let next = keys.iter().any(|key| key.state == KeyState::Next);
    match current {
        None => true,
        Some(key) => {
            !next
                || key
                    .activated
                    .is_none_or(|since| since + policy.rotation_period <= now)
        }
    }
}

/// What to change in a tenant's keys at `now`: None when nothing is due. `fresh` makes a new
/// key in the state given (it is called only when one is needed).
pub fn decide<E>(
    keys: &[SigningKey],
    asked: Option<Rotation>,
    policy: KeyPolicy,
    now: Timestamp,
    mut fresh: impl FnMut(KeyState) -> Result<SigningKey, E>,
) -> Result<Option<KeyChange>, E> {
    let current = keys.iter().find(|key| key.state == KeyState::Current);
    let next = keys.iter().find(|key| key.state == KeyState::Next);
    let due = current.is_some_and(|key| {
        key.activated
            .is_none_or(|since| since + policy.rotation_period <= now)
    });
    let why = match (current, asked) {
        (None, _) => Why::FirstUse,
        (Some(_), Some(Rotation::Planned)) => Why::Requested,
        (Some(_), Some(Rotation::Immediate)) => Why::RequestedImmediate,
        (Some(_), None) if due => Why::Scheduled,
        (Some(_), None) if next.is_none() => {
            return Ok(Some(KeyChange {
                expected_current: current.map(|key| key.kid.clone()),
                demote: None,
                promote: None,
                insert: vec![fresh(KeyState::Next)?],
                at: now,
                why: Why::Scheduled,
            }));
        }
        (Some(_), None) => return Ok(None),
    };
    let demote = current.map(|key| Demotion {
        kid: key.kid.clone(),
        state: if why == Why::RequestedImmediate {
            KeyState::Retired
        } else {
            KeyState::Previous
        },
        published_until: if why == Why::RequestedImmediate {
            now
        } else {
            now + policy.max_token_lifetime
        },
    });
    let mut insert = Vec::with_capacity(2);
    if next.is_none() {
        insert.push(fresh(KeyState::Current)?);
    }
    insert.push(fresh(KeyState::Next)?);
    Ok(Some(KeyChange {
        expected_current: current.map(|key| key.kid.clone()),
        demote,
        promote: next.map(|key| key.kid.clone()),
        insert,
        at: now,
        why,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POLICY: KeyPolicy = KeyPolicy {
        rotation_period: TimeDelta::days(90),
        max_token_lifetime: TimeDelta::days(1),
    };

    fn key(kid: &str, state: KeyState, activated: Option<Timestamp>) -> SigningKey {
        SigningKey {
            tenant: TenantId::parse("acme").unwrap(),
            kid: kid.to_owned(),
            alg: SigningAlg::ES256,
            state,
            public_jwk: json!({"kid": kid}),
            sealed: Vec::new(),
            created: activated.unwrap_or_else(crate::domain::time::now),
            activated,
            deactivated: None,
            published_until: None,
        }
    }

    fn decided(keys: &[SigningKey], asked: Option<Rotation>, now: Timestamp) -> Option<KeyChange> {
        let mut made = 0;
        decide::<()>(keys, asked, POLICY, now, |state| {
            made += 1;
            Ok(key(
                &format!("new{made}"),
                state,
                (state == KeyState::Current).then_some(now),
            ))
        })
        .unwrap()
    }

    #[test]
    fn a_tenant_gets_a_current_and_a_next_key_on_first_use() {
        let now = crate::domain::time::now();
        let change = decided(&[], None, now).unwrap();
        assert_eq!(change.why, Why::FirstUse);
        assert_eq!(change.expected_current, None);
        let states: Vec<_> = change.insert.iter().map(|key| key.state).collect();
        assert_eq!(states, [KeyState::Current, KeyState::Next]);
    }

    #[test]
    fn nothing_is_due_until_the_rotation_period_has_passed() {
        let now = crate::domain::time::now();
        let keys = [
            key("cur", KeyState::Current, Some(now - TimeDelta::days(89))),
            key("nxt", KeyState::Next, None),
        ];
        assert_eq!(decided(&keys, None, now), None);
        assert!(!is_due(&keys, POLICY, now));
        let later = now + TimeDelta::days(1);
        assert!(is_due(&keys, POLICY, later));
        let change = decided(&keys, None, later).unwrap();
        assert_eq!(change.why, Why::Scheduled);
        assert_eq!(change.promote.as_deref(), Some("nxt"));
        assert_eq!(
            change.demote,
            Some(Demotion {
                kid: "cur".to_owned(),
                state: KeyState::Previous,
                published_until: later + TimeDelta::days(1),
            })
        );
        assert_eq!(change.insert.len(), 1);
        assert_eq!(change.insert[0].state, KeyState::Next);
        assert_eq!(
            change.outcome(&keys),
            json!({"reason": "scheduled", "current": "nxt", "next": "new1", "previous": "cur"})
        );
    }

    #[test]
    fn an_immediate_rotation_retires_the_current_key_now() {
        let now = crate::domain::time::now();
        let keys = [
            key("cur", KeyState::Current, Some(now)),
            key("nxt", KeyState::Next, None),
        ];
        let change = decided(&keys, Some(Rotation::Immediate), now).unwrap();
        let demoted = change.demote.unwrap();
        assert_eq!(
            (demoted.state, demoted.published_until),
            (KeyState::Retired, now)
        );
        assert_eq!(change.promote.as_deref(), Some("nxt"));
    }

    #[test]
    fn a_previous_key_is_published_until_its_last_token_expires() {
        let now = crate::domain::time::now();
        let mut previous = key("old", KeyState::Previous, Some(now));
        previous.published_until = Some(now + TimeDelta::hours(1));
        assert!(previous.is_published(now));
        assert!(!previous.is_published(now + TimeDelta::hours(1)));
        assert!(!key("gone", KeyState::Retired, Some(now)).is_published(now));
    }
}
