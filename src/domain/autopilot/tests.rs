use super::*;
use crate::domain::secret::SecretHash;
use crate::domain::time::now;

const GRANULARITY: TimeDelta = TimeDelta::seconds(60);

fn secret(slot: Slot, created: Timestamp, last_used: Option<Timestamp>) -> StoredSecret {
    StoredSecret {
        slot,
        hash: SecretHash::from_bytes(&[slot as u8; 32]).unwrap(),
        last_four: "abcd".to_owned(),
        created,
        last_used,
    }
}

fn policy(auto: Option<i64>, max: Option<i64>) -> SecretPolicy {
    SecretPolicy {
        max_age_seconds: None,
        auto_complete_after_unused_seconds: auto,
        rotation_max_seconds: max,
    }
}

#[test]
fn completes_only_once_the_next_secret_was_used_and_the_old_one_idle() {
    let at = now();
    let started = at - TimeDelta::hours(2);
    let hour = policy(Some(3_600), None);
    let unused_next = [
        secret(Slot::Current, at - TimeDelta::days(30), None),
        secret(Slot::Next, started, None),
    ];
    let verdict = judge_rotation(&hour, &unused_next, false, GRANULARITY, at);
    assert!(!verdict.complete);
    assert_eq!(
        verdict.check_at, None,
        "the next secret's first use wakes it"
    );

    let old_idle = [
        secret(
            Slot::Current,
            at - TimeDelta::days(30),
            Some(started - TimeDelta::minutes(5)),
        ),
        secret(Slot::Next, started, Some(at - TimeDelta::minutes(1))),
    ];
    assert!(judge_rotation(&hour, &old_idle, false, GRANULARITY, at).complete);

    let old_busy = [
        secret(
            Slot::Current,
            at - TimeDelta::days(30),
            Some(at - TimeDelta::minutes(10)),
        ),
        secret(Slot::Next, started, Some(at - TimeDelta::minutes(1))),
    ];
    let verdict = judge_rotation(&hour, &old_busy, false, GRANULARITY, at);
    assert!(!verdict.complete);
    assert_eq!(verdict.check_at, Some(at + TimeDelta::minutes(50)));
}

#[test]
fn a_completion_waits_the_granularity_past_the_last_recorded_use() {
    let at = now();
    let one_second = policy(Some(1), None);
    let secrets = [
        secret(
            Slot::Current,
            at - TimeDelta::days(1),
            Some(at - TimeDelta::seconds(30)),
        ),
        secret(Slot::Next, at - TimeDelta::hours(1), Some(at)),
    ];
    let verdict = judge_rotation(&one_second, &secrets, false, GRANULARITY, at);
    assert!(!verdict.complete);
    assert_eq!(
        verdict.check_at,
        Some(at - TimeDelta::seconds(30) + GRANULARITY + WRITE_LAG)
    );
}

#[test]
fn an_overdue_rotation_is_told_once_and_nothing_is_due_without_a_policy() {
    let at = now();
    let secrets = [
        secret(Slot::Current, at - TimeDelta::days(9), None),
        secret(Slot::Next, at - TimeDelta::days(8), None),
    ];
    let week = policy(None, Some(7 * 86_400));
    assert!(judge_rotation(&week, &secrets, false, GRANULARITY, at).overdue);
    let told = judge_rotation(&week, &secrets, true, GRANULARITY, at);
    assert!(!told.overdue && told.check_at.is_none());
    let none = judge_rotation(&SecretPolicy::default(), &secrets, false, GRANULARITY, at);
    assert_eq!(none.check_at, None);
    assert!(!none.complete && !none.overdue);
}

#[test]
fn expiry_warnings_come_once_each_in_order() {
    let at = now();
    let warning = TimeDelta::days(14);
    let far = at + TimeDelta::days(30);
    assert_eq!(
        expiry_warnings(far, ExpiryNoted::Nothing, warning, at),
        None
    );
    let soon = at + TimeDelta::days(3);
    assert_eq!(
        expiry_warnings(soon, ExpiryNoted::Nothing, warning, at),
        Some(ExpiryNoted::Expiring)
    );
    assert_eq!(
        expiry_warnings(soon, ExpiryNoted::Expiring, warning, at),
        None
    );
    let past = at - TimeDelta::seconds(1);
    assert_eq!(
        expiry_warnings(past, ExpiryNoted::Expiring, warning, at),
        Some(ExpiryNoted::Expired)
    );
    assert_eq!(
        expiry_warnings(past, ExpiryNoted::Nothing, warning, at),
        Some(ExpiryNoted::Expired)
    );
    assert_eq!(
        expiry_warnings(past, ExpiryNoted::Expired, warning, at),
        None
    );
}
