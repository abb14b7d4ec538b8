//! Decisions on a client's credentials, made under the client's lock: who may change them,
//! the per-client limit, one key once, and the credential each authentication method needs.

use super::{Client, check_auth_method};
use crate::domain::Violations;
use crate::domain::credential::Credential;
use crate::domain::refusal::Refusal;
use crate::domain::time::Timestamp;
use crate::domain::token::Grants;

/// What a change to a client's credentials does, decided under the client's lock.
#[derive(Debug, Clone)]
pub enum CredentialChange {
    Add(Credential),
    Replace(Credential),
    Remove(Credential),
}

/// The credential `id` of a client the caller may change.
fn writable_credential<'a>(
    client: &Client,
    existing: &'a [Credential],
    id: &str,
    grants: &Grants,
) -> Result<&'a Credential, Refusal> {
    super::writable(client, grants)?;
    (existing.iter())
        .find(|c| c.id == id)
        .ok_or(Refusal::NoSuchCredential)
}

pub fn decide_add(
    client: &Client,
    existing: &[Credential],
    new: &Credential,
    grants: &Grants,
    most: usize,
) -> Result<CredentialChange, Refusal> {
    super::writable(client, grants)?;
    if existing.len() >= most {
        return Err(Refusal::Conflict(format!(
            "this client already has {} credentials, the most allowed (CLIENTD_MAX_CREDENTIALS_PER_CLIENT); delete one first",
            existing.len()
        )));
    }
    if let Some(same) = existing
        .iter()
        .find(|c| c.key_fingerprint == new.key_fingerprint)
    {
        return Err(Refusal::Conflict(format!(
            "this client already has this key, as credential {}",
            same.id
        )));
    }
    Ok(CredentialChange::Add(new.clone()))
}

pub fn decide_expiry(
    client: &Client,
    existing: &[Credential],
    id: &str,
    expires_at: Option<Timestamp>,
    grants: &Grants,
    now: Timestamp,
) -> Result<CredentialChange, Refusal> {
    let current = writable_credential(client, existing, id, grants)?;
    let mut v = Violations::default();
    if let Some(at) = expires_at {
        if at <= now {
            v.add("/expires_at", "must be in the future (or null to clear it)");
        } else if current
            .certificate_expires_at
            .is_some_and(|not_after| at > not_after)
        {
            v.add(
                "/expires_at",
                "must not be later than the certificate's notAfter",
            );
        }
    }
    if !v.is_empty() {
        return Err(Refusal::Invalid(v.into_invalid()));
    }
    Ok(CredentialChange::Replace(Credential {
        expires_at,
        updated_at: now,
        ..current.clone()
    }))
}

pub fn decide_remove(
    client: &Client,
    existing: &[Credential],
    id: &str,
    grants: &Grants,
    now: Timestamp,
) -> Result<CredentialChange, Refusal> {
    let current = writable_credential(client, existing, id, grants)?;
    let rest: Vec<_> = existing.iter().filter(|c| c.id != id).cloned().collect();
    let method = client.settings.client_auth_method;
    if check_auth_method(method, existing, now).is_ok()
        && check_auth_method(method, &rest, now).is_err()
    {
        return Err(Refusal::Conflict(format!(
            "this is the last live {} credential of a client whose clientAuthMethod needs one; change clientAuthMethod first",
            current.credential_type.as_str()
        )));
    }
    Ok(CredentialChange::Remove(current.clone()))
}

#[cfg(test)]
mod tests;
