//! The feed of what every replica commits, on Postgres, without a notifying commit: a
//! follower reads the events table, which each change writes in its own transaction, and
//! turns its rows into the cache entries they touch. A `NOTIFY` sent after commit wakes it
//! at once (`announce`); a poll every `POLL` is the safety net, for a writer that died
//! before announcing, or a notice lost with its connection.
//!
//! Never skipping a row: `seq` is handed out before commit, so a transaction that commits
//! late may leave a row with a smaller seq than one already read. The follower does not
//! page by seq. Each event row carries the id of the transaction that wrote it (`xid`,
//! migration 0010), and every transaction older than the reading snapshot's `xmin` has
//! ended: rows with an xid below it are final. Each read takes the rows from the watermark
//! up (all it can see), and moves the watermark to that xmin; a row of a transaction still
//! running is read once it commits, however long it takes, since the watermark waits below
//! it. Rows read early (above the watermark) are remembered, so each is handed on once.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::FromRow;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use crate::domain::client::ClientId;
use crate::domain::tenant::TenantId;
use crate::store::StoreResult;
use crate::store::changes::{CHANNEL, Change, ChangeFeed};

/// How often the events table is read when nothing announced a change.
pub const POLL: Duration = Duration::from_millis(200);
/// The most rows one read takes; a longer backlog is read in several.
const BATCH: i64 = 1_000;

/// The transactions below this xid have all ended, as the reading snapshot sees it; with
/// the rows after `($1, $2)` in (xid, seq) order. xid8 travels as text: it is unsigned.
const READ: &str = "WITH line AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin)
    SELECT line.xmin, e.seq, e.xid::text AS xid, e.tenant_id, e.client_id, e.action,
        e.resource_type, e.resource_id
    FROM line LEFT JOIN LATERAL (
        SELECT seq, xid, tenant_id, client_id, action, resource_type, resource_id FROM events
        WHERE (xid, seq) > ($1::xid8, $2) ORDER BY xid, seq LIMIT $3
    ) e ON true";
const XMIN: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text";

#[derive(FromRow)]
struct Row {
    xmin: String,
    seq: Option<i64>,
    xid: Option<String>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    action: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
}

/// A follower of the events table, woken by the notices on `CHANNEL`.
pub struct Following {
    listener: PgListener,
    /// Rows with an xid below this are all read.
    watermark: u64,
    /// Rows at or above the watermark already handed on: (xid, seq).
    seen: HashSet<(u64, i64)>,
    pending: VecDeque<Change>,
}

impl Following {
    /// Starts listening, then from the present: what committed before is what a reader of
    /// the store sees from now on.
    pub async fn start(mut listener: PgListener) -> StoreResult<Self> {
        // A lost connection ends the feed: the follower starts over, and knows it must.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        let (xmin,): (String,) = sqlx::query_as(XMIN).fetch_one(&mut listener).await?;
        Ok(Self {
            listener,
            watermark: parse_xid(&xmin)?,
            seen: HashSet::new(),
            pending: VecDeque::new(),
        })
    }

    /// Reads what committed since the last read, as changes: every row from the watermark
    /// up, a batch at a time in (xid, seq) order; then the watermark moves to the first
    /// batch's xmin, below which every row was final, and so is read by now.
    async fn read(&mut self) -> StoreResult<()> {
        let mut after = (self.watermark, 0);
        let mut line = None;
        loop {
            let rows: Vec<Row> = sqlx::query_as(READ)
                .bind(after.0.to_string())
                .bind(after.1)
                .bind(BATCH)
                .fetch_all(&mut self.listener)
                .await?;
            if let Some(first) = rows.first()
                && line.is_none()
            {
                line = Some(parse_xid(&first.xmin)?);
            }
            for row in &rows {
                let (Some(seq), Some(xid)) = (row.seq, row.xid.as_deref()) else {
                    continue;
                };
                after = (parse_xid(xid)?, seq);
                if self.seen.insert(after) {
                    self.pending.extend(changes_of(row));
                }
            }
            if rows.len() as i64 == BATCH {
                continue;
            }
            if let Some(line) = line
                && line > self.watermark
            {
                self.watermark = line;
                self.seen.retain(|&(xid, _)| xid >= line);
            }
            return Ok(());
        }
    }
}

#[async_trait]
impl ChangeFeed for Following {
    async fn next(&mut self) -> StoreResult<Option<Change>> {
        if let Some(change) = self.pending.pop_front() {
            return Ok(Some(change));
        }
        tokio::select! {
            notice = self.listener.try_recv() => match notice? {
                // Changes no event records (uses of secrets) travel in the notice.
                Some(notice) => self.pending.extend(Change::parse_all(notice.payload())),
                None => return Ok(None),
            },
            () = tokio::time::sleep(POLL) => {}
        }
        self.read().await?;
        Ok(Some(self.pending.pop_front().unwrap_or(Change::Quiet)))
    }

    async fn check(&mut self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&mut self.listener).await?;
        Ok(())
    }
}

fn parse_xid(text: &str) -> StoreResult<u64> {
    (text.parse()).map_err(|_| crate::store::StoreError::Corrupt(format!("an xid {text:?}")))
}

/// The cache entries an event's change touched.
fn changes_of(row: &Row) -> Vec<Change> {
    let client = (row.client_id.as_deref()).and_then(|id| ClientId::parse(id).ok());
    let tenant = (row.tenant_id.as_deref()).and_then(|id| TenantId::parse(id).ok());
    match (row.resource_type.as_deref(), row.action.as_deref()) {
        (Some("token"), _) => vec![
            (row.resource_id.as_deref())
                .and_then(|id| Uuid::try_parse(id).ok())
                .map_or(Change::Unknown, Change::Token),
        ],
        // A tenant's tokens lose their reach into it; its signing keys go with it.
        (Some("tenant"), Some("tenant.delete")) => {
            let mut changes = vec![Change::EveryToken];
            changes.extend(tenant.map(Change::SigningKeys));
            changes
        }
        (Some("tenant"), _) => Vec::new(),
        (Some("signing_key"), _) => tenant.map(Change::SigningKeys).into_iter().collect(),
        // A client's own events, its secrets' and its credentials'.
        (_, _) => vec![client.map_or(Change::Unknown, Change::Client)],
    }
}
