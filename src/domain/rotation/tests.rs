//! The rules of a client secret's life: a rotation starts with a next secret, completes by
//! promoting it or is cancelled by dropping it, and a presented secret is told by its slot.

use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::domain::client::CreateClient;
use crate::domain::secret::SecretString;
use crate::domain::tenant::TenantId;
use crate::domain::token::Permission;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

/// A client of tenant `acme`, made as a create request would make it.
fn client(app_type: &str) -> Client {
    let request: CreateClient =
        serde_json::from_value(json!({"name": "Billing job", "app_type": app_type})).unwrap();
    request.into_client(acme(), now()).unwrap()
}

fn machine() -> Client {
    client("non_interactive")
}

/// A secret as issued, from known text, so that verification can present it.
fn issued(text: &str) -> IssuedSecret {
    let text = SecretString::new(text.to_owned());
    IssuedSecret {
        hash: text.hash(),
        last_four: text.expose()[text.expose().len() - 4..].to_owned(),
        text,
    }
}

fn stored(slot: Slot, text: &str, created: Timestamp) -> StoredSecret {
    let secret = issued(text);
    StoredSecret {
        slot,
        hash: secret.hash,
        last_four: secret.last_four,
        created,
        last_used: None,
    }
}

const FIRST: &str = "first-secret-of-the-billing-job-aaaa";
const NEXT: &str = "next-secret-of-the-billing-job-bbbb";

fn only_current() -> Vec<StoredSecret> {
    vec![stored(Slot::Current, FIRST, now() - TimeDelta::days(30))]
}

fn rotating() -> Vec<StoredSecret> {
    let mut secrets = only_current();
    secrets.push(stored(Slot::Next, NEXT, now() - TimeDelta::hours(1)));
    secrets
}

fn decide(
    client: &Client,
    secrets: &[StoredSecret],
    step: Rotation<'_>,
) -> Result<SecretChange, Refusal> {
    decide_rotation(client, secrets, step, &Grants::everything(), now())
}

fn conflict(result: Result<SecretChange, Refusal>) -> String {
    match result {
        Err(Refusal::Conflict(why)) => why,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn verify_text(
    client: &Client,
    secrets: &[StoredSecret],
    text: &str,
) -> Result<Slot, VerifyFailure> {
    verify(client, secrets, &SecretString::new(text.to_owned()))
}

#[test]
fn starting_a_rotation_stores_a_next_secret_beside_the_current_one() {
    let next = issued(NEXT);
    let change = decide(&machine(), &only_current(), Rotation::Start(&next)).unwrap();
    let SecretChange::Start(stored_next) = &change else {
        panic!("expected a start, got {change:?}");
    };
    // The next secret is new: made now, never used, kept only as hash and last four.
    let expected = stored(Slot::Next, NEXT, now());
    assert_eq!(*stored_next, expected);
    assert_eq!(stored_next.last_four, "bbbb");
    assert_eq!(
        after(&only_current(), &change),
        [only_current(), vec![expected]].concat()
    );
}

#[test]
fn a_rotation_cannot_start_while_one_is_under_way() {
    let another = issued("a-third-secret-cccc");
    let why = conflict(decide(&machine(), &rotating(), Rotation::Start(&another)));
    assert_eq!(
        why,
        "a rotation is already under way: complete or cancel it first"
    );
}

#[test]
fn completing_a_rotation_makes_the_next_secret_the_only_current_one() {
    let change = decide(&machine(), &rotating(), Rotation::Complete).unwrap();
    assert!(
        matches!(change, SecretChange::Complete { .. }),
        "{change:?}"
    );
    // The promoted secret keeps its creation time and any use noted while it was next.
    let promoted = StoredSecret {
        slot: Slot::Current,
        ..rotating()[1].clone()
    };
    assert_eq!(after(&rotating(), &change), vec![promoted]);
}

#[test]
fn cancelling_a_rotation_drops_the_next_secret_and_keeps_the_current_one() {
    let change = decide(&machine(), &rotating(), Rotation::Cancel).unwrap();
    assert!(matches!(change, SecretChange::Cancel), "{change:?}");
    assert_eq!(after(&rotating(), &change), only_current());
}

#[test]
fn a_rotation_cannot_complete_or_be_cancelled_when_none_is_under_way() {
    for step in [Rotation::Complete, Rotation::Cancel] {
        let why = conflict(decide(&machine(), &only_current(), step));
        assert_eq!(why, "no rotation is under way: start one first");
    }
}

#[test]
fn a_public_client_has_no_secret_to_rotate() {
    let next = issued(NEXT);
    for app_type in ["spa", "native"] {
        for step in [Rotation::Start(&next), Rotation::Complete, Rotation::Cancel] {
            let why = conflict(decide(&client(app_type), &[], step));
            assert_eq!(
                why, "a PUBLIC client (spa, native) has no secret to rotate",
                "{app_type}"
            );
        }
    }
}

#[test]
fn a_regular_web_client_rotates_like_a_machine() {
    let next = issued(NEXT);
    let change = decide(
        &client("regular_web"),
        &only_current(),
        Rotation::Start(&next),
    );
    assert!(matches!(change, Ok(SecretChange::Start(_))), "{change:?}");
}

#[test]
fn a_caller_who_may_only_read_the_tenant_cannot_rotate() {
    let reader = Grants::new(vec![Permission::ClientRead], vec![acme()]);
    let refused = decide_rotation(&machine(), &rotating(), Rotation::Complete, &reader, now());
    assert!(
        matches!(refused, Err(Refusal::Forbidden(why)) if why.contains("may read but not change")),
        "{refused:?}"
    );
}

#[test]
fn a_caller_of_another_tenant_is_told_the_client_does_not_exist() {
    let outsider = Grants::new(
        vec![Permission::ClientWrite],
        vec![TenantId::parse("other").unwrap()],
    );
    // Even a step that would be refused on its own merits is hidden first.
    let refused = decide_rotation(&client("spa"), &[], Rotation::Cancel, &outsider, now());
    assert!(matches!(refused, Err(Refusal::Hidden)), "{refused:?}");
}

#[test]
fn during_a_rotation_both_secrets_verify_and_say_which_they_are() {
    let client = machine();
    assert_eq!(verify_text(&client, &rotating(), FIRST), Ok(Slot::Current));
    assert_eq!(verify_text(&client, &rotating(), NEXT), Ok(Slot::Next));
}

#[test]
fn after_completion_the_old_secret_fails_and_the_promoted_one_is_current() {
    let client = machine();
    let secrets = after(&rotating(), &SecretChange::Complete { stale_at: None });
    assert_eq!(
        verify_text(&client, &secrets, FIRST),
        Err(VerifyFailure::Mismatch)
    );
    assert_eq!(verify_text(&client, &secrets, NEXT), Ok(Slot::Current));
}

#[test]
fn after_cancellation_only_the_current_secret_verifies() {
    let client = machine();
    let secrets = after(&rotating(), &SecretChange::Cancel);
    assert_eq!(
        verify_text(&client, &secrets, NEXT),
        Err(VerifyFailure::Mismatch)
    );
    assert_eq!(verify_text(&client, &secrets, FIRST), Ok(Slot::Current));
}

#[test]
fn a_secret_that_is_almost_right_does_not_verify() {
    let client = machine();
    for wrong in [&format!("{FIRST}x"), &FIRST[1..], "", "bbbb"] {
        assert_eq!(
            verify_text(&client, &rotating(), wrong),
            Err(VerifyFailure::Mismatch),
            "{wrong:?}"
        );
    }
}

#[test]
fn a_client_without_secrets_verifies_nothing() {
    assert_eq!(
        verify_text(&client("spa"), &[], "anything"),
        Err(VerifyFailure::Mismatch)
    );
}

#[test]
fn a_disabled_client_never_verifies_and_does_not_say_whether_the_secret_was_right() {
    let mut client = machine();
    client.settings.enabled = false;
    for presented in [FIRST, NEXT, "wrong"] {
        assert_eq!(
            verify_text(&client, &rotating(), presented),
            Err(VerifyFailure::Disabled)
        );
    }
}

#[test]
fn a_disabled_client_may_still_rotate_its_secret() {
    // Disabling stops verification, not the operator's care of the secrets.
    let mut client = machine();
    client.settings.enabled = false;
    assert!(matches!(
        decide(&client, &rotating(), Rotation::Complete),
        Ok(SecretChange::Complete { stale_at: None })
    ));
}

#[test]
fn a_use_is_worth_writing_when_none_was_noted_or_the_last_is_a_minute_old() {
    assert!(use_is_news(None, now(), LAST_USED_GRANULARITY));
    assert!(use_is_news(
        Some(now() - LAST_USED_GRANULARITY),
        now(),
        LAST_USED_GRANULARITY
    ));
    assert!(use_is_news(
        Some(now() - TimeDelta::hours(1)),
        now(),
        LAST_USED_GRANULARITY
    ));
}

#[test]
fn a_use_within_the_minute_is_not_written_again() {
    // So that verifying stays a read nearly every time.
    for ago in [
        TimeDelta::zero(),
        TimeDelta::seconds(59),
        TimeDelta::milliseconds(59_999),
    ] {
        assert!(
            !use_is_news(Some(now() - ago), now(), LAST_USED_GRANULARITY),
            "{ago}"
        );
    }
}

#[test]
fn slots_are_named_current_and_next_and_nothing_else() {
    for slot in [Slot::Current, Slot::Next] {
        assert_eq!(Slot::parse(slot.as_str()), Ok(slot));
    }
    assert_eq!(
        Slot::parse("previous"),
        Err("unknown secret slot \"previous\"".to_owned())
    );
}

#[test]
fn telemetry_of_a_secret_shows_neither_its_hash_nor_its_slot() {
    let shown = serde_json::to_value(stored(Slot::Next, NEXT, now())).unwrap();
    assert_eq!(
        shown,
        json!({"last_four": "bbbb", "created": "2026-03-01T12:00:00.000Z", "last_used": null})
    );
}
