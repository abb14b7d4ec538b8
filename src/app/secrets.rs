//! Client secrets: zero-downtime rotation (Stytch), verification for gateways and
//! authorization servers, and rotation telemetry.

use serde_json::json;

use super::limits::VerifyKey;
use super::{App, Caller, Error, Result};
use crate::domain::Missing;
use crate::domain::audit::{Action, Event};
use crate::domain::change::ChangeContext;
use crate::domain::client::{Client, ClientId};
use crate::domain::rotation::{self, Rotation, SecretChange, Slot, StoredSecret, in_slot};
use crate::domain::secret::{IssuedSecret, SecretString};
use crate::domain::time;
use crate::store::Change;

/// A step of a rotation, as a caller asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Start,
    Complete,
    Cancel,
}

/// A client after a rotation step, with its secrets; `next` only when one started.
pub struct Rotated {
    pub client: Client,
    pub secrets: Vec<StoredSecret>,
    pub next: Option<IssuedSecret>,
}

pub async fn rotate(app: &App, caller: &Caller, id: &ClientId, step: Step) -> Result<Rotated> {
    super::clients::require_writable(app, caller, id).await?;
    let next = match step {
        Step::Start => Some(IssuedSecret::generate()?),
        Step::Complete | Step::Cancel => None,
    };
    let rotation = match (&next, step) {
        (Some(next), _) => Rotation::Start(next),
        (None, Step::Complete) => Rotation::Complete,
        (None, _) => Rotation::Cancel,
    };
    let now = time::now();
    let action = match step {
        Step::Start => Action::SecretRotateStart,
        Step::Complete => Action::SecretRotateComplete,
        Step::Cancel => Action::SecretRotateCancel,
    };
    let decide = |client: &Client, secrets: &[StoredSecret]| {
        let change = rotation::decide_rotation(client, secrets, rotation, &caller.grants, now)?;
        let event = step_event(&caller.change, action, client, secrets, &change);
        Ok((change, event))
    };
    let _forget = app.cache.forget_after(Change::Client(id.clone()));
    let (client, secrets) = app.store.rotate_secrets(id, &decide).await?;
    Ok(Rotated {
        client,
        secrets,
        next,
    })
}

/// A rotation step's event: the telemetry view of the secrets after it (last four,
/// created, last used), never a secret.
pub(super) fn step_event(
    change: &ChangeContext,
    action: Action,
    client: &Client,
    secrets: &[StoredSecret],
    step: &SecretChange,
) -> Event {
    let after = rotation::after(secrets, step);
    let document = json!({
        "client_id": client.id,
        "current": in_slot(&after, Slot::Current),
        "next": in_slot(&after, Slot::Next),
    });
    let path = format!("/clients/{}/secrets", client.id);
    super::clients::event_at(change, action, client, path).with_document(&document)
}

/// Which of the client's secrets `presented` is. A caller whose guesses at this client
/// failed too often is refused, right secret or not, until its limit lets it try again;
/// other callers verifying the same client are not.
pub async fn verify(
    app: &App,
    caller: &Caller,
    id: &ClientId,
    presented: &SecretString,
) -> Result<Slot> {
    caller.require_verify()?;
    let cached = (app.cache.client(app.store.as_ref(), id).await?)
        .filter(|cached| caller.grants.can_verify(&cached.client.tenant))
        .ok_or(Error::NotFound(Missing::Client))?;
    let (client, secrets) = (&cached.client, &cached.secrets);
    let key = VerifyKey::new(&client.id, &caller.change);
    if let Some(retry_after) = app.verify_failures.refused(&key) {
        return Err(Error::TooManyFailures {
            retry_after,
            failed: false,
        });
    }
    let slot = rotation::verify(client, secrets, presented).map_err(|failure| {
        match app.verify_failures.record_failure(&key) {
            Some(retry_after) => Error::TooManyFailures {
                retry_after,
                failed: true,
            },
            None => Error::SecretRefused(failure),
        }
    })?;
    let now = time::now();
    if let Some(secret) = in_slot(secrets, slot)
        && (rotation::use_is_news(secret.last_used, now, app.autopilot.granularity)
            || rotation::use_is_news(client.last_used, now, app.autopilot.granularity))
    {
        app.secret_uses.note(&client.id, secret.hash, now);
    }
    Ok(slot)
}
