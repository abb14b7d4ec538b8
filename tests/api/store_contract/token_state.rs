//! The token endpoint's state: signing keys changed only as decided (on the keys as read),
//! revocations until expiry, client assertion ids used once, and pruning.

use clientd::domain::audit::{Action, Event};
use clientd::domain::oauth::keys::{self, KeyPolicy, KeyState, Rotation, SigningKey};
use clientd::domain::oauth::signing::SigningAlg;
use clientd::store::{StoreError, UsedAssertion};

use super::*;

const POLICY: KeyPolicy = KeyPolicy {
    rotation_period: chrono::TimeDelta::days(90),
    max_token_lifetime: chrono::TimeDelta::hours(1),
};

/// A key as the app makes one, without its private half (the store keeps bytes it is given).
fn key(tenant: &str, n: u32, state: KeyState, now: Timestamp) -> SigningKey {
    let kid = format!("kid-{tenant}-{n}-{}", uuid::Uuid::new_v4().simple());
    SigningKey {
        tenant: tenant_id(tenant),
        kid: kid.clone(),
        alg: SigningAlg::ES256,
        state,
        public_jwk: json!({"kty": "EC", "kid": kid}),
        sealed: vec![1, 2, 3, n as u8],
        created: now,
        activated: (state == KeyState::Current).then_some(now),
        deactivated: None,
        published_until: None,
    }
}

fn event(tenant: &str) -> Event {
    Event::new(
        &cli(),
        Action::SigningKeyRotate,
        Some(&tenant_id(tenant)),
        "kid",
        "/keys",
    )
}

/// Decides on the keys as stored and applies the change; returns whether it was applied.
async fn change(store: &dyn Store, tenant: &str, asked: Option<Rotation>, now: Timestamp) -> bool {
    let stored = store.signing_keys(&tenant_id(tenant)).await.unwrap();
    let mut n = 0;
    let decided = keys::decide::<()>(&stored, asked, POLICY, now, |state| {
        n += 1;
        Ok(key(tenant, n, state, now))
    })
    .unwrap()
    .unwrap();
    store
        .change_signing_keys(&tenant_id(tenant), &decided, &event(tenant))
        .await
        .unwrap()
}

fn states(keys: &[SigningKey]) -> Vec<KeyState> {
    let mut states: Vec<_> = keys.iter().map(|key| key.state).collect();
    states.sort_by_key(|state| state.as_str());
    states
}

on_each_store! {
    async fn signing_keys_change_as_decided_and_read_back_exactly(store) {
        create_tenant(store.as_ref(), "acme").await;
        let now = time::now();
        assert!(change(store.as_ref(), "acme", None, now).await);
        let first = store.signing_keys(&tenant_id("acme")).await.unwrap();
        assert_eq!(states(&first), [KeyState::Current, KeyState::Next]);
        assert_eq!(first[0].sealed.len(), 4);
        assert!(change(store.as_ref(), "acme", Some(Rotation::Immediate), now).await);
        let after = store.signing_keys(&tenant_id("acme")).await.unwrap();
        assert_eq!(states(&after), [KeyState::Current, KeyState::Next, KeyState::Retired]);
        let retired = after.iter().find(|key| key.state == KeyState::Retired).unwrap();
        assert_eq!(retired.published_until, Some(now));
        assert_eq!(retired.deactivated, Some(now));
        // Another tenant's keys are its own.
        assert_eq!(store.signing_keys(&tenant_id("other")).await.unwrap(), []);
    }

    async fn a_change_decided_on_keys_that_moved_since_writes_nothing(store) {
        create_tenant(store.as_ref(), "acme").await;
        let now = time::now();
        let stale = store.signing_keys(&tenant_id("acme")).await.unwrap();
        let decided = keys::decide::<()>(&stale, None, POLICY, now, |state| Ok(key("acme", 9, state, now)))
            .unwrap()
            .unwrap();
        // Another replica made the first keys meanwhile.
        assert!(change(store.as_ref(), "acme", None, now).await);
        let applied = store.change_signing_keys(&tenant_id("acme"), &decided, &event("acme")).await;
        assert!(!applied.unwrap());
        assert_eq!(store.signing_keys(&tenant_id("acme")).await.unwrap().len(), 2);
        let missing = store.change_signing_keys(&tenant_id("nope"), &decided, &event("nope")).await;
        assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    }

    async fn a_revoked_token_is_remembered_until_it_expires(store) {
        create_tenant(store.as_ref(), "acme").await;
        create_client(store.as_ref(), "acme", "c1").await;
        let (acme, client) = (tenant_id("acme"), client_id("c1"));
        store.revoke_access_token(&acme, "jti-1", &client, at(60)).await.unwrap();
        store.revoke_access_token(&acme, "jti-1", &client, at(60)).await.unwrap();
        assert!(store.access_token_revoked(&acme, "jti-1").await.unwrap());
        assert!(!store.access_token_revoked(&acme, "jti-2").await.unwrap());
        assert!(!store.access_token_revoked(&tenant_id("other"), "jti-1").await.unwrap());
        assert_eq!(store.prune_token_state(at(59)).await.unwrap(), 0);
        assert_eq!(store.prune_token_state(at(60)).await.unwrap(), 1);
        assert!(!store.access_token_revoked(&acme, "jti-1").await.unwrap());
    }

    async fn an_assertion_id_is_used_once_until_it_expires(store) {
        create_tenant(store.as_ref(), "acme").await;
        create_client(store.as_ref(), "acme", "c1").await;
        create_client(store.as_ref(), "acme", "c2").await;
        let used = |client: &str, jti: &str, expires: i64| UsedAssertion {
            client: client_id(client),
            jti: jti.to_owned(),
            expires_at: at(expires),
        };
        let first = [used("c1", "a", 60), used("c1", "b", 60), used("c2", "a", 60)];
        assert_eq!(store.use_assertions(&first, at(0)).await.unwrap(), [true, true, true]);
        let again = [used("c1", "a", 60), used("c1", "c", 60)];
        assert_eq!(store.use_assertions(&again, at(30)).await.unwrap(), [false, true]);
        // Once the first use has expired, the id may serve again.
        assert_eq!(store.use_assertions(&[used("c1", "a", 200)], at(61)).await.unwrap(), [true]);
        let unknown = store.use_assertions(&[used("nobody", "a", 60)], at(0)).await;
        assert!(matches!(unknown, Err(StoreError::NotFound(_))), "{unknown:?}");
        // A jti with a NUL never reaches the store (the domain refuses it); other text is kept.
        assert_eq!(store.use_assertions(&[used("c2", "ü ✓ 'quoted'", 60)], at(0)).await.unwrap(), [true]);
        assert_eq!(store.prune_token_state(at(60)).await.unwrap(), 4);
    }
}
