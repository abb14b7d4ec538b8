//! The rotation autopilot (DESIGN 16): every `CLIENTD_AUTOPILOT_INTERVAL_SECS` on every
//! replica, it reports stale secrets, completes rotations whose old secret fell idle after
//! the next one was used, reports overdue rotations, and warns of expiring credentials.
//! Each run takes at most one batch of each from the store's indexes of what is due; the
//! store's conditional writes make each completion and warning happen once, whichever
//! replica gets there first.

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;

use super::{App, Result};
use crate::config::Settings;
use crate::domain::audit::{Action, Event};
use crate::domain::autopilot::{self, ExpiryNoted, expiry_warnings, judge_rotation};
use crate::domain::change::{Actor, ChangeContext};
use crate::domain::client::{Client, ClientId};
use crate::domain::refusal::Refusal;
use crate::domain::rotation::{SecretChange, Slot, StoredSecret, in_slot};
use crate::domain::time::{self, Timestamp};
use crate::store::{Change, DueRotation, ExpiringCredential, StaleSecret, StoreError};

/// The most of each kind (stale secrets, rotations, credentials) one run handles; what is
/// left is due still, and the next run takes it.
const BATCH: i64 = 500;

#[derive(Debug, Clone, Copy)]
pub struct AutopilotConfig {
    /// How often a use is recorded at most (`CLIENTD_LAST_USED_GRANULARITY_SECS`).
    pub granularity: TimeDelta,
    pub interval: Duration,
    /// How long before a credential's expiry it is warned of.
    pub expiry_warning: TimeDelta,
}

impl AutopilotConfig {
    pub fn new(settings: &Settings) -> Self {
        Self {
            granularity: TimeDelta::seconds(i64::from(settings.last_used_granularity_secs)),
            interval: Duration::from_secs(u64::from(settings.autopilot_interval_secs)),
            expiry_warning: TimeDelta::days(i64::from(settings.expiry_warning_days)),
        }
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub stale: usize,
    pub completed: usize,
    pub overdue: usize,
    pub warnings: usize,
}

/// Runs every interval until aborted; a failed run is logged and the next one tries again.
pub(super) async fn run_every_interval(app: App) {
    let mut ticks = tokio::time::interval(app.autopilot.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = run_once(&app).await {
            tracing::warn!(%error, "the rotation autopilot's run failed; the next one retries");
        }
    }
}

/// One run of the autopilot over what is due now.
pub async fn run_once(app: &App) -> Result<Run> {
    // This replica's noted uses are written first, so none is judged unseen.
    super::secret_uses::record(app).await;
    let mut run = Run::default();
    let now = time::now();
    // One item's failure is logged and the others go on; it is still due, for the next run.
    for secret in app.store.stale_secrets(now, BATCH).await? {
        if let Some(reported) = logged(report_stale(app, &secret).await, &secret.client_id) {
            run.stale += usize::from(reported);
        }
    }
    for due in app.store.rotations_due(now, BATCH).await? {
        if let Some((completed, overdue)) =
            logged(look_at_rotation(app, &due).await, &due.client_id)
        {
            run.completed += usize::from(completed);
            run.overdue += usize::from(overdue);
        }
    }
    let warn_until = now + app.autopilot.expiry_warning;
    for credential in (app.store.expiring_credentials(warn_until, now, BATCH)).await? {
        let warned = warn_of_expiry(app, &credential, now).await;
        run.warnings += logged(warned, &credential.client_id).unwrap_or(0);
    }
    Ok(run)
}

fn logged<T>(result: Result<T>, client: &str) -> Option<T> {
    result
        .inspect_err(|error| tracing::warn!(%error, client, "the rotation autopilot could not handle a client; the next run retries"))
        .ok()
}

fn by_autopilot() -> ChangeContext {
    ChangeContext::without_request(Actor::Autopilot)
}

async fn report_stale(app: &App, secret: &StaleSecret) -> Result<bool> {
    let client = secret.client()?;
    let path = format!("/clients/{client}/secrets");
    let document = json!({
        "client_id": client,
        "last_four": secret.last_four,
        "created": time::rfc3339(secret.created),
        "stale_at": time::rfc3339(secret.stale_at),
    });
    let event = Event::new(
        &by_autopilot(),
        Action::SecretStale,
        Some(&secret.tenant()?),
        client.as_str(),
        path,
    )
    .of_client(&client)
    .with_document(&document);
    Ok(app.store.note_stale(secret, &event).await?)
}

/// Completes the rotation if its policy lets the autopilot, reports it overdue if it is,
/// and says when to look again: (completed, reported overdue).
async fn look_at_rotation(app: &App, due: &DueRotation) -> Result<(bool, bool)> {
    let client = ClientId::parse(&due.client_id).map_err(StoreError::Corrupt)?;
    let Some((stored, secrets)) = app.store.client_with_secrets(&client).await? else {
        return Ok((false, false));
    };
    if in_slot(&secrets, Slot::Next).is_none_or(|next| next.created != due.created) {
        return Ok((false, false));
    }
    let (granularity, now) = (app.autopilot.granularity, time::now());
    let policy = &stored.settings.secret_policy;
    let mut verdict = judge_rotation(policy, &secrets, due.overdue_noted, granularity, now);
    if verdict.complete {
        if complete(app, &client, due.created).await? {
            return Ok((true, false));
        }
        // Not due after all under the lock (a use or a patch came in between): soon again.
        verdict.check_at = Some(now + granularity);
    }
    let mut overdue = false;
    if verdict.overdue {
        let event = overdue_event(&stored, due.created);
        overdue = app.store.note_overdue(due, &event).await?;
    }
    app.store.reschedule_rotation(due, verdict.check_at).await?;
    Ok((false, overdue))
}

/// The same step, and the same event, as a manual completion, decided again under the
/// client's lock: false when the rotation is no longer one the autopilot may complete
/// (another replica completed it, or a use or a patch came in between).
async fn complete(app: &App, client: &ClientId, started: Timestamp) -> Result<bool> {
    let granularity = app.autopilot.granularity;
    let decide = |client: &Client, secrets: &[StoredSecret]| {
        let same_rotation = in_slot(secrets, Slot::Next).is_some_and(|n| n.created == started);
        let policy = &client.settings.secret_policy;
        if !same_rotation || !autopilot::may_complete(policy, secrets, granularity, time::now()) {
            return Err(Refusal::Conflict("no longer due".to_owned()));
        }
        let step = SecretChange::Complete {
            stale_at: in_slot(secrets, Slot::Next).and_then(|next| policy.stale_at(next.created)),
        };
        let event = super::secrets::step_event(
            &by_autopilot(),
            Action::SecretRotateComplete,
            client,
            secrets,
            &step,
        );
        Ok((step, event))
    };
    let _forget = app.cache.forget_after(Change::Client(client.clone()));
    match app.store.rotate_secrets(client, &decide).await {
        Ok(_) => Ok(true),
        Err(StoreError::Refused(_) | StoreError::NotFound(_)) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

fn overdue_event(client: &Client, started: Timestamp) -> Event {
    let document = json!({
        "client_id": client.id,
        "started": time::rfc3339(started),
        "rotation_max_seconds": client.settings.secret_policy.rotation_max_seconds,
    });
    let path = format!("/clients/{}/secrets", client.id);
    let change = by_autopilot();
    super::clients::event_at(&change, Action::SecretRotateOverdue, client, path)
        .with_document(&document)
}

/// The warnings the credential is owed, written at once: how many.
async fn warn_of_expiry(
    app: &App,
    credential: &ExpiringCredential,
    now: Timestamp,
) -> Result<usize> {
    let warning = app.autopilot.expiry_warning;
    let noted = credential.noted()?;
    let Some(to) = expiry_warnings(credential.expires_at, noted, warning, now) else {
        return Ok(0);
    };
    let client = credential.client()?;
    let tenant = credential.tenant()?;
    let path = format!("/clients/{client}/credentials/{}", credential.id);
    let document = json!({
        "id": credential.id,
        "client_id": client,
        "name": credential.name,
        "credential_type": credential.credential_type,
        "expires_at": time::rfc3339(credential.expires_at),
    });
    let owed = [
        (ExpiryNoted::Expiring, Action::CredentialExpiring),
        (ExpiryNoted::Expired, Action::CredentialExpired),
    ];
    let events: Vec<Event> = (owed.into_iter())
        .filter(|(level, _)| noted < *level && *level <= to)
        .map(|(_, action)| {
            Event::new(
                &by_autopilot(),
                action,
                Some(&tenant),
                &credential.id,
                &path,
            )
            .of_client(&client)
            .with_document(&document)
        })
        .collect();
    let written = app.store.note_expiry(credential, to, &events).await?;
    Ok(if written { events.len() } else { 0 })
}
