//! Idempotency-Key records: claimed once, replayed once answered, given up only while the
//! change they guard has not committed.

use chrono::TimeDelta;
use clientd::domain::audit::Action;
use clientd::domain::change::ChangeContext;
use clientd::store::{Claim, ClaimDeadlines, StoredAnswer};
use uuid::Uuid;

use super::*;

const ACTOR: &str = "token:contract";

/// The deadlines of a claim made at `now`: records expire after a day, and a request that
/// never finished is abandoned after a minute.
fn deadlines(now: Timestamp) -> ClaimDeadlines {
    ClaimDeadlines {
        now,
        expired: now - TimeDelta::hours(24),
        abandoned: now - TimeDelta::minutes(1),
    }
}

fn answer() -> StoredAnswer {
    StoredAnswer {
        status: 201,
        headers: vec![("location".into(), "/tenants/acme".into())],
        body: br#"{"id":"acme"}"#.to_vec(),
    }
}

on_each_store! {
    async fn a_new_key_is_claimed_and_a_second_claim_finds_it_running(store) {
        let now = time::now();
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        let claimed = store.claim_idempotency_key(ACTOR, "k", b"hash", first, deadlines(now)).await.unwrap();
        let again = store.claim_idempotency_key(ACTOR, "k", b"hash", second, deadlines(now)).await.unwrap();
        assert_eq!((claimed, again), (Claim::Claimed, Claim::Running));
    }

    async fn an_answered_key_replays_its_answer_and_refuses_another_request(store) {
        let now = time::now();
        let first = Uuid::now_v7();
        store.claim_idempotency_key(ACTOR, "k", b"hash", first, deadlines(now)).await.unwrap();
        let mismatched_while_running = store.claim_idempotency_key(ACTOR, "k", b"other", Uuid::now_v7(), deadlines(now)).await.unwrap();
        store.complete_idempotency_key(ACTOR, "k", first, &answer()).await.unwrap();
        let replay = store.claim_idempotency_key(ACTOR, "k", b"hash", Uuid::now_v7(), deadlines(now)).await.unwrap();
        let mismatch = store.claim_idempotency_key(ACTOR, "k", b"other", Uuid::now_v7(), deadlines(now)).await.unwrap();
        assert_eq!(
            (mismatched_while_running, replay, mismatch),
            (Claim::Mismatch, Claim::Replay(answer()), Claim::Mismatch)
        );
        // Released or abandoned, an answered key still replays; only expiry frees it.
        store.release_idempotency_key(ACTOR, "k", first).await.unwrap();
        let late = ClaimDeadlines { abandoned: now + TimeDelta::seconds(1), ..deadlines(now) };
        let kept = store.claim_idempotency_key(ACTOR, "k", b"hash", Uuid::now_v7(), late).await.unwrap();
        assert_eq!(kept, Claim::Replay(answer()));
        let expired = ClaimDeadlines { expired: now + TimeDelta::seconds(1), ..deadlines(now) };
        let fresh = store.claim_idempotency_key(ACTOR, "k", b"new", Uuid::now_v7(), expired).await.unwrap();
        assert_eq!(fresh, Claim::Claimed);
    }

    async fn a_released_claim_lets_the_next_request_claim_the_key(store) {
        let now = time::now();
        let first = Uuid::now_v7();
        store.claim_idempotency_key(ACTOR, "k", b"hash", first, deadlines(now)).await.unwrap();
        // Only the claim's own holder releases it.
        store.release_idempotency_key(ACTOR, "k", Uuid::now_v7()).await.unwrap();
        let still = store.claim_idempotency_key(ACTOR, "k", b"hash", Uuid::now_v7(), deadlines(now)).await.unwrap();
        store.release_idempotency_key(ACTOR, "k", first).await.unwrap();
        let next = store.claim_idempotency_key(ACTOR, "k", b"other", Uuid::now_v7(), deadlines(now)).await.unwrap();
        assert_eq!((still, next), (Claim::Running, Claim::Claimed));
    }

    async fn an_abandoned_claim_is_taken_over_and_its_late_answer_is_not_kept(store) {
        let now = time::now();
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        store.claim_idempotency_key(ACTOR, "k", b"hash", first, deadlines(now)).await.unwrap();
        let later = now + TimeDelta::minutes(2);
        let taken = store.claim_idempotency_key(ACTOR, "k", b"hash", second, deadlines(later)).await.unwrap();
        store.complete_idempotency_key(ACTOR, "k", first, &answer()).await.unwrap();
        let after = store.claim_idempotency_key(ACTOR, "k", b"hash", Uuid::now_v7(), deadlines(later)).await.unwrap();
        assert_eq!((taken, after), (Claim::Claimed, Claim::Running));
        let own = StoredAnswer { status: 200, ..answer() };
        store.complete_idempotency_key(ACTOR, "k", second, &own).await.unwrap();
        let replay = store.claim_idempotency_key(ACTOR, "k", b"hash", Uuid::now_v7(), deadlines(later)).await.unwrap();
        assert_eq!(replay, Claim::Replay(own));
    }

    async fn a_change_whose_event_carries_the_claim_marks_it_committed(store) {
        let now = time::now();
        let claim = Uuid::now_v7();
        store.claim_idempotency_key(ACTOR, "k", b"hash", claim, deadlines(now)).await.unwrap();
        let change = ChangeContext { idempotency: Some(claim), ..cli() };
        let tenant = new_tenant("acme");
        let event = tenant_event(&change, Action::TenantCreate, &tenant);
        store.create_tenant(&tenant, &event).await.unwrap();
        let committed = Claim::Committed(Box::new(as_read(&event)));
        let retry = store.claim_idempotency_key(ACTOR, "k", b"hash", Uuid::now_v7(), deadlines(now)).await.unwrap();
        assert_eq!(retry, committed);
        // Neither a release (the request failed after its change) nor the abandon deadline
        // gives up a committed claim: a retry would make the change twice.
        store.release_idempotency_key(ACTOR, "k", claim).await.unwrap();
        let late = deadlines(now + TimeDelta::minutes(2));
        let after = store.claim_idempotency_key(ACTOR, "k", b"hash", Uuid::now_v7(), late).await.unwrap();
        assert_eq!(after, committed);
    }

    async fn a_key_is_the_callers_own(store) {
        let now = time::now();
        let mine = store.claim_idempotency_key("token:a", "k", b"one", Uuid::now_v7(), deadlines(now)).await.unwrap();
        let theirs = store.claim_idempotency_key("token:b", "k", b"two", Uuid::now_v7(), deadlines(now)).await.unwrap();
        assert_eq!((mine, theirs), (Claim::Claimed, Claim::Claimed));
    }

    async fn forgotten_keys_are_those_created_before_the_cutoff(store) {
        let now = time::now();
        for (key, age) in [("old", 48), ("older", 72), ("new", 0)] {
            let made = now - TimeDelta::hours(age);
            store.claim_idempotency_key(ACTOR, key, b"hash", Uuid::now_v7(), deadlines(made)).await.unwrap();
        }
        let forgotten = store.forget_idempotency_keys(now - TimeDelta::hours(24)).await.unwrap();
        assert_eq!(forgotten, 2);
        let mut claims = Vec::new();
        for key in ["old", "older", "new"] {
            claims.push(store.claim_idempotency_key(ACTOR, key, b"other", Uuid::now_v7(), deadlines(now)).await.unwrap());
        }
        assert_eq!(claims, [Claim::Claimed, Claim::Claimed, Claim::Mismatch]);
    }
}
