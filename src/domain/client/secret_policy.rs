//! A client's secret policy (DESIGN 16): when its secret is stale, when the autopilot may
//! complete a rotation by itself, and when a rotation is overdue. Every member is optional;
//! the document always shows the object, so a patch can `replace` one member.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::domain::Violations;
use crate::domain::integer;
use crate::domain::time::Timestamp;

/// Ten years of 365 days: the longest any policy duration may be.
pub const MAX_SECONDS: i64 = 10 * 365 * 86_400;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretPolicy {
    /// A current secret older than this is stale.
    #[serde(default, deserialize_with = "integer::option")]
    pub max_age_seconds: Option<i64>,
    /// A rotation whose next secret was used and whose old one was idle this long completes.
    #[serde(default, deserialize_with = "integer::option")]
    pub auto_complete_after_unused_seconds: Option<i64>,
    /// A rotation under way longer than this is overdue.
    #[serde(default, deserialize_with = "integer::option")]
    pub rotation_max_seconds: Option<i64>,
}

/// The create body's form of the policy: the same members in snake_case.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSecretPolicy {
    #[serde(default, deserialize_with = "integer::option")]
    pub max_age_seconds: Option<i64>,
    #[serde(default, deserialize_with = "integer::option")]
    pub auto_complete_after_unused_seconds: Option<i64>,
    #[serde(default, deserialize_with = "integer::option")]
    pub rotation_max_seconds: Option<i64>,
}

impl From<CreateSecretPolicy> for SecretPolicy {
    fn from(create: CreateSecretPolicy) -> Self {
        Self {
            max_age_seconds: create.max_age_seconds,
            auto_complete_after_unused_seconds: create.auto_complete_after_unused_seconds,
            rotation_max_seconds: create.rotation_max_seconds,
        }
    }
}

impl SecretPolicy {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn max_age(&self) -> Option<TimeDelta> {
        self.max_age_seconds.map(TimeDelta::seconds)
    }

    pub fn auto_complete_after(&self) -> Option<TimeDelta> {
        self.auto_complete_after_unused_seconds
            .map(TimeDelta::seconds)
    }

    pub fn rotation_max(&self) -> Option<TimeDelta> {
        self.rotation_max_seconds.map(TimeDelta::seconds)
    }

    /// When a current secret made at `created` becomes stale, if the policy says it does.
    pub fn stale_at(&self, created: Timestamp) -> Option<Timestamp> {
        self.max_age().map(|age| created + age)
    }

    /// Each member positive and at most ten years; pointers under `/secretPolicy`.
    pub fn check(&self, v: &mut Violations) {
        for (member, seconds) in [
            ("maxAgeSeconds", self.max_age_seconds),
            (
                "autoCompleteAfterUnusedSeconds",
                self.auto_complete_after_unused_seconds,
            ),
            ("rotationMaxSeconds", self.rotation_max_seconds),
        ] {
            if seconds.is_some_and(|s| !(1..=MAX_SECONDS).contains(&s)) {
                v.add(
                    format!("/secretPolicy/{member}"),
                    format!(
                        "must be a whole number of seconds from 1 to {MAX_SECONDS} (ten years), or null"
                    ),
                );
            }
        }
    }
}
