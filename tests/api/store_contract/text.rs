//! Text at its edges: NUL, which Postgres text and jsonb cannot hold, and large documents.

use clientd::domain::audit::Action;
use clientd::domain::client::Client;
use clientd::domain::credential::Credential;
use clientd::store::{Store, StoreError, WriteMode};

use super::*;

/// A client of `acme` whose name and trusted metadata hold NUL, which the domain refuses
/// before any store sees it (src/domain/text.rs): built behind its back.
fn with_nul() -> Client {
    let mut client = new_client("acme", "nul", json!({}));
    client.settings.name = "a\u{0}b".to_owned();
    client
        .settings
        .trusted_metadata
        .insert("k".into(), json!("v\u{0}"));
    client
}

/// Tries to store `client`: what the store answered, what it then holds, and the trail.
async fn try_store(
    store: &dyn Store,
    client: &Client,
) -> (Result<(), StoreError>, Option<Client>, Vec<Action>) {
    let event = client_event(&cli(), Action::ClientCreate, client);
    let stored = store
        .create_client(client, None, &event, WriteMode::Apply)
        .await;
    (
        stored,
        store.client(&client.id).await.unwrap(),
        actions(store).await,
    )
}

on_each_store! {
    /// NUL is outside the contract (the domain refuses it before any store sees it; see
    /// `Store`), but a backend given one must still never store it altered: SQLite keeps it
    /// exactly, Postgres refuses it with nothing stored.
    async fn a_nul_in_a_clients_text_is_never_stored_altered(store) {
        create_tenant(store.as_ref(), "acme").await;
        let client = with_nul();
        match try_store(store.as_ref(), &client).await {
            (Ok(()), read, _) => assert_eq!(read, Some(client)),
            (Err(_), read, trail) => assert_eq!((read, trail), (None, vec![Action::TenantCreate])),
        }
    }

    async fn text_beyond_ascii_and_json_escapes_is_stored_exactly(store) {
        create_tenant(store.as_ref(), "acme").await;
        let tricky = "Ünïcödé — 💳 \"quoted\" \\ back\u{1f}\u{7f}\u{2028}";
        let mut client = new_client("acme", "tricky", json!({"description": "tab\there\r\nnext"}));
        client.settings.name = tricky.to_owned();
        client.settings.trusted_metadata.insert(tricky.to_owned(), json!({"nested": [tricky, 1.5, -0, null]}));
        let (stored, read, _) = try_store(store.as_ref(), &client).await;
        assert!(stored.is_ok(), "{stored:?}");
        assert_eq!(read, Some(client));
    }

    async fn a_200_kb_settings_document_is_stored_read_listed_and_changed_exactly(store) {
        create_tenant(store.as_ref(), "acme").await;
        let mut client = new_client("acme", "large", json!({}));
        client.settings.trusted_metadata.insert("blob".into(), json!("y".repeat(200 * 1024)));
        store_client(store.as_ref(), &client).await;
        assert_eq!(store.client(&client.id).await.unwrap().as_ref(), Some(&client));
        let mut after = client.clone();
        after.settings.trusted_metadata.insert("more".into(), json!("z".repeat(200 * 1024)));
        after.modified = time::now();
        let event = client_event(&cli(), Action::ClientPatch, &after);
        let decide = |_: &Client, _: Option<&[Credential]>| Ok(Some((after.clone(), event.clone())));
        store.update_client(&client.id, Some(&client), &decide, WriteMode::Apply).await.unwrap();
        assert_eq!(store.client(&client.id).await.unwrap().as_ref(), Some(&after));
        assert_eq!(listing_all(store.as_ref()).await, [after]);
        assert_eq!(trail(store.as_ref()).await[0], as_read(&event));
    }
}
