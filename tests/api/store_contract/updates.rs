//! `update_client`: the domain decides under the lock, the store writes exactly what it
//! decided (or nothing), and concurrent updates apply one after the other.

use clientd::domain::Missing;
use clientd::domain::audit::{Action, Event};
use clientd::domain::client::Client;
use clientd::domain::credential::Credential;
use clientd::domain::refusal::Refusal;
use clientd::store::{Store, StoreError, WriteMode};

use super::*;

/// `client` changed by `change`, stamped now, with the event `app::clients::patch` records.
fn changed(client: &Client, change: impl FnOnce(&mut Client)) -> (Client, Event) {
    let mut after = client.clone();
    change(&mut after);
    after.modified = time::now();
    let event = client_event(&cli(), Action::ClientPatch, &after);
    (after, event)
}

/// Renames the stored client (as it is now) and returns it as stored.
pub async fn rename(store: &dyn Store, client: &Client, name: &str) -> Client {
    let decide = |current: &Client, _: Option<&[Credential]>| {
        Ok(Some(changed(current, |c| {
            c.settings.name = name.to_owned()
        })))
    };
    (store.update_client(&client.id, None, &decide, WriteMode::Apply))
        .await
        .unwrap()
}

/// Moves the stored client to `tenant` and returns it as stored.
pub async fn move_to(store: &dyn Store, client: &Client, tenant: &str) -> Client {
    let decide = |current: &Client, _: Option<&[Credential]>| {
        Ok(Some(changed(current, |c| c.tenant = tenant_id(tenant))))
    };
    (store.update_client(&client.id, None, &decide, WriteMode::Apply))
        .await
        .unwrap()
}

/// Appends `owner` to the client's owners as it is when the store asks.
async fn add_owner(store: &dyn Store, id: &ClientId, seen: Option<&Client>, owner: String) {
    let decide = |current: &Client, _: Option<&[Credential]>| {
        Ok(Some(changed(current, |c| {
            c.settings.owners.push(owner.clone())
        })))
    };
    store
        .update_client(id, seen, &decide, WriteMode::Apply)
        .await
        .unwrap();
}

on_each_store! {
    async fn a_decided_change_is_stored_exactly_with_its_event(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let (after, event) = changed(&client, |c| c.settings.description = Some("new".into()));
        let decide = |_: &Client, _: Option<&[Credential]>| Ok(Some((after.clone(), event.clone())));
        for seen in [Some(&client), None] {
            let written = store.update_client(&client.id, seen, &decide, WriteMode::Apply).await;
            assert_eq!(written.unwrap(), after);
        }
        assert_eq!(store.client(&client.id).await.unwrap(), Some(after));
        assert_eq!(trail(store.as_ref()).await[0], as_read(&event));
    }

    async fn a_refusal_leaves_the_client_as_it_was_and_records_nothing(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let decide = |_: &Client, _: Option<&[Credential]>| Err(Refusal::Stale);
        for (seen, commit) in [(Some(&client), WriteMode::Apply), (None, WriteMode::Apply), (None, WriteMode::DryRun)] {
            let refused = store.update_client(&client.id, seen, &decide, commit).await;
            assert!(matches!(refused, Err(StoreError::Refused(Refusal::Stale))), "{refused:?}");
        }
        assert_eq!(store.client(&client.id).await.unwrap(), Some(client));
        assert_eq!(actions(store.as_ref()).await, [Action::ClientCreate, Action::TenantCreate]);
    }

    async fn a_decision_to_change_nothing_returns_the_client_and_writes_nothing(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let decide = |_: &Client, _: Option<&[Credential]>| Ok(None);
        let kept = store.update_client(&client.id, Some(&client), &decide, WriteMode::Apply).await;
        assert_eq!(kept.unwrap(), client);
        assert_eq!(store.client(&client.id).await.unwrap(), Some(client));
        assert_eq!(actions(store.as_ref()).await.len(), 2);
    }

    async fn a_change_decided_on_a_stale_read_is_decided_again_on_the_row(store) {
        create_tenant(store.as_ref(), "acme").await;
        let stale = create_client(store.as_ref(), "acme", "portal").await;
        add_owner(store.as_ref(), &stale.id, None, "first".into()).await;
        add_owner(store.as_ref(), &stale.id, Some(&stale), "second".into()).await;
        let stored = store.client(&stale.id).await.unwrap().unwrap();
        assert_eq!(stored.settings.owners, ["first", "second"]);
    }

    async fn concurrent_updates_of_one_client_all_apply_one_after_the_other(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        // Each starts from the same read, as replicas holding it in memory would.
        let writers: Vec<_> = (0..6)
            .map(|i| {
                let (store, client) = (store.clone(), client.clone());
                tokio::spawn(async move {
                    add_owner(store.as_ref(), &client.id, Some(&client), format!("o{i}")).await;
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let mut owners = store.client(&client.id).await.unwrap().unwrap().settings.owners;
        owners.sort();
        assert_eq!(owners, ["o0", "o1", "o2", "o3", "o4", "o5"]);
        // One event each, each holding the owners as that update left them: a chain.
        let trail = trail(store.as_ref()).await;
        let lengths: Vec<_> = (trail.iter())
            .filter(|e| e.action == Action::ClientPatch)
            .map(|e| e.document.as_ref().unwrap()["owners"].as_array().unwrap().len())
            .collect();
        assert_eq!(lengths, [6, 5, 4, 3, 2, 1]);
    }

    async fn a_decision_that_needs_the_credentials_is_asked_again_with_them(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        super::secrets_credentials::add_dn_credential(store.as_ref(), &client, "CN=a").await;
        let decide = |current: &Client, credentials: Option<&[Credential]>| {
            let credentials = credentials.ok_or(Refusal::NeedsCredentials)?;
            let names = credentials.iter().map(|c| c.subject_dn.clone().unwrap()).collect();
            Ok(Some(changed(current, |c| c.settings.owners = names)))
        };
        for seen in [Some(&client), None] {
            let written = store.update_client(&client.id, seen, &decide, WriteMode::Apply).await;
            assert_eq!(written.unwrap().settings.owners, ["CN=a"]);
        }
    }

    async fn an_update_of_a_missing_client_is_client_not_found(store) {
        let decide = |current: &Client, _: Option<&[Credential]>| Ok(Some(changed(current, |_| {})));
        for commit in [WriteMode::Apply, WriteMode::DryRun] {
            let missing = store.update_client(&client_id("nobody"), None, &decide, commit).await;
            assert!(matches!(missing, Err(StoreError::NotFound(Missing::Client))), "{missing:?}");
        }
    }

    async fn a_move_to_a_missing_tenant_is_tenant_not_found_and_changes_nothing(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let decide = |current: &Client, _: Option<&[Credential]>| {
            Ok(Some(changed(current, |c| c.tenant = tenant_id("nowhere"))))
        };
        for (seen, commit) in [(Some(&client), WriteMode::Apply), (None, WriteMode::Apply), (None, WriteMode::DryRun)] {
            let refused = store.update_client(&client.id, seen, &decide, commit).await;
            assert!(matches!(refused, Err(StoreError::NotFound(Missing::Tenant))), "{refused:?}");
        }
        assert_eq!(store.client(&client.id).await.unwrap(), Some(client));
        assert_eq!(actions(store.as_ref()).await.len(), 2);
    }

    async fn a_dry_run_update_answers_the_change_and_stores_nothing(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let (after, event) = changed(&client, |c| c.settings.enabled = false);
        let decide = |_: &Client, _: Option<&[Credential]>| Ok(Some((after.clone(), event.clone())));
        let rehearsed = store.update_client(&client.id, Some(&client), &decide, WriteMode::DryRun).await;
        assert_eq!(rehearsed.unwrap(), after);
        assert_eq!(store.client(&client.id).await.unwrap(), Some(client));
        assert_eq!(actions(store.as_ref()).await.len(), 2);
    }
}
