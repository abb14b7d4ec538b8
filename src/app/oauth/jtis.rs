//! Client assertion ids, written in batches: every assertion's jti must be recorded before
//! its token is issued, and one INSERT of many rows costs the database little more than one
//! of a single row. Requests that arrive while a batch is written go in the next one, so a
//! lone request waits for no one and a crowd shares each statement.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::app::{Error, Result};
use crate::domain::time;
use crate::store::{Store, StoreError, UsedAssertion};

/// The most rows one statement writes.
const MAX_BATCH: usize = 256;

type Answer = oneshot::Sender<Result<bool, StoreError>>;

/// The queue of jtis to record, and its writer, started on first use.
#[derive(Default)]
pub struct JtiWriter {
    queue: OnceLock<mpsc::UnboundedSender<(UsedAssertion, Answer)>>,
}

impl JtiWriter {
    /// Whether `used` is its client's first use of the jti (false for a replay).
    pub async fn first_use(&self, store: &Arc<dyn Store>, used: UsedAssertion) -> Result<bool> {
        let queue = self.queue.get_or_init(|| {
            let (queue, pending) = mpsc::unbounded_channel();
            tokio::spawn(write_batches(store.clone(), pending));
            queue
        });
        let (answer, answered) = oneshot::channel();
        let gone = || Error::TokensUnavailable("the jti writer stopped".to_owned());
        queue.send((used, answer)).map_err(|_| gone())?;
        Ok(answered.await.map_err(|_| gone())??)
    }
}

/// Until every sender is gone (the app with it): whatever is queued, in one statement.
async fn write_batches(
    store: Arc<dyn Store>,
    mut pending: mpsc::UnboundedReceiver<(UsedAssertion, Answer)>,
) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        write(store.as_ref(), batch).await;
    }
}

async fn write(store: &dyn Store, batch: Vec<(UsedAssertion, Answer)>) {
    // The same jti twice in one batch: the first is its use, the others replays.
    let mut unique: Vec<(UsedAssertion, Answer)> = Vec::with_capacity(batch.len());
    for (used, answer) in batch {
        if (unique.iter()).any(|(seen, _)| seen.client == used.client && seen.jti == used.jti) {
            let _ = answer.send(Ok(false));
        } else {
            unique.push((used, answer));
        }
    }
    let rows: Vec<UsedAssertion> = unique.iter().map(|(used, _)| used.clone()).collect();
    match store.use_assertions(&rows, time::now()).await {
        Ok(fresh) => {
            for ((_, answer), fresh) in unique.into_iter().zip(fresh) {
                let _ = answer.send(Ok(fresh));
            }
        }
        // One row can fail the whole statement (its client deleted meanwhile): each is
        // tried alone, so only that one fails.
        Err(_) if unique.len() > 1 => {
            for (used, answer) in unique {
                let alone = store
                    .use_assertions(std::slice::from_ref(&used), time::now())
                    .await;
                let _ = answer.send(alone.map(|fresh| fresh.first().copied().unwrap_or(false)));
            }
        }
        Err(error) => {
            if let Some((_, answer)) = unique.pop() {
                let _ = answer.send(Err(error));
            }
        }
    }
}
