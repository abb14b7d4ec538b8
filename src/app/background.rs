//! The use cases' work beside the requests while the server runs: the cache follows the
//! database's changes and announces this process's, secrets' uses are written once a
//! second, housekeeping prunes, and the rotation autopilot runs.
//! Started together and stopped together, in the order that loses nothing.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{App, autopilot, housekeeping, secret_uses};
use crate::store::StoreError;

/// The running background tasks; `stop` ends them.
pub struct Background {
    app: App,
    coherence: JoinHandle<()>,
    uses: JoinHandle<()>,
    housekeeping: JoinHandle<()>,
    autopilot: JoinHandle<()>,
    announcer: JoinHandle<()>,
}

impl App {
    /// Subscribes to the database's changes, then starts the background tasks. Secrets'
    /// uses are recorded until `stopped` says so.
    pub async fn start_background(
        &self,
        stopped: watch::Receiver<bool>,
    ) -> Result<Background, StoreError> {
        let changes = self.store.changes().await?;
        let coherence = tokio::spawn({
            let app = self.clone();
            async move { app.cache.follow(app.store.as_ref(), changes).await }
        });
        let uses = tokio::spawn(secret_uses::record_every_second(self.clone(), stopped));
        let housekeeping = tokio::spawn(housekeeping::run(self.clone()));
        let autopilot = tokio::spawn(autopilot::run_every_interval(self.clone()));
        let announcer = tokio::spawn({
            let app = self.clone();
            async move { app.cache.announce_writes(app.store.as_ref()).await }
        });
        Ok(Background {
            app: self.clone(),
            coherence,
            uses,
            housekeeping,
            autopilot,
            announcer,
        })
    }
}

impl Background {
    /// Once `stopped` has said so and the last request is done: waits for the round of
    /// recording under way, then records once more, before the database is let go.
    pub async fn stop(self) {
        self.housekeeping.abort();
        self.autopilot.abort();
        let _ = self.uses.await;
        // What the last requests noted is written before the database is let go.
        secret_uses::record(&self.app).await;
        self.coherence.abort();
        self.announcer.abort();
    }
}
