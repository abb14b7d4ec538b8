//! Clients (with their secrets and their rendered document) and API tokens, kept in memory
//! so that a read, a verification or an authentication costs no round trip.
//!
//! The store stays the truth: writes go to it first and then drop what they changed, and on
//! Postgres every replica drops what any process changed as the feed of the events table
//! tells it (`follow`, store/postgres/feed.rs). Until the feed of changes is heard, and whenever it is lost, the cache is
//! bypassed; when the feed is back, everything is dropped before it is trusted again.
//!
//! A read that misses loads from the store and keeps what it loaded, unless a drop of the
//! same entry came in while it loaded: each drop bumps a counter of the key's stripe, and a
//! load keeps its value only if that counter (and the cache's epoch, bumped by every flush)
//! is what it was before the load began. Keeping first and checking after closes the gap
//! between the check and the insert.

use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::oauth::KeyRing;
use crate::domain::client::{self, Client, ClientId};
use crate::domain::credential::Credential;
use crate::domain::rotation::StoredSecret;
use crate::domain::tenant::TenantId;
use crate::store::{Change, ChangeFeed, Store, StoreError, StoreResult, StoredToken};

/// A client as reads and verifications need it: its secrets, and its document serialized
/// once with its ETag.
pub struct CachedClient {
    pub client: Client,
    pub secrets: Vec<StoredSecret>,
    pub document: Bytes,
    pub etag: String,
}

impl CachedClient {
    pub fn new(client: Client, secrets: Vec<StoredSecret>) -> StoreResult<Self> {
        let document = serde_json::to_vec(&client.document()).map_err(|e| {
            StoreError::Corrupt(format!("a client document did not serialize: {e}"))
        })?;
        Ok(Self {
            etag: client::etag_of(&document),
            document: Bytes::from(document),
            client,
            secrets,
        })
    }

    /// About what the entry holds: the document twice over (as text, and parsed into the
    /// client's settings) and the rest.
    fn weight(&self) -> u32 {
        u32::try_from(self.document.len() * 3 + 512).unwrap_or(u32::MAX)
    }
}

/// How long the feed may be silent before its connection is checked, and how long the
/// check may take: a connection that died without a word (a cut network) is noticed within
/// their sum, inside DESIGN's 5 s. A check is one tiny round trip per quiet spell; it has
/// twice as long to answer, so a database slow for a moment does not cost every replica
/// its memory.
const QUIET: Duration = Duration::from_millis(1500);
const CHECK: Duration = Duration::from_secs(3);

/// How many tokens are kept: a token is small, and few are in use at once.
const TOKENS: u64 = 10_000;

/// How many token ids are remembered as unknown. A flood of made-up tokens then costs no
/// round trip each while it repeats itself, and one of fresh ids evicts only its own kind,
/// never a valid token.
const UNKNOWN_TOKENS: u64 = 100_000;

/// How many tenants' opened signing keys are kept.
const KEY_RINGS: u64 = 10_000;

/// What the cache holds, for `/metrics`: entries, the clients' weight (the budget it is held
/// to), and whether it is trusted (the feed of changes is heard).
#[derive(Debug, Clone, Copy)]
pub struct CacheStats {
    pub clients: u64,
    pub client_bytes: u64,
    pub tokens: u64,
    pub trusted: bool,
}

pub struct Cache {
    clients: CoherentCache<ClientId, CachedClient>,
    tokens: CoherentCache<Uuid, StoredToken>,
    /// Token ids the store did not know when last asked, for a minute at most. Dropped with
    /// the token's entry by every change to it; a token is created under a fresh random id,
    /// so no replica can hold an entry for it before it exists.
    unknown_tokens: CoherentCache<Uuid, ()>,
    /// Each tenant's signing keys, opened. Kept a minute at most, so that a previous key
    /// leaves JWKS soon after its last token expired.
    key_rings: CoherentCache<TenantId, KeyRing>,
    /// Clients' credentials, for the token endpoint's client assertions; dropped with the
    /// client (a credential's event names its client).
    credentials: CoherentCache<ClientId, Vec<Credential>>,
    /// Bumped by every flush: no load begun before one is kept.
    epoch: AtomicU64,
    /// Whether the feed of changes is heard, so that what is kept is current.
    trusted: AtomicBool,
    /// Told after every write this process makes, for `announce_writes` to wake the other
    /// replicas' feeds: one permit however many writes, so writes coalesce.
    written: tokio::sync::Notify,
    /// Told of every change heard or made, for the feed requests waiting for an event.
    news: tokio::sync::Notify,
}

impl Cache {
    /// A cache of at most `bytes` of clients (and a few thousand tokens), not trusted until
    /// `follow` hears the feed of changes.
    pub fn new(bytes: u64) -> Self {
        let clients = moka::sync::Cache::builder()
            .max_capacity(bytes)
            .weigher(|_: &ClientId, entry: &Arc<CachedClient>| entry.weight())
            .build();
        let most = |entries: u64| if bytes == 0 { 0 } else { entries };
        Self {
            clients: CoherentCache::new(clients),
            tokens: CoherentCache::new(moka::sync::Cache::new(most(TOKENS))),
            unknown_tokens: CoherentCache::new(
                moka::sync::Cache::builder()
                    .max_capacity(most(UNKNOWN_TOKENS))
                    .time_to_live(Duration::from_secs(60))
                    .build(),
            ),
            key_rings: CoherentCache::new(
                moka::sync::Cache::builder()
                    .max_capacity(most(KEY_RINGS))
                    .time_to_live(Duration::from_secs(60))
                    .build(),
            ),
            credentials: CoherentCache::new(moka::sync::Cache::new(most(TOKENS))),
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(false),
            written: tokio::sync::Notify::new(),
            news: tokio::sync::Notify::new(),
        }
    }

    /// The client's credentials, from memory or else from the store.
    pub async fn credentials(
        &self,
        store: &dyn Store,
        client: &ClientId,
    ) -> StoreResult<Arc<Vec<Credential>>> {
        if self.trusted()
            && let Some(hit) = self.credentials.get(client)
        {
            return Ok(hit);
        }
        let stamp = self.stamp(&self.credentials, client);
        let loaded = Arc::new(store.credentials(client).await?);
        self.keep(&self.credentials, client, &loaded, stamp);
        Ok(loaded)
    }

    /// The tenant's signing keys, opened by `open`, from memory or else from the store.
    pub async fn key_ring<E: From<StoreError>>(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
        open: impl FnOnce(Vec<crate::domain::oauth::keys::SigningKey>) -> Result<KeyRing, E>,
    ) -> Result<Arc<KeyRing>, E> {
        if self.trusted()
            && let Some(hit) = self.key_rings.get(tenant)
        {
            return Ok(hit);
        }
        let stamp = self.stamp(&self.key_rings, tenant);
        let loaded = Arc::new(open(store.signing_keys(tenant).await?)?);
        self.keep(&self.key_rings, tenant, &loaded, stamp);
        Ok(loaded)
    }

    /// The client with its secrets, from memory or else from the store.
    pub async fn client(
        &self,
        store: &dyn Store,
        id: &ClientId,
    ) -> StoreResult<Option<Arc<CachedClient>>> {
        if let Some(hit) = self.held_client(id) {
            return Ok(Some(hit));
        }
        let stamp = self.stamp(&self.clients, id);
        let Some((client, secrets)) = store.client_with_secrets(id).await? else {
            return Ok(None);
        };
        let loaded = Arc::new(CachedClient::new(client, secrets)?);
        self.keep(&self.clients, id, &loaded, stamp);
        Ok(Some(loaded))
    }

    /// The client as memory holds it, if it does and memory is trusted; nothing is loaded.
    pub fn held_client(&self, id: &ClientId) -> Option<Arc<CachedClient>> {
        self.trusted().then(|| self.clients.get(id)).flatten()
    }

    /// What memory holds now. moka counts lazily, so its pending upkeep is run first.
    pub fn stats(&self) -> CacheStats {
        self.clients.entries.run_pending_tasks();
        self.tokens.entries.run_pending_tasks();
        CacheStats {
            clients: self.clients.entries.entry_count(),
            client_bytes: self.clients.entries.weighted_size(),
            tokens: self.tokens.entries.entry_count(),
            trusted: self.trusted(),
        }
    }

    /// The token with its hash, from memory or else from the store; an id the store did not
    /// know is answered from memory too, until a change to that id.
    pub async fn token(
        &self,
        store: &dyn Store,
        id: Uuid,
    ) -> StoreResult<Option<Arc<StoredToken>>> {
        if self.trusted() {
            if let Some(hit) = self.tokens.get(&id) {
                return Ok(Some(hit));
            }
            if self.unknown_tokens.get(&id).is_some() {
                return Ok(None);
            }
        }
        let stamp = self.stamp(&self.tokens, &id);
        let unknown_stamp = self.stamp(&self.unknown_tokens, &id);
        let Some(stored) = store.token(id).await? else {
            self.keep(&self.unknown_tokens, &id, &Arc::new(()), unknown_stamp);
            return Ok(None);
        };
        let loaded = Arc::new(stored);
        self.keep(&self.tokens, &id, &loaded, stamp);
        Ok(Some(loaded))
    }

    /// Drops what a change touched; called after every write of this process, and for
    /// every change the feed reports.
    pub fn forget(&self, change: &Change) {
        match change {
            Change::Client(id) => {
                self.clients.evict(id);
                self.credentials.evict(id);
            }
            Change::Token(id) => {
                self.tokens.evict(id);
                self.unknown_tokens.evict(id);
            }
            Change::SigningKeys(tenant) => self.key_rings.evict(tenant),
            // A tenant went, and its keys with it.
            Change::EveryToken => {
                self.forget_tokens();
                self.key_rings.entries.invalidate_all();
            }
            Change::Unknown => self.flush(),
            Change::Quiet => {}
        }
    }

    /// Resolves at the next change heard or made; to be created before the look it follows
    /// (a `Notified` counts the changes told after its creation).
    pub fn news(&self) -> tokio::sync::futures::Notified<'_> {
        self.news.notified()
    }

    /// Forgets `change` when the returned guard goes: after the write it guards, whether the
    /// write finished, failed, or was abandoned half-way (a timeout, a caller hanging up)
    /// after it may have committed.
    pub fn forget_after(&self, change: Change) -> ForgetOnDrop<'_> {
        ForgetOnDrop {
            cache: self,
            change,
        }
    }

    fn forget_tokens(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.tokens.entries.invalidate_all();
    }

    fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.clients.entries.invalidate_all();
        self.tokens.entries.invalidate_all();
        self.unknown_tokens.entries.invalidate_all();
        self.key_rings.entries.invalidate_all();
        self.credentials.entries.invalidate_all();
    }

    fn trusted(&self) -> bool {
        self.trusted.load(Ordering::SeqCst)
    }

    /// Trusted from now on, with nothing kept from before.
    fn trust(&self) {
        self.flush();
        self.trusted.store(true, Ordering::SeqCst);
    }

    fn distrust(&self) {
        self.trusted.store(false, Ordering::SeqCst);
        self.flush();
    }

    fn stamp<K: Hash + Eq + Send + Sync + 'static, V: Send + Sync + 'static>(
        &self,
        table: &CoherentCache<K, V>,
        key: &K,
    ) -> Stamp {
        Stamp {
            trusted: self.trusted(),
            epoch: self.epoch.load(Ordering::SeqCst),
            drops: table.drops_of(key),
        }
    }

    fn keep<K, V>(&self, table: &CoherentCache<K, V>, key: &K, value: &Arc<V>, stamp: Stamp)
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        if !stamp.trusted {
            return;
        }
        table.entries.insert(key.clone(), value.clone());
        if self.stamp(table, key) != stamp {
            table.entries.invalidate(key);
        }
    }

    /// Keeps the cache coherent with what every process commits, for as long as the server
    /// runs: `first` is the feed the server started with (None: no other process writes).
    pub async fn follow(&self, store: &dyn Store, first: Option<Box<dyn ChangeFeed>>) {
        let Some(mut feed) = first else {
            self.trust();
            return;
        };
        loop {
            self.trust();
            tracing::info!("following the database's changes; reads are served from memory");
            let lost = loop {
                match tokio::time::timeout(QUIET, feed.next()).await {
                    Ok(Ok(Some(change))) => {
                        if change != Change::Quiet {
                            self.news.notify_waiters();
                        }
                        self.forget(&change);
                    }
                    Ok(Ok(None)) => break "the connection was lost".to_owned(),
                    Ok(Err(error)) => break error.to_string(),
                    // Quiet for a while: make sure the connection is still there.
                    Err(_) => match tokio::time::timeout(CHECK, feed.check()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => break error.to_string(),
                        Err(_) => break "the connection stopped answering".to_owned(),
                    },
                }
            };
            self.distrust();
            tracing::warn!(%lost, "stopped hearing the database's changes; reads go to the database until they are heard again");
            // The old feed holds the listening pool's one connection: let it go first.
            drop(feed);
            feed = resubscribe(store).await;
        }
    }
}

/// How long an announcement waits for more writes to share it: each replica's feed is
/// woken at most this often by one writer, however fast it writes.
const ANNOUNCE_EVERY: Duration = Duration::from_millis(3);

impl Cache {
    /// Until aborted: after each write this process makes (as `forget_after` marks them),
    /// wakes every replica's feed with one notice, sent apart from the write's transaction
    /// and shared by all the writes of the moment. A lost notice costs only time: the
    /// feeds also look every `POLL`.
    pub async fn announce_writes(&self, store: &dyn Store) {
        loop {
            self.written.notified().await;
            tokio::time::sleep(ANNOUNCE_EVERY).await;
            if let Err(error) = store.announce(&[]).await {
                tracing::debug!(%error, "could not announce a write; the replicas' polls will find it");
            }
        }
    }
}

/// A new feed, tried again with a growing pause until the database answers.
async fn resubscribe(store: &dyn Store) -> Box<dyn ChangeFeed> {
    let mut pause = Duration::from_millis(50);
    loop {
        match store.changes().await {
            Ok(Some(feed)) => return feed,
            // A store that offered a feed once always does; if not, staying untrusted is safe.
            Ok(None) => tracing::error!("the store no longer offers a feed of changes"),
            Err(error) => {
                tracing::warn!(%error, retry_in = ?pause, "cannot listen for the database's changes");
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Forgets its change when dropped (see `Cache::forget_after`).
pub struct ForgetOnDrop<'a> {
    cache: &'a Cache,
    change: Change,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.cache.forget(&self.change);
        self.cache.written.notify_one();
        self.cache.news.notify_waiters();
    }
}

/// What a load saw before it began, to tell whether a drop came in meanwhile.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    trusted: bool,
    epoch: u64,
    drops: u64,
}

/// How many counters the evictions are spread over: an eviction of one key keeps loads of
/// every key sharing its stripe from being kept (they are served, not remembered), so the
/// stripes are many and cheap.
const STRIPES: usize = 1024;

struct CoherentCache<K, V> {
    entries: moka::sync::Cache<K, Arc<V>>,
    drops: Box<[AtomicU64]>,
    hasher: RandomState,
}

impl<K: Hash + Eq + Send + Sync + 'static, V: Send + Sync + 'static> CoherentCache<K, V> {
    fn new(entries: moka::sync::Cache<K, Arc<V>>) -> Self {
        Self {
            entries,
            drops: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    fn get(&self, key: &K) -> Option<Arc<V>> {
        self.entries.get(key)
    }

    fn stripe(&self, key: &K) -> &AtomicU64 {
        let hash = self.hasher.hash_one(key);
        &self.drops[(hash as usize) % STRIPES]
    }

    fn drops_of(&self, key: &K) -> u64 {
        self.stripe(key).load(Ordering::SeqCst)
    }

    fn evict(&self, key: &K) {
        self.stripe(key).fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted_cache() -> (Cache, CoherentCache<u64, &'static str>) {
        let cache = Cache::new(1 << 20);
        cache.trust();
        (
            cache,
            CoherentCache::new(moka::sync::Cache::builder().build()),
        )
    }

    #[test]
    fn a_load_that_an_eviction_overtook_is_served_but_not_kept() {
        let (cache, table) = trusted_cache();
        let stamp = cache.stamp(&table, &1);
        // A write commits and evicts while the load still holds the row it read before.
        table.evict(&1);
        cache.keep(&table, &1, &Arc::new("stale"), stamp);
        assert!(table.get(&1).is_none());
        // A load that began after the eviction is kept.
        let stamp = cache.stamp(&table, &1);
        cache.keep(&table, &1, &Arc::new("fresh"), stamp);
        assert_eq!(table.get(&1).as_deref(), Some(&"fresh"));
    }

    #[test]
    fn a_load_that_a_flush_or_lost_feed_overtook_is_not_kept() {
        let (cache, table) = trusted_cache();
        let stamp = cache.stamp(&table, &2);
        cache.forget(&Change::Unknown);
        cache.keep(&table, &2, &Arc::new("stale"), stamp);
        assert!(table.get(&2).is_none());

        // Begun while the feed was down, a load is not kept even once it is back.
        cache.distrust();
        let stamp = cache.stamp(&table, &2);
        cache.trust();
        cache.keep(&table, &2, &Arc::new("unverified"), stamp);
        assert!(table.get(&2).is_none());
    }
}
