//! The use cases' upkeep while the server runs: failure limits forget clients that stopped
//! failing, and the audit trail and idempotency records drop what is past keeping.

use std::time::Duration;

use chrono::TimeDelta;

use super::{App, idempotency};
use crate::domain::time;

/// Every minute the verification limit forgets clients that stopped failing; every ten
/// minutes (and once at the start) `prune` runs, with the retention the settings give.
/// Runs until aborted.
pub(super) async fn run(app: App) {
    let mut ticks = tokio::time::interval(Duration::from_secs(60));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for tick in 0u64.. {
        ticks.tick().await;
        app.verify_failures.forget_stale();
        app.oauth.forget_stale_failures();
        if tick % 10 == 0 {
            prune(&app, app.audit_retention).await;
        }
    }
}

/// Drops events older than `retention`, a batch at a time so no statement holds the table
/// long, and idempotency records past their 24 hours. Failures are logged and retried on
/// the next round.
pub async fn prune(app: &App, retention: TimeDelta) {
    const BATCH: i64 = 10_000;
    let before = time::now() - retention;
    loop {
        match app.store.prune_events(before, BATCH).await {
            // A whole batch went: older ones may remain behind it.
            Ok(pruned) if pruned as i64 == BATCH => continue,
            Ok(pruned) => {
                if pruned > 0 {
                    tracing::info!(pruned, "pruned audit events past retention");
                }
                break;
            }
            Err(error) => {
                tracing::warn!(%error, "could not prune the audit trail");
                break;
            }
        }
    }
    match app.store.prune_token_state(time::now()).await {
        Ok(pruned) if pruned > 0 => tracing::info!(
            pruned,
            "pruned expired revocations, assertion ids and withdrawn signing keys"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not prune the token endpoint's records"),
    }
    let expired = time::now() - idempotency::LIFETIME;
    if let Err(error) = app.store.forget_idempotency_keys(expired).await {
        tracing::warn!(%error, "could not prune idempotency records");
    }
}
