//! A database the previous release wrote, schema and rows, migrates and reads back through
//! the store as it was, and takes changes as any other.

use clientd::domain::Missing;
use clientd::domain::audit::Action;
use clientd::domain::client::Client;
use clientd::domain::credential::Credential;
use clientd::domain::rotation::Slot;
use clientd::domain::secret::SecretString;
use clientd::domain::token::{Permission, TokenText};
use clientd::store::{Claim, ClaimDeadlines, StoreError, WriteMode};

use super::*;
use crate::migrations::{
    LEGACY_ACTOR, LEGACY_ANSWER, LEGACY_REQUEST_HASH, LEGACY_SECRET, LEGACY_TOKEN, last_release,
};

fn legacy_time(text: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

on_both_stores! {
    databases;

    async fn the_last_releases_rows_read_back_through_the_store_once_migrated(database) {
        last_release(&database).await;
        let store = open(&database).await;
        let tenant = store.tenant(&tenant_id("legacy")).await.unwrap().unwrap();
        assert_eq!((tenant.name.as_str(), tenant.created), ("Legacy", legacy_time("2026-11-20T09:00:00Z")));
        let (client, secrets) = store.client_with_secrets(&client_id("legacy-portal")).await.unwrap().unwrap();
        assert_eq!(
            (client.tenant.as_str(), client.settings.name.as_str(), client.created, client.last_used),
            ("legacy", "Legacy Portal", legacy_time("2026-11-20T10:00:00Z"), None)
        );
        assert_eq!(client.settings.redirect_uris, ["https://legacy.example/cb"]);
        let presented = SecretString::new(LEGACY_SECRET.to_owned());
        let secrets: Vec<_> = secrets.iter().map(|s| (s.slot, s.hash.matches(&presented), s.last_four.as_str())).collect();
        assert_eq!(secrets, [(Slot::Current, true, "stuv")]);
        let credentials = store.credentials(&client.id).await.unwrap();
        let dns: Vec<_> = credentials.iter().map(|c| (c.id.as_str(), c.subject_dn.as_deref())).collect();
        assert_eq!(dns, [("cred_legacy0000000000000000", Some("CN=legacy.example"))]);
        let presented = SecretString::new(LEGACY_TOKEN.to_owned());
        let stored = store.token(TokenText::token_id(&presented).unwrap()).await.unwrap().unwrap();
        assert!(stored.hash.matches(&presented));
        let grants = &stored.token.grants;
        assert_eq!(grants.permissions(), [Permission::parse("client.read").unwrap()]);
        assert_eq!(grants.tenants(), [tenant_id("legacy")]);
        assert_eq!(listing_all(store.as_ref()).await, [client]);
        // The trail the last release wrote reads back, its claims unknown.
        let trail = trail(store.as_ref()).await;
        let read: Vec<_> = trail.iter().map(|e| (e.action, e.resource_path.as_str(), e.time, e.claim)).collect();
        assert_eq!(read, [
            (Action::ClientCreate, "/clients/legacy-portal", legacy_time("2026-11-20T10:00:00Z"), None),
            (Action::TenantCreate, "/tenants/legacy", legacy_time("2026-11-20T09:00:00Z"), None),
        ]);
        store.close().await;
    }

    async fn the_last_releases_rows_take_changes_once_migrated(database) {
        last_release(&database).await;
        let store = open(&database).await;
        let client = store.client(&client_id("legacy-portal")).await.unwrap().unwrap();
        let mut after = client.clone();
        after.settings.description = Some("kept".into());
        after.modified = time::now();
        let event = client_event(&cli(), Action::ClientPatch, &after);
        let decide = |_: &Client, _: Option<&[Credential]>| Ok(Some((after.clone(), event.clone())));
        store.update_client(&client.id, Some(&client), &decide, WriteMode::Apply).await.unwrap();
        assert_eq!(store.client(&client.id).await.unwrap(), Some(after.clone()));
        store.delete_client(&after, &|c: &Client| client_event(&cli(), Action::ClientDelete, c)).await.unwrap();
        let audit = |t: &clientd::domain::tenant::Tenant| tenant_event(&cli(), Action::TenantDelete, t);
        store.delete_tenant(&tenant_id("legacy"), &audit).await.unwrap();
        let gone = store.delete_tenant(&tenant_id("legacy"), &audit).await;
        assert!(matches!(gone, Err(StoreError::NotFound(Missing::Tenant))), "{gone:?}");
        assert_eq!(
            actions(store.as_ref()).await,
            [Action::TenantDelete, Action::ClientDelete, Action::ClientPatch, Action::ClientCreate, Action::TenantCreate]
        );
        store.close().await;
    }

    async fn the_last_releases_idempotency_records_replay_and_give_way_once_migrated(database) {
        // Records kept before claims had ids: an answered one is replayed, and one whose
        // request never finished is taken over once abandoned, as any other.
        last_release(&database).await;
        let store = open(&database).await;
        let now = time::now();
        let deadlines = ClaimDeadlines { now, expired: now - chrono::TimeDelta::hours(24), abandoned: now - chrono::TimeDelta::minutes(1) };
        let claim = |key| store.claim_idempotency_key(LEGACY_ACTOR, key, LEGACY_REQUEST_HASH, uuid::Uuid::now_v7(), deadlines);
        match claim("answered").await.unwrap() {
            Claim::Replay(answer) => assert_eq!((answer.status, answer.body.as_slice()), (201, LEGACY_ANSWER)),
            other => panic!("not replayed: {other:?}"),
        }
        assert_eq!(claim("unfinished").await.unwrap(), Claim::Claimed);
        store.close().await;
    }
}
