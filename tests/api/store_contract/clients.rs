//! Clients: create, read, dry runs, and deletion only of the client as it was read.

use clientd::domain::Missing;
use clientd::domain::audit::Action;
use clientd::domain::client::Client;
use clientd::domain::rotation::Slot;
use clientd::domain::secret::IssuedSecret;
use clientd::store::{StoreError, WriteMode};

use super::*;

fn deleted(client: &Client) -> clientd::domain::audit::Event {
    client_event(&cli(), Action::ClientDelete, client)
}

on_each_store! {
    async fn a_created_client_reads_back_exactly_with_its_first_secret_and_event(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = new_client("acme", "portal", json!({"description": "Line one\n\tline two"}));
        let secret = IssuedSecret::generate().unwrap();
        let event = client_event(&cli(), Action::ClientCreate, &client);
        (store.create_client(&client, Some(&secret), &event, WriteMode::Apply)).await.unwrap();
        assert_eq!(store.client(&client.id).await.unwrap().as_ref(), Some(&client));
        let (read, secrets) = store.client_with_secrets(&client.id).await.unwrap().unwrap();
        let secrets: Vec<_> = (secrets.iter())
            .map(|s| (s.slot, s.hash, s.last_four.as_str(), s.created, s.last_used))
            .collect();
        assert_eq!(read, client);
        assert_eq!(
            secrets,
            [(Slot::Current, secret.hash, secret.last_four.as_str(), client.created, None)]
        );
        assert_eq!(trail(store.as_ref()).await[0], as_read(&event));
    }

    async fn a_client_created_without_a_secret_has_none(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = new_client("acme", "spa", json!({"app_type": "spa"}));
        let event = client_event(&cli(), Action::ClientCreate, &client);
        store.create_client(&client, None, &event, WriteMode::Apply).await.unwrap();
        let (read, secrets) = store.client_with_secrets(&client.id).await.unwrap().unwrap();
        assert_eq!((read, secrets), (client, vec![]));
    }

    async fn an_unknown_client_reads_as_none(store) {
        assert_eq!(store.client(&client_id("nobody")).await.unwrap(), None);
        assert!(store.client_with_secrets(&client_id("nobody")).await.unwrap().is_none());
    }

    async fn a_client_with_a_taken_id_is_a_conflict_and_the_first_stays(store) {
        create_tenant(store.as_ref(), "acme").await;
        create_tenant(store.as_ref(), "other").await;
        let first = create_client(store.as_ref(), "acme", "portal").await;
        let second = new_client("other", "portal", json!({"name": "Second"}));
        let event = client_event(&cli(), Action::ClientCreate, &second);
        for commit in [WriteMode::Apply, WriteMode::DryRun] {
            let refused = store.create_client(&second, None, &event, commit).await;
            assert!(matches!(refused, Err(StoreError::Conflict(_))), "{commit:?}: {refused:?}");
        }
        assert_eq!(store.client(&first.id).await.unwrap(), Some(first));
        assert_eq!(
            actions(store.as_ref()).await,
            [Action::ClientCreate, Action::TenantCreate, Action::TenantCreate]
        );
    }

    async fn a_client_in_a_missing_tenant_is_tenant_not_found_and_not_stored(store) {
        let client = new_client("nowhere", "portal", json!({}));
        let event = client_event(&cli(), Action::ClientCreate, &client);
        let secret = IssuedSecret::generate().unwrap();
        for (commit, secret) in [(WriteMode::Apply, Some(&secret)), (WriteMode::DryRun, None)] {
            let refused = store.create_client(&client, secret, &event, commit).await;
            assert!(
                matches!(refused, Err(StoreError::NotFound(Missing::Tenant))),
                "{commit:?}: {refused:?}"
            );
        }
        assert_eq!(store.client(&client.id).await.unwrap(), None);
        assert_eq!(actions(store.as_ref()).await, []);
    }

    async fn a_dry_run_create_stores_nothing(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = new_client("acme", "portal", json!({}));
        let event = client_event(&cli(), Action::ClientCreate, &client);
        store.create_client(&client, None, &event, WriteMode::DryRun).await.unwrap();
        assert_eq!(store.client(&client.id).await.unwrap(), None);
        assert_eq!(actions(store.as_ref()).await, [Action::TenantCreate]);
        // The id is still free for the real create.
        store.create_client(&client, None, &event, WriteMode::Apply).await.unwrap();
        assert_eq!(store.client(&client.id).await.unwrap(), Some(client));
    }

    async fn a_deleted_client_goes_with_its_secrets_credentials_and_an_event(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        super::secrets_credentials::add_dn_credential(store.as_ref(), &client, "CN=a").await;
        store.delete_client(&client, &deleted).await.unwrap();
        assert_eq!(store.client(&client.id).await.unwrap(), None);
        assert!(store.client_with_secrets(&client.id).await.unwrap().is_none());
        assert_eq!(store.credentials(&client.id).await.unwrap(), []);
        let event = trail(store.as_ref()).await.remove(0);
        assert_eq!(
            (event.action, event.client, event.document),
            (Action::ClientDelete, Some(client.id.clone()), Some(client.document_value()))
        );
        let again = store.delete_client(&client, &deleted).await;
        assert!(matches!(again, Err(StoreError::NotFound(Missing::Client))), "{again:?}");
        // The id is free again, for a client with no trace of the old one's secrets.
        let reborn = create_client(store.as_ref(), "acme", "portal").await;
        let (_, secrets) = store.client_with_secrets(&reborn.id).await.unwrap().unwrap();
        assert_eq!(secrets.len(), 1);
        assert_eq!(store.credentials(&reborn.id).await.unwrap(), []);
    }

    async fn a_client_that_moved_to_another_tenant_since_it_was_read_is_not_deleted(store) {
        create_tenant(store.as_ref(), "acme").await;
        create_tenant(store.as_ref(), "other").await;
        let read = create_client(store.as_ref(), "acme", "portal").await;
        let moved = super::updates::move_to(store.as_ref(), &read, "other").await;
        let refused = store.delete_client(&read, &deleted).await;
        assert!(matches!(refused, Err(StoreError::NotFound(Missing::Client))), "{refused:?}");
        assert_eq!(store.client(&read.id).await.unwrap(), Some(moved));
        assert_eq!(actions(store.as_ref()).await[0], Action::ClientPatch);
    }

    async fn a_client_changed_in_its_tenant_since_it_was_read_is_deleted_as_it_was_when_it_went(store) {
        create_tenant(store.as_ref(), "acme").await;
        let read = create_client(store.as_ref(), "acme", "portal").await;
        let renamed = super::updates::rename(store.as_ref(), &read, "Renamed").await;
        store.delete_client(&read, &deleted).await.unwrap();
        assert_eq!(store.client(&read.id).await.unwrap(), None);
        // The event shows the row the deletion removed, not the stale one it was given.
        let event = trail(store.as_ref()).await.remove(0);
        assert_eq!(
            (event.action, event.document),
            (Action::ClientDelete, Some(renamed.document_value()))
        );
    }
}
