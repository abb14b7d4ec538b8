//! A client's credentials (Auth0): add, list, read, change the expiry, remove.

use super::{App, Caller, Error, Result, clients};
use crate::domain::Missing;
use crate::domain::client::{self, Client, ClientId, CredentialChange};
use crate::domain::credential::{CreateCredential, Credential};
use crate::domain::time::{self, Timestamp};
use crate::store::CredentialDecision;

/// Applies a decision under the client's lock and returns the credential it touched.
async fn change(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    decide: &CredentialDecision<'_>,
) -> Result<Credential> {
    let change = app.store.change_credentials(client, decide, &caller.change);
    match change.await? {
        CredentialChange::Add(c) | CredentialChange::Replace(c) | CredentialChange::Remove(c) => {
            Ok(c)
        }
    }
}

pub async fn add(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    request: CreateCredential,
) -> Result<Credential> {
    let new = request.into_credential(time::now())?;
    let most = app.max_credentials;
    let decide = |current: &Client, existing: &[Credential]| {
        client::decide_add(current, existing, &new, &caller.grants, most)
    };
    change(app, caller, client, &decide).await
}

/// Oldest first.
pub async fn list(app: &App, caller: &Caller, client: &ClientId) -> Result<Vec<Credential>> {
    let client = clients::read(app, caller, client).await?;
    Ok(app.store.credentials(&client.id).await?)
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
        client::decide_expiry(
            current,
            existing,
            credential,
            expires_at,
            &caller.grants,
            now,
        )
    };
    change(app, caller, client, &decide).await
}

pub async fn remove(app: &App, caller: &Caller, client: &ClientId, credential: &str) -> Result<()> {
    let now = time::now();
    let decide = |current: &Client, existing: &[Credential]| {
        client::decide_remove(current, existing, credential, &caller.grants, now)
    };
    change(app, caller, client, &decide).await.map(|_| ())
}
