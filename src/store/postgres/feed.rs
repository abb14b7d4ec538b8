//! The feed of what every replica commits, on Postgres, without a notifying commit: a
//! follower reads the events table, which each change writes in its own transaction, and
//! turns its rows into the cache entries they touch. A `NOTIFY` sent after commit wakes it
//! at once (`announce`); a poll every `POLL` is the safety net, for a writer that died
//! before announcing, or a notice lost with its connection.
//!
//! Never skipping a row: `seq` is handed out before commit, so a transaction that commits
//! late may leave a row with a smaller seq than one already read; reading "seq > last" would
//! skip it. Each event row carries the id of the transaction that wrote it (`xid`, migration
//! 0010), and each read also takes, from its own snapshot, the transactions still in
//! progress (`pg_snapshot_xip`): the next read takes the rows past the greatest (xid, seq)
//! read so far, and every row of those transactions, whenever they commit. A transaction
//! that starts later gets a greater xid than any read. So every row is read once its
//! transaction commits, however long that takes, and nothing is read again but the rows of
//! transactions still open (kept in `seen` until they are done). Each read is one statement
//! (one snapshot) and changes the follower only once it has returned, so a read cut short
//! (the follower's timeout) loses nothing: the next one reads the same.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::FromRow;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use crate::domain::client::ClientId;
use crate::domain::tenant::TenantId;
use crate::store::changes::{CHANNEL, Change, ChangeFeed};
use crate::store::{StoreError, StoreResult};

/// How often the events table is read when nothing announced a change.
pub const POLL: Duration = Duration::from_millis(200);
/// The most rows one read takes; a longer backlog is read over several polls.
const BATCH: i64 = 5_000;

/// The snapshot's transactions in progress and its first unassigned xid; with the rows
/// after `($1, $2)` or of the transactions `$3` (those in progress at the last read), in
/// (xid, seq) order. xid8 travels as text: it is unsigned.
/// Two ranges of `events_by_xid`, not one condition with an OR, which no index serves: a
/// read costs what it returns, however long the trail.
const READ: &str = "WITH snap AS (SELECT pg_current_snapshot() AS s)
    SELECT ARRAY(SELECT pg_snapshot_xip(s)::text) AS open,
        e.seq, e.xid::text AS xid, e.tenant_id, e.client_id, e.action, e.resource_type,
        e.resource_id
    FROM snap LEFT JOIN LATERAL (
        SELECT * FROM (
            (SELECT seq, xid, tenant_id, client_id, action, resource_type, resource_id
             FROM events WHERE (xid, seq) > ($1::xid8, $2) ORDER BY xid, seq LIMIT $4)
            UNION ALL
            (SELECT seq, xid, tenant_id, client_id, action, resource_type, resource_id
             FROM events WHERE xid = ANY($3::text[]::xid8[]) AND (xid, seq) <= ($1::xid8, $2))
        ) rows ORDER BY xid, seq LIMIT $4
    ) e ON true";
const START: &str = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text,
    ARRAY(SELECT pg_snapshot_xip(pg_current_snapshot())::text)";

#[derive(FromRow)]
struct Row {
    open: Vec<String>,
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
    /// The greatest (xid, seq) read.
    last: (u64, i64),
    /// The transactions in progress at the last read, whose rows may still commit.
    open: Vec<u64>,
    /// Rows of `open` transactions already handed on.
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
        let (xmax, open): (String, Vec<String>) =
            sqlx::query_as(START).fetch_one(&mut listener).await?;
        Ok(Self {
            listener,
            last: (parse_xid(&xmax)?, 0),
            open: parse_xids(&open)?,
            seen: HashSet::new(),
            pending: VecDeque::new(),
        })
    }

    /// Reads what committed since the last read, as changes (see the module's comment).
    async fn read(&mut self) -> StoreResult<()> {
        let open: Vec<String> = self.open.iter().map(u64::to_string).collect();
        let rows: Vec<Row> = sqlx::query_as(READ)
            .bind(self.last.0.to_string())
            .bind(self.last.1)
            .bind(open)
            .bind(BATCH)
            .fetch_all(&mut self.listener)
            .await?;
        let now_open = match rows.first() {
            Some(first) => parse_xids(&first.open)?,
            None => return Ok(()),
        };
        let mut read = 0;
        for row in &rows {
            let (Some(seq), Some(xid)) = (row.seq, row.xid.as_deref()) else {
                continue;
            };
            read += 1;
            let at = (parse_xid(xid)?, seq);
            let again = self.open.contains(&at.0) && !self.seen.insert(at);
            if !again {
                self.pending.extend(changes_of(row));
            }
            self.last = self.last.max(at);
        }
        if read == BATCH {
            // Cut short: what was open then may still be, and so may what is open now.
            self.open.extend(now_open);
            self.open.sort_unstable();
            self.open.dedup();
        } else {
            self.open = now_open;
            let open = &self.open;
            self.seen.retain(|(xid, _)| open.contains(xid));
        }
        Ok(())
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
        // Notices that came meanwhile share this read.
        while let Some(notice) = self.listener.next_buffered() {
            self.pending.extend(Change::parse_all(notice.payload()));
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
    (text.parse()).map_err(|_| StoreError::Corrupt(format!("an xid {text:?}")))
}

fn parse_xids(texts: &[String]) -> StoreResult<Vec<u64>> {
    texts.iter().map(|text| parse_xid(text)).collect()
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
        (Some("signing_key"), _) => tenant.map(Change::SigningKeys).into_iter().collect(),
        // No replica can hold a client that did not exist (nothing remembers a client as
        // unknown), so its creation drops nothing; a token's does (unknown tokens are).
        (Some("client"), Some("client.create")) => Vec::new(),
        // A client's own events, its secrets' and its credentials'.
        (Some("client" | "secret" | "credential"), _) => {
            vec![client.map_or(Change::Unknown, Change::Client)]
        }
        // Tenants are read from the store; events of other resources touch no cache.
        _ => Vec::new(),
    }
}
