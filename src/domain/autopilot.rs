//! What the rotation autopilot (DESIGN 16) decides: whether a rotation under way may be
//! completed, whether it is overdue, when to look at it again, and which expiry warnings a
//! credential is owed. Rules only: the app runs them, the store makes each happen once.

use chrono::TimeDelta;

use super::client::SecretPolicy;
use super::rotation::{Slot, StoredSecret, in_slot};
use super::time::Timestamp;

/// A use is written to the database some time after it happens (uses are written once a
/// second, off the request path): a completion waits this much longer than the granularity.
pub const WRITE_LAG: TimeDelta = TimeDelta::seconds(2);

/// How the autopilot judges a rotation under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationVerdict {
    /// The next secret was used since the rotation started, and the old one has been idle
    /// as long as the policy asks.
    pub complete: bool,
    /// The rotation has run longer than the policy allows, and no one was told yet.
    pub overdue: bool,
    /// When to look again, if the rotation stays under way; None when nothing can come due.
    pub check_at: Option<Timestamp>,
}

/// Judges the rotation of `secrets` (a current and a next one) under `policy` at `now`. Uses
/// are recorded at most every `granularity`, so a use within that long of the last recorded
/// one may not show: a completion waits that long (and the write lag) past the old
/// secret's last recorded use. An old secret never used counts as idle since the rotation
/// started.
pub fn judge_rotation(
    policy: &SecretPolicy,
    secrets: &[StoredSecret],
    overdue_noted: bool,
    granularity: TimeDelta,
    now: Timestamp,
) -> RotationVerdict {
    let nothing = RotationVerdict {
        complete: false,
        overdue: false,
        check_at: None,
    };
    let Some(next) = in_slot(secrets, Slot::Next) else {
        return nothing;
    };
    let started = next.created;
    let mut verdict = nothing;
    let mut due: Vec<Timestamp> = Vec::new();
    if let Some(idle) = policy.auto_complete_after() {
        let old_used = in_slot(secrets, Slot::Current).and_then(|old| old.last_used);
        let idle_since = old_used.map_or(started, |used| used.max(started));
        let completes_at = idle_since + idle.max(granularity + WRITE_LAG);
        match next.last_used {
            Some(_) if completes_at <= now => verdict.complete = true,
            Some(_) => due.push(completes_at),
            // Its first use, when it comes, sets the rotation to be looked at again
            // (store/secrets.rs, RECORD_SECRET_USE): nothing to poll for.
            None => {}
        }
    }
    if let Some(longest) = policy.rotation_max()
        && !overdue_noted
        && !verdict.complete
    {
        let overdue_at = started + longest;
        if overdue_at <= now {
            verdict.overdue = true;
        } else {
            due.push(overdue_at);
        }
    }
    verdict.check_at = due.into_iter().min();
    verdict
}

/// Whether the rotation may be completed by the autopilot now: the check made again under
/// the client's lock, on the secrets as they are.
pub fn may_complete(
    policy: &SecretPolicy,
    secrets: &[StoredSecret],
    granularity: TimeDelta,
    now: Timestamp,
) -> bool {
    judge_rotation(policy, secrets, true, granularity, now).complete
}

/// How far a credential's expiry warnings have gone, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExpiryNoted {
    Nothing = 0,
    Expiring = 1,
    Expired = 2,
}

impl ExpiryNoted {
    pub fn from_stored(value: i64) -> Result<Self, String> {
        match value {
            0 => Ok(Self::Nothing),
            1 => Ok(Self::Expiring),
            2 => Ok(Self::Expired),
            other => Err(format!("a credential's expiry_noted of {other}")),
        }
    }
}

/// What a credential expiring at `expires_at` is owed at `now`, after what was `noted`:
/// the warnings to give, in order, and how far they go. A credential first seen already
/// expired is owed both, so every credential gets one of each.
pub fn expiry_warnings(
    expires_at: Timestamp,
    noted: ExpiryNoted,
    warning: TimeDelta,
    now: Timestamp,
) -> Option<ExpiryNoted> {
    let owed = if expires_at <= now {
        ExpiryNoted::Expired
    } else if expires_at - warning <= now {
        ExpiryNoted::Expiring
    } else {
        ExpiryNoted::Nothing
    };
    (owed > noted).then_some(owed)
}

#[cfg(test)]
mod tests;
