//! What the rotation autopilot needs of a store: what is due found by its time, and each
//! warning noted once, whoever asks twice; tokens' uses recorded once per granularity.

use clientd::domain::audit::{Action, Event};
use clientd::domain::autopilot::ExpiryNoted;
use clientd::domain::credential::{CreateCredential, Credential};
use clientd::domain::rotation::Rotation;
use clientd::domain::secret::IssuedSecret;
use clientd::store::WriteMode;

use super::secrets_credentials::{add, rotate};
use super::*;

fn autopilot_event(action: Action, client: &Client) -> Event {
    let path = format!("/clients/{}/secrets", client.id);
    Event::new(
        &ChangeContext::without_request(Actor::Autopilot),
        action,
        Some(&client.tenant),
        client.id.as_str(),
        path,
    )
    .of_client(&client.id)
}

fn expiring(dn: &str, seconds: i64) -> Credential {
    let expires_at = time::now() + chrono::TimeDelta::seconds(seconds);
    let request = json!({"credential_type": "cert_subject_dn", "subject_dn": dn,
        "expires_at": time::rfc3339(expires_at)});
    let request: CreateCredential = serde_json::from_value(request).unwrap();
    request.into_credential(time::now()).unwrap()
}

on_each_store! {
    async fn a_secret_is_stale_from_its_policys_time_and_noted_once(store) {
        create_tenant(store.as_ref(), "acme").await;
        let old = new_client("acme", "old", json!({"secret_policy": {"max_age_seconds": 60}}));
        store_client(store.as_ref(), &old).await;
        create_client(store.as_ref(), "acme", "unruled").await;
        let now = time::now();
        assert!(store.stale_secrets(now, 10).await.unwrap().is_empty());
        let later = now + chrono::TimeDelta::seconds(61);
        let due = store.stale_secrets(later, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].client_id.as_str(), due[0].tenant_id.as_str()), ("old", "acme"));
        let event = autopilot_event(Action::SecretStale, &old);
        assert!(store.note_stale(&due[0], &event).await.unwrap());
        assert!(!store.note_stale(&due[0], &event).await.unwrap(), "noted once");
        assert!(store.stale_secrets(later, 10).await.unwrap().is_empty());
        assert_eq!(actions(store.as_ref()).await[0], Action::SecretStale);
        assert_eq!(trail(store.as_ref()).await.iter().filter(|e| e.action == Action::SecretStale).count(), 1);
    }

    async fn a_rotation_is_due_from_its_start_until_rescheduled_and_overdue_once(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "rotating").await;
        let next = IssuedSecret::generate().unwrap();
        rotate(store.as_ref(), &client.id, Rotation::Start(&next), Action::SecretRotateStart).await.unwrap();
        let now = time::now() + chrono::TimeDelta::seconds(1);
        let due = store.rotations_due(now, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert!(!due[0].overdue_noted);
        let soon = now + chrono::TimeDelta::seconds(30);
        // Rescheduled: due later; a write that expects the old time gives way.
        store.reschedule_rotation(&due[0], Some(soon)).await.unwrap();
        assert!(store.rotations_due(now, 10).await.unwrap().is_empty());
        store.reschedule_rotation(&due[0], None).await.unwrap();
        let due = store.rotations_due(soon, 10).await.unwrap();
        assert_eq!(due.len(), 1, "a stale reschedule changed nothing");
        let event = autopilot_event(Action::SecretRotateOverdue, &client);
        assert!(store.note_overdue(&due[0], &event).await.unwrap());
        assert!(!store.note_overdue(&due[0], &event).await.unwrap(), "noted once");
        assert!(store.rotations_due(soon, 10).await.unwrap()[0].overdue_noted);
        store.reschedule_rotation(&due[0], None).await.unwrap();
        assert!(store.rotations_due(soon, 10).await.unwrap().is_empty());
        // Completed, the rotation is nothing to look at any more.
        rotate(store.as_ref(), &client.id, Rotation::Complete, Action::SecretRotateComplete).await.unwrap();
        assert!(!store.note_overdue(&due[0], &event).await.unwrap());
    }

    async fn expiry_warnings_move_forward_once_each(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "mtls").await;
        let soon = expiring("CN=soon", 100);
        add(store.as_ref(), &client, &soon, 10, WriteMode::Apply).await.unwrap();
        add(store.as_ref(), &client, &expiring("CN=later", 10 * 86_400), 10, WriteMode::Apply).await.unwrap();
        let now = time::now();
        let warn_until = now + chrono::TimeDelta::days(1);
        let due = store.expiring_credentials(warn_until, now, 10).await.unwrap();
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!((due[0].id.as_str(), due[0].noted().unwrap()), (soon.id.as_str(), ExpiryNoted::Nothing));
        let warning = autopilot_event(Action::CredentialExpiring, &client);
        assert!(store.note_expiry(&due[0], ExpiryNoted::Expiring, std::slice::from_ref(&warning)).await.unwrap());
        assert!(!store.note_expiry(&due[0], ExpiryNoted::Expiring, &[warning]).await.unwrap(), "noted once");
        assert!(store.expiring_credentials(warn_until, now, 10).await.unwrap().is_empty());
        // Past its expiry it is due again, as warned.
        let after = now + chrono::TimeDelta::seconds(101);
        let due = store.expiring_credentials(after + chrono::TimeDelta::days(1), after, 10).await.unwrap();
        let soon_due = due.iter().find(|c| c.id == soon.id).unwrap();
        assert_eq!(soon_due.noted().unwrap(), ExpiryNoted::Expiring);
        let expired = autopilot_event(Action::CredentialExpired, &client);
        assert!(store.note_expiry(soon_due, ExpiryNoted::Expired, &[expired]).await.unwrap());
        let left = store.expiring_credentials(after + chrono::TimeDelta::days(1), after, 10).await.unwrap();
        assert!(left.iter().all(|c| c.id != soon.id));
        let warnings: Vec<_> = trail(store.as_ref()).await.iter().map(|e| e.action)
            .filter(|a| matches!(a, Action::CredentialExpiring | Action::CredentialExpired)).collect();
        assert_eq!(warnings, [Action::CredentialExpired, Action::CredentialExpiring]);
    }

    async fn a_tokens_use_is_recorded_once_per_granularity(store) {
        use clientd::domain::token::ApiToken;
        use clientd::domain::secret::SecretHash;
        let token = ApiToken::new("ci", &["admin".to_owned()], &[], None, time::now()).unwrap();
        let hash = SecretHash::from_bytes(&[9; 32]).unwrap();
        let event = Event::of_token(&cli(), Action::TokenCreate, &token);
        store.create_token(&token, &hash, &event).await.unwrap();
        let first = time::truncate(time::now());
        store.record_token_use(token.id, first, first - chrono::TimeDelta::minutes(1)).await.unwrap();
        let soon = first + chrono::TimeDelta::seconds(10);
        store.record_token_use(token.id, soon, soon - chrono::TimeDelta::minutes(1)).await.unwrap();
        let stored = store.token(token.id).await.unwrap().unwrap();
        assert_eq!(stored.token.last_used, Some(first));
    }
}
