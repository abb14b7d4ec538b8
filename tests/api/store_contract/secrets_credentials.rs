//! Secrets (rotation steps under the lock, uses recorded once) and credentials (added,
//! listed, changed and removed under the lock; one key once per client).

use clientd::domain::Missing;
use clientd::domain::audit::{Action, Event};
use clientd::domain::client::{self, Client, CredentialChange};
use clientd::domain::credential::{CreateCredential, Credential, CredentialType};
use clientd::domain::refusal::Refusal;
use clientd::domain::rotation::{self, Rotation, Slot, StoredSecret};
use clientd::domain::secret::IssuedSecret;
use clientd::domain::token::{Grants, TenantScope};
use clientd::store::{CredentialQuery, Store, StoreError, WriteMode};

use super::*;

/// A `cert_subject_dn` credential as `app::credentials::add` builds it.
pub fn dn_credential(dn: &str) -> Credential {
    let request = json!({"credential_type": "cert_subject_dn", "subject_dn": dn, "name": "mtls"});
    let request: CreateCredential = serde_json::from_value(request).unwrap();
    request.into_credential(time::now()).unwrap()
}

fn credential_event(action: Action, client: &Client, credential: &Credential) -> Event {
    let path = format!("/clients/{}/credentials/{}", client.id, credential.id);
    Event::new(&cli(), action, Some(&client.tenant), &credential.id, path)
        .of_client(&client.id)
        .with_document(credential)
}

/// Adds `credential` as `app::credentials::add` does, with the domain's limit of `most`.
pub(super) async fn add(
    store: &dyn Store,
    client: &Client,
    credential: &Credential,
    most: usize,
    mode: WriteMode,
) -> Result<CredentialChange, StoreError> {
    let decide = |current: &Client, existing: &[Credential]| {
        let added = client::decide_add(current, existing, credential, &Grants::everything(), most)?;
        Ok((
            added,
            credential_event(Action::CredentialCreate, current, credential),
        ))
    };
    store.change_credentials(&client.id, &decide, mode).await
}

/// Adds a subject-DN credential to a stored client and returns it.
pub async fn add_dn_credential(store: &dyn Store, client: &Client, dn: &str) -> Credential {
    let credential = dn_credential(dn);
    add(store, client, &credential, 10, WriteMode::Apply)
        .await
        .unwrap();
    credential
}

/// Takes a rotation step as `app::secrets::rotate` does.
pub(super) async fn rotate(
    store: &dyn Store,
    id: &ClientId,
    step: Rotation<'_>,
    action: Action,
) -> Result<(Client, Vec<StoredSecret>), StoreError> {
    let decide = |client: &Client, secrets: &[StoredSecret]| {
        let change =
            rotation::decide_rotation(client, secrets, step, &Grants::everything(), time::now())?;
        let path = format!("/clients/{}/secrets", client.id);
        let event = Event::new(
            &cli(),
            action,
            Some(&client.tenant),
            client.id.as_str(),
            path,
        )
        .of_client(&client.id);
        Ok((change, event))
    };
    store.rotate_secrets(id, &decide).await
}

/// The slots and hashes of a client's stored secrets.
async fn slots(store: &dyn Store, id: &ClientId) -> Vec<(Slot, [u8; 32])> {
    let (_, secrets) = store.client_with_secrets(id).await.unwrap().unwrap();
    secrets
        .iter()
        .map(|s| (s.slot, s.hash.as_bytes().try_into().unwrap()))
        .collect()
}

fn bytes(secret: &IssuedSecret) -> [u8; 32] {
    secret.hash.as_bytes().try_into().unwrap()
}

on_each_store! {
    async fn a_rotation_starts_completes_and_cancels_as_the_domain_decides(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = new_client("acme", "portal", json!({}));
        let first = store_client(store.as_ref(), &client).await;
        let next = IssuedSecret::generate().unwrap();
        let (read, after) = rotate(store.as_ref(), &client.id, Rotation::Start(&next), Action::SecretRotateStart).await.unwrap();
        assert_eq!(read, client);
        assert_eq!(slots(store.as_ref(), &client.id).await, [(Slot::Current, bytes(&first)), (Slot::Next, bytes(&next))]);
        assert_eq!(after.iter().map(|s| s.slot).collect::<Vec<_>>(), [Slot::Current, Slot::Next]);
        rotate(store.as_ref(), &client.id, Rotation::Complete, Action::SecretRotateComplete).await.unwrap();
        assert_eq!(slots(store.as_ref(), &client.id).await, [(Slot::Current, bytes(&next))]);
        let third = IssuedSecret::generate().unwrap();
        rotate(store.as_ref(), &client.id, Rotation::Start(&third), Action::SecretRotateStart).await.unwrap();
        rotate(store.as_ref(), &client.id, Rotation::Cancel, Action::SecretRotateCancel).await.unwrap();
        assert_eq!(slots(store.as_ref(), &client.id).await, [(Slot::Current, bytes(&next))]);
        assert_eq!(
            actions(store.as_ref()).await[..4],
            [Action::SecretRotateCancel, Action::SecretRotateStart, Action::SecretRotateComplete, Action::SecretRotateStart]
        );
    }

    async fn a_refused_rotation_step_changes_nothing_and_records_nothing(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = new_client("acme", "portal", json!({}));
        let first = store_client(store.as_ref(), &client).await;
        let refused = rotate(store.as_ref(), &client.id, Rotation::Complete, Action::SecretRotateComplete).await;
        assert!(matches!(refused, Err(StoreError::Refused(Refusal::Conflict(_)))), "{refused:?}");
        assert_eq!(slots(store.as_ref(), &client.id).await, [(Slot::Current, bytes(&first))]);
        assert_eq!(actions(store.as_ref()).await, [Action::ClientCreate, Action::TenantCreate]);
        let missing = rotate(store.as_ref(), &client_id("nobody"), Rotation::Cancel, Action::SecretRotateCancel).await;
        assert!(matches!(missing, Err(StoreError::NotFound(Missing::Client))), "{missing:?}");
    }

    async fn a_secret_use_is_recorded_once_per_window_on_the_client_and_the_secret_used(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let (_, secrets) = store.client_with_secrets(&client.id).await.unwrap().unwrap();
        let (used, hash) = (client.created + chrono::TimeDelta::seconds(90), secrets[0].hash);
        store.record_secret_use(&client.id, &hash, used, used - rotation::LAST_USED_GRANULARITY).await.unwrap();
        // A second use within the window (one recorded at or after `since`) is not news.
        let soon = used + chrono::TimeDelta::seconds(30);
        store.record_secret_use(&client.id, &hash, soon, soon - rotation::LAST_USED_GRANULARITY).await.unwrap();
        let (read, secrets) = store.client_with_secrets(&client.id).await.unwrap().unwrap();
        assert_eq!((read.last_used, secrets[0].last_used), (Some(used), Some(used)));
        let later = used + chrono::TimeDelta::seconds(61);
        store.record_secret_use(&client.id, &hash, later, later - rotation::LAST_USED_GRANULARITY).await.unwrap();
        let (read, secrets) = store.client_with_secrets(&client.id).await.unwrap().unwrap();
        assert_eq!((read.last_used, secrets[0].last_used), (Some(later), Some(later)));
        // Not a change: the trail and the client's modified time stay as they were.
        assert_eq!((read.modified, actions(store.as_ref()).await.len()), (client.modified, 2));
    }

    async fn a_use_from_before_the_client_was_made_is_not_recorded(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let (_, secrets) = store.client_with_secrets(&client.id).await.unwrap().unwrap();
        let before = client.created - chrono::TimeDelta::seconds(5);
        store.record_secret_use(&client.id, &secrets[0].hash, before, before).await.unwrap();
        let (read, secrets) = store.client_with_secrets(&client.id).await.unwrap().unwrap();
        assert_eq!(read.last_used, None);
        assert_eq!(store.record_secret_use(&client_id("nobody"), &secrets[0].hash, before, before).await.ok(), Some(()));
    }

    async fn credentials_are_added_listed_oldest_first_and_removed_under_the_lock(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let first = add_dn_credential(store.as_ref(), &client, "CN=first").await;
        let second = add_dn_credential(store.as_ref(), &client, "CN=second").await;
        assert_eq!(store.credentials(&client.id).await.unwrap(), [first.clone(), second.clone()]);
        let decide = |current: &Client, existing: &[Credential]| {
            let removed = client::decide_remove(current, existing, &first.id, &Grants::everything(), time::now())?;
            Ok((removed, credential_event(Action::CredentialDelete, current, &first)))
        };
        store.change_credentials(&client.id, &decide, WriteMode::Apply).await.unwrap();
        assert_eq!(store.credentials(&client.id).await.unwrap(), [second]);
        let refused = store.change_credentials(&client.id, &decide, WriteMode::Apply).await;
        assert!(matches!(refused, Err(StoreError::Refused(Refusal::NoSuchCredential))), "{refused:?}");
        assert_eq!(
            actions(store.as_ref()).await[..3],
            [Action::CredentialDelete, Action::CredentialCreate, Action::CredentialCreate]
        );
    }

    async fn a_new_expiry_replaces_the_credential_as_decided(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let credential = add_dn_credential(store.as_ref(), &client, "CN=a").await;
        let expires = Some(time::now() + chrono::TimeDelta::days(30));
        let decide = |current: &Client, existing: &[Credential]| {
            let change = client::decide_expiry(current, existing, &credential.id, expires, &Grants::everything(), time::now())?;
            Ok((change, credential_event(Action::CredentialPatch, current, &credential)))
        };
        let CredentialChange::Replace(replaced) = store.change_credentials(&client.id, &decide, WriteMode::Apply).await.unwrap() else {
            panic!("not a replacement");
        };
        assert_eq!(replaced.expires_at, expires);
        assert_eq!(store.credentials(&client.id).await.unwrap(), [replaced]);
    }

    async fn the_per_client_limit_is_the_domains_and_one_key_once_is_the_stores(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let kept = add_dn_credential(store.as_ref(), &client, "CN=a").await;
        let over = add(store.as_ref(), &client, &dn_credential("CN=b"), 1, WriteMode::Apply).await;
        assert!(matches!(over, Err(StoreError::Refused(Refusal::Conflict(_)))), "{over:?}");
        // A decision that lets the same key in twice still meets the store's own rule.
        let same = dn_credential("CN=a");
        let decide = |current: &Client, _: &[Credential]| {
            Ok((CredentialChange::Add(same.clone()), credential_event(Action::CredentialCreate, current, &same)))
        };
        let twice = store.change_credentials(&client.id, &decide, WriteMode::Apply).await;
        assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
        assert_eq!(store.credentials(&client.id).await.unwrap(), [kept]);
        assert_eq!(actions(store.as_ref()).await[0], Action::CredentialCreate);
        assert_eq!(actions(store.as_ref()).await.len(), 3);
    }

    async fn a_dry_run_credential_change_answers_and_stores_nothing(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = create_client(store.as_ref(), "acme", "portal").await;
        let credential = dn_credential("CN=a");
        let CredentialChange::Add(added) = add(store.as_ref(), &client, &credential, 2, WriteMode::DryRun).await.unwrap() else {
            panic!("not an addition");
        };
        assert_eq!(added, credential);
        assert_eq!(store.credentials(&client.id).await.unwrap(), []);
        assert_eq!(actions(store.as_ref()).await.len(), 2);
        let missing = add(store.as_ref(), &new_client("acme", "nobody", json!({})), &credential, 2, WriteMode::DryRun).await;
        assert!(matches!(missing, Err(StoreError::NotFound(Missing::Client))), "{missing:?}");
    }

    async fn credentials_across_clients_page_by_id_within_scope_and_filters(store) {
        create_tenant(store.as_ref(), "acme").await;
        create_tenant(store.as_ref(), "other").await;
        let a = create_client(store.as_ref(), "acme", "a").await;
        let b = create_client(store.as_ref(), "other", "b").await;
        let mut made = [
            add_dn_credential(store.as_ref(), &a, "CN=a1").await,
            add_dn_credential(store.as_ref(), &a, "CN=a2").await,
            add_dn_credential(store.as_ref(), &b, "CN=b1").await,
        ];
        made.sort_by(|x, y| x.id.cmp(&y.id));
        let query = |tenants, client, after, n| CredentialQuery {
            tenants, expires_before: None, client, credential_type: Some(CredentialType::CertSubjectDn), after, limit: limit(n),
        };
        let first = store.list_credentials(&query(TenantScope::All, None, None, 2)).await.unwrap();
        let ids = |items: &[clientd::store::ClientCredential]| items.iter().map(|c| c.credential.id.clone()).collect::<Vec<_>>();
        let (two, second) = (vec![made[0].id.clone(), made[1].id.clone()], made[1].id.clone());
        assert_eq!((ids(&first.items), first.next_cursor.clone()), (two, Some(second)));
        let rest = store.list_credentials(&query(TenantScope::All, None, first.next_cursor.as_deref(), 2)).await.unwrap();
        assert_eq!((ids(&rest.items), rest.next_cursor), (vec![made[2].id.clone()], None));
        let other = [tenant_id("other")];
        let scoped = store.list_credentials(&query(TenantScope::Only(&other), None, None, 10)).await.unwrap();
        assert_eq!(scoped.items.iter().map(|c| (c.client_id.as_str(), c.tenant.as_str())).collect::<Vec<_>>(), [("b", "other")]);
        let of_a = store.list_credentials(&query(TenantScope::All, Some(&a.id), None, 10)).await.unwrap();
        assert_eq!(of_a.items.len(), 2);
        let mut keys = store.list_credentials(&query(TenantScope::All, None, None, 10)).await.unwrap();
        keys.items.retain(|c| c.credential.credential_type != CredentialType::CertSubjectDn);
        assert!(keys.items.is_empty());
    }
}
