//! A client's credentials (Auth0): add, list, read, change the expiry, remove.

use serde_json::json;

use super::{App, Caller, Error, Result, clients};
use crate::domain::Missing;
use crate::domain::audit::{Action, Event};
use crate::domain::change::ChangeContext;
use crate::domain::client::{self, Client, ClientId, CredentialChange};
use crate::domain::credential::{CreateCredential, Credential, CredentialType};
use crate::domain::time::{self, Timestamp};
use crate::store::{CredentialDecision, CredentialQuery, WriteMode};

/// A credential beside the client that holds it, as the listing of all credentials shows it.
pub use crate::store::ClientCredential;

/// Applies a decision under the client's lock and returns the credential it touched.
async fn change(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    decide: &CredentialDecision<'_>,
    mode: WriteMode,
) -> Result<Credential> {
    clients::require_writable(app, caller, client).await?;
    let _forget = (mode == WriteMode::Apply).then(|| {
        app.cache
            .forget_after(crate::store::Change::Client(client.clone()))
    });
    let change = app.store.change_credentials(client, decide, mode).await?;
    Ok(touched(&change).clone())
}

/// The credential a change adds, replaces or removes.
fn touched(change: &CredentialChange) -> &Credential {
    match change {
        CredentialChange::Add(c) | CredentialChange::Replace(c) | CredentialChange::Remove(c) => c,
    }
}

/// A dry run makes every check a real one makes and keeps nothing.
pub async fn add(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    request: CreateCredential,
    mode: WriteMode,
) -> Result<Credential> {
    let new = request.into_credential(time::now())?;
    let most = app.max_credentials;
    let decide = |current: &Client, existing: &[Credential]| {
        let added = client::decide_add(current, existing, &new, &caller.grants, most)?;
        let event = event(&caller.change, Action::CredentialCreate, current, &new);
        Ok((added, event))
    };
    change(app, caller, client, &decide, mode).await
}

/// Credentials across every client of the tenants the caller can read, by id: "which
/// credentials expire in the next 30 days" is one call.
pub async fn list_all(
    app: &App,
    caller: &Caller,
    filters: &CredentialFilters,
    after: Option<&str>,
    limit: crate::domain::page::Limit,
) -> Result<crate::domain::page::Page<ClientCredential>> {
    let query = CredentialQuery {
        tenants: caller.grants.visible_tenants(),
        expires_before: filters.expires_before,
        client: filters.client.as_ref(),
        credential_type: filters.credential_type,
        after,
        limit,
    };
    Ok(app.store.list_credentials(&query).await?)
}

/// The filters of a listing across clients.
#[derive(Debug, Clone, Default)]
pub struct CredentialFilters {
    pub expires_before: Option<Timestamp>,
    pub client: Option<ClientId>,
    pub credential_type: Option<CredentialType>,
}

/// Oldest first.
pub async fn list(app: &App, caller: &Caller, client: &ClientId) -> Result<Vec<Credential>> {
    let client = clients::read(app, caller, client).await?;
    Ok(app.store.credentials(&client.client.id).await?)
}

pub async fn read(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    credential: &str,
) -> Result<Credential> {
    (list(app, caller, client).await?.into_iter())
        .find(|c| c.id == credential)
        .ok_or(Error::NotFound(Missing::Credential))
}

/// `expires_at` moves, or is cleared with None; nothing else can change.
pub async fn change_expiry(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    credential: &str,
    expires_at: Option<Timestamp>,
) -> Result<Credential> {
    let expires_at = expires_at.map(time::truncate);
    let now = time::now();
    let decide = |current: &Client, existing: &[Credential]| {
        let change = client::decide_expiry(
            current,
            existing,
            credential,
            expires_at,
            &caller.grants,
            now,
        )?;
        let patch = json!({"expires_at": touched(&change).expires_at.map(time::rfc3339)});
        let event = event(
            &caller.change,
            Action::CredentialPatch,
            current,
            touched(&change),
        )
        .with_patch(patch, vec!["expires_at".to_owned()]);
        Ok((change, event))
    };
    change(app, caller, client, &decide, WriteMode::Apply).await
}

pub async fn remove(app: &App, caller: &Caller, client: &ClientId, credential: &str) -> Result<()> {
    let now = time::now();
    let decide = |current: &Client, existing: &[Credential]| {
        let change = client::decide_remove(current, existing, credential, &caller.grants, now)?;
        let event = event(
            &caller.change,
            Action::CredentialDelete,
            current,
            touched(&change),
        );
        Ok((change, event))
    };
    change(app, caller, client, &decide, WriteMode::Apply)
        .await
        .map(|_| ())
}

/// A credential's event; its document is the API's view, which never holds the PEM.
fn event(
    change: &ChangeContext,
    action: Action,
    client: &Client,
    credential: &Credential,
) -> Event {
    let path = format!("/clients/{}/credentials/{}", client.id, credential.id);
    Event::new(change, action, Some(&client.tenant), &credential.id, path)
        .of_client(&client.id)
        .with_document(credential)
}
