//! Clients. `client_store!` writes the implementation once for both adapters; each brings
//! `writer` (the pool writes go through), `begin_write` (how a writer starts) and
//! `LOCK_CLIENT` (how a client row is locked for a read-modify-write).

use async_trait::async_trait;

use super::{Audit, StoreResult};
use crate::domain::audit::Event;
use crate::domain::client::{Client, ClientId};
use crate::domain::credential::Credential;
use crate::domain::page::{Limit, Page};
use crate::domain::query::{ClientFilter, Position, Sorter};
use crate::domain::refusal::Refusal;
use crate::domain::secret::IssuedSecret;
use crate::domain::tenant::TenantId;
use crate::domain::token::TenantScope;

/// The domain's decision on a stored client: the new client with the event that records the
/// change, None to leave it as it is, or why it is refused. It is asked without the client's
/// credentials first, and again with them (read under the client's lock) if it needs them; it
/// may be asked on the client as last read, and again under the lock (`update_client`).
pub type ClientDecision<'a> = dyn Fn(&Client, Option<&[Credential]>) -> Result<Option<(Client, Event)>, Refusal>
    + Send
    + Sync
    + 'a;

/// Which clients a listing reaches: one tenant's, or those of the tenants a caller can see.
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    Tenant(&'a TenantId),
    Tenants(TenantScope<'a>),
}

/// A page of clients: where, which, in what order, from where.
#[derive(Debug, Clone, Copy)]
pub struct ClientQuery<'a> {
    pub reach: Reach<'a>,
    pub filter: &'a ClientFilter,
    pub sorter: Sorter,
    pub after: Option<&'a Position>,
    pub limit: Limit,
}

/// A write that is only a rehearsal: every check and statement of the real one, rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    Yes,
    DryRun,
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client with its first secret. Conflict when the id is taken; tenant not
    /// found when the tenant does not exist.
    async fn create_client(
        &self,
        client: &Client,
        secret: Option<&IssuedSecret>,
        event: &Event,
        commit: Commit,
    ) -> StoreResult<()>;
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    /// A page of clients; `next_cursor` is an encoded `Position`.
    async fn list_clients(&self, query: &ClientQuery<'_>) -> StoreResult<Page<Client>>;
    /// How many clients the query's reach and filter match, whatever the page.
    async fn count_clients(&self, query: &ClientQuery<'_>) -> StoreResult<u64>;
    /// Lets `decide` say what the client becomes, and stores that: concurrent updates apply
    /// one after another, never over each other. Tenant not found when the client moves to a
    /// tenant that does not exist.
    ///
    /// Where the database allows, a change is first decided on `seen` (the client as last
    /// read, from memory say) or on the row read without a lock, and written in one
    /// statement only if the row is still exactly that. Otherwise, and for every answer that
    /// is not a write (a refusal, a patch that changes nothing), the client is locked and
    /// `decide` asked again.
    async fn update_client(
        &self,
        id: &ClientId,
        seen: Option<&Client>,
        decide: &ClientDecision<'_>,
        commit: Commit,
    ) -> StoreResult<Client>;
    /// Deletes the client, with its secrets and credentials, if it is still in `read`'s
    /// tenant. `read` is the client as the caller last saw it: when the row is still exactly
    /// that, the deletion and its event are one statement (where the database allows).
    async fn delete_client(&self, read: &Client, audit: &Audit<'_, Client>) -> StoreResult<()>;
}

/// The columns of a client, then the query's own clauses.
macro_rules! client_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used
             FROM clients",
            $tail
        )
    };
}
pub(super) use client_query;

pub(super) const CLIENT_BY_ID: &str = client_query!(" WHERE id = $1");

/// A new client, its secret and its event in one statement: one round trip, atomic as any
/// statement is (Postgres, whose CTEs may modify data; SQLite's cannot).
pub(super) const CREATE_CLIENT_AT_ONCE: &str = concat!(
    "WITH new_client AS (
        INSERT INTO clients (id, tenant_id, app_type, settings, manually_created, created, modified, last_used)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
    ), new_secret AS (
        INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created)
        SELECT id, 'current', $9, $10, $6 FROM new_client WHERE $9::bytea IS NOT NULL
    )
    INSERT INTO events ",
    crate::store::events::event_columns!(),
    " SELECT $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27
      FROM new_client"
);

/// A deletion and its event in one statement, only if the row is still the one read (the
/// event was made from it); otherwise nothing, and the deletion reads the row it deletes.
pub(super) const DELETE_CLIENT_AT_ONCE: &str = concat!(
    "WITH gone AS (
        DELETE FROM clients WHERE id = $1 AND tenant_id = $2 AND modified = $3
            AND last_used IS NOT DISTINCT FROM $4 AND settings = $5 AND app_type = $6
        RETURNING id
    )
    INSERT INTO events ",
    crate::store::events::event_columns!(),
    " SELECT $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23 FROM gone"
);

/// A patched client and its event in one statement, under the lock already held.
pub(super) const UPDATE_CLIENT_AT_ONCE: &str = concat!(
    "WITH changed AS (
        UPDATE clients SET tenant_id = $2, settings = $3, modified = $4 WHERE id = $1 RETURNING id
    )
    INSERT INTO events ",
    crate::store::events::event_columns!(),
    " SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21 FROM changed"
);

/// A patched client and its event in one statement without a lock held, only if the row is
/// still the one the change was decided on (`$22` on: every column its document shows). A
/// concurrent write either committed first, and the row no longer matches, or waits for this
/// one: read committed checks the condition again on the row it finally updates. A write that
/// holds the lock but leaves the row as it is (a credential, a rotation step) cannot make the
/// decision wrong: one taken without credentials depends on the row alone.
pub(super) const UPDATE_CLIENT_IF_UNCHANGED: &str = concat!(
    "WITH changed AS (
        UPDATE clients SET tenant_id = $2, settings = $3, modified = $4
        WHERE id = $1 AND tenant_id = $22 AND settings = $23 AND modified = $24
            AND last_used IS NOT DISTINCT FROM $25 AND app_type = $26 AND manually_created = $27
            AND created = $28
        RETURNING id
    )
    INSERT INTO events ",
    crate::store::events::event_columns!(),
    " SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21 FROM changed"
);

macro_rules! client_store {
    ($store:ident, $db:ty) => {
        mod client_store {
            use async_trait::async_trait;
            use sqlx::types::Json;

            use super::$store;
            use super::credential_store::credentials_of;
            use super::event_store::{bind_event, record};
            use crate::domain::tenant::TenantId;
            use crate::domain::Missing;
            use crate::domain::audit::Event;
            use crate::domain::client::{Client, ClientId};
            use crate::domain::page::Page;
            use crate::domain::secret::IssuedSecret;
            use crate::domain::query::{Position, SortKey, Sorter, Term};
            use crate::domain::time::{self, Timestamp};
            use crate::domain::token::TenantScope;
            use crate::store::clients::{
                CLIENT_BY_ID, CREATE_CLIENT_AT_ONCE, ClientQuery, Commit, DELETE_CLIENT_AT_ONCE, Reach,
                UPDATE_CLIENT_AT_ONCE, UPDATE_CLIENT_IF_UNCHANGED,
            };
            use crate::store::rows::ClientRow;
            use crate::store::{Audit, ClientDecision, ClientStore, StoreError, StoreResult};

            /// The client, locked until `tx` ends (a row lock, or the database lock SQLite's
            /// writers hold already); not found when it does not exist.
            pub(super) async fn locked_client(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &ClientId,
            ) -> StoreResult<Client> {
                let row: Option<ClientRow> = sqlx::query_as(super::LOCK_CLIENT)
                    .bind(id.as_str())
                    .fetch_optional(&mut **tx)
                    .await?;
                Client::try_from(row.ok_or(StoreError::NotFound(Missing::Client))?)
            }

            /// A client row with its name as the database orders it (lowercased).
            #[derive(sqlx::FromRow)]
            struct SortedRow {
                #[sqlx(flatten)]
                client: ClientRow,
                sort_name: Option<String>,
            }

            fn sort_key(key: SortKey) -> &'static str {
                match key {
                    SortKey::Id => "id",
                    SortKey::Name => super::NAME_KEY,
                    SortKey::Created => "created",
                    SortKey::Modified => "modified",
                    SortKey::LastUsed => super::LAST_USED_KEY,
                }
            }

            /// Where the page after `row` starts.
            fn position(sorter: Sorter, row: &SortedRow) -> Position {
                let stamp = |at: &Timestamp| time::rfc3339(*at);
                let value = match sorter.key {
                    SortKey::Id => None,
                    SortKey::Name => row.sort_name.clone(),
                    SortKey::Created => Some(stamp(&row.client.created)),
                    SortKey::Modified => Some(stamp(&row.client.modified)),
                    SortKey::LastUsed => row.client.last_used.as_ref().map(stamp),
                };
                Position {
                    key: sorter.key,
                    descending: sorter.descending,
                    value,
                    id: row.client.id.clone(),
                }
            }

            /// The reach and every term of the filter, each value bound.
            fn push_matches(q: &mut sqlx::QueryBuilder<$db>, query: &ClientQuery<'_>) {
                match query.reach {
                    Reach::Tenant(tenant) => {
                        q.push("tenant_id = ").push_bind(tenant.as_str().to_owned());
                    }
                    Reach::Tenants(TenantScope::All) => {
                        q.push("true");
                    }
                    Reach::Tenants(TenantScope::Only(ids)) => super::push_tenant_in(q, ids),
                }
                // `!` escapes LIKE's wildcards (and itself): no backslash, whose meaning in a
                // string literal depends on the server's settings.
                let like = |text: &str| text.replace('!', "!!").replace('%', "!%").replace('_', "!_");
                for term in &query.filter.0 {
                    q.push(" AND ");
                    match term {
                        // Both sides are lowercased by the database, so they fold alike.
                        Term::NameEq(name) => {
                            q.push(super::NAME_KEY).push(" = ");
                            super::push_lower(q, name.clone());
                        }
                        Term::NameStartsWith(prefix) => {
                            q.push(super::NAME_KEY).push(" LIKE ");
                            super::push_lower(q, format!("{}%", like(prefix)));
                            q.push(" ESCAPE '!'");
                        }
                        Term::NameContains(part) => {
                            q.push(super::NAME_KEY).push(" LIKE ");
                            super::push_lower(q, format!("%{}%", like(part)));
                            q.push(" ESCAPE '!'");
                        }
                        Term::AppTypeIn(types) => {
                            q.push("app_type IN (");
                            let mut separated = q.separated(", ");
                            for app_type in types {
                                separated.push_bind(app_type.as_str());
                            }
                            if types.is_empty() {
                                separated.push("NULL");
                            }
                            q.push(")");
                        }
                        Term::Enabled(enabled) => {
                            q.push(super::ENABLED_KEY).push(" = ").push_bind(*enabled);
                        }
                        Term::OwnersContain(owner) => super::push_contains(q, "owners", owner.clone()),
                        Term::GrantTypesContain(grant) => {
                            let name = serde_json::to_value(grant).ok().and_then(|v| v.as_str().map(str::to_owned));
                            super::push_contains(q, "grantTypes", name.unwrap_or_default());
                        }
                        // On the indexed expression, where never-used clients are the earliest.
                        Term::LastUsedAtMost(at) => {
                            q.push(super::LAST_USED_KEY).push(" <= ");
                            super::push_last_used(q, Some(*at));
                            q.push(" AND ").push(super::LAST_USED_KEY).push(" > ").push(super::NEVER_USED);
                        }
                        Term::LastUsedAtLeast(at) => {
                            q.push(super::LAST_USED_KEY).push(" >= ");
                            super::push_last_used(q, Some(*at));
                        }
                        Term::NeverUsed => {
                            q.push(super::LAST_USED_KEY).push(" = ").push(super::NEVER_USED);
                        }
                        Term::CreatedAtMost(at) => { q.push("created <= ").push_bind(*at); }
                        Term::CreatedAtLeast(at) => { q.push("created >= ").push_bind(*at); }
                        Term::ModifiedAtMost(at) => { q.push("modified <= ").push_bind(*at); }
                        Term::ModifiedAtLeast(at) => { q.push("modified >= ").push_bind(*at); }
                    }
                }
            }

            /// Keyset: past the cursor's (sort value, id), in the sorter's direction.
            fn push_after(q: &mut sqlx::QueryBuilder<$db>, sorter: Sorter, after: &Position) {
                let beyond = if sorter.descending { " < " } else { " > " };
                q.push(" AND ");
                match sorter.key {
                    SortKey::Id => {
                        q.push("id").push(beyond).push_bind(after.id.clone());
                        return;
                    }
                    SortKey::Name => {
                        q.push("(").push(super::NAME_KEY).push(", id)").push(beyond).push("(");
                        q.push_bind(after.value.clone().unwrap_or_default());
                    }
                    SortKey::Created | SortKey::Modified => {
                        q.push("(").push(sort_key(sorter.key)).push(", id)").push(beyond).push("(");
                        q.push_bind(after.time().unwrap_or_default());
                    }
                    SortKey::LastUsed => {
                        q.push("(").push(super::LAST_USED_KEY).push(", id)").push(beyond).push("(");
                        super::push_last_used(q, after.time());
                    }
                }
                q.push(", ").push_bind(after.id.clone()).push(")");
            }

            /// Whether a tenant exists: the foreign key a real write meets, as a read.
            async fn tenant_exists(store: &$store, tenant: &TenantId) -> StoreResult<bool> {
                let (found,): (i64,) = sqlx::query_as("SELECT count(*) FROM tenants WHERE id = $1")
                    .bind(tenant.as_str())
                    .fetch_one(&store.pool)
                    .await?;
                Ok(found > 0)
            }

            /// The domain's decision on `current`, with its credentials read (through
            /// `executor`) only when the decision turns on them.
            async fn decide_on<'e, E>(
                executor: E,
                current: &Client,
                decide: &ClientDecision<'_>,
            ) -> StoreResult<Option<(Client, Event)>>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                match decide(current, None) {
                    Err(crate::domain::refusal::Refusal::NeedsCredentials) => {
                        let credentials = credentials_of(executor, &current.id).await?;
                        Ok(decide(current, Some(&credentials))?)
                    }
                    decided => Ok(decided?),
                }
            }

            /// A dry run's create: the database's checks (the id is free, then the tenant
            /// exists, in the order the insert meets them) as reads, so a rehearsal never
            /// takes the write lock or queues behind writers.
            async fn rehearse_create(store: &$store, client: &Client) -> StoreResult<()> {
                if store.client(&client.id).await?.is_some() {
                    return Err(StoreError::Conflict("a client with this id exists"));
                }
                if !tenant_exists(store, &client.tenant).await? {
                    return Err(StoreError::NotFound(Missing::Tenant));
                }
                Ok(())
            }

            /// A dry run's patch: decided on the client as it is now, read without a lock.
            async fn rehearse_update(
                store: &$store,
                id: &ClientId,
                decide: &ClientDecision<'_>,
            ) -> StoreResult<Client> {
                let current = store.client(id).await?.ok_or(StoreError::NotFound(Missing::Client))?;
                let Some((changed, _)) = decide_on(&store.pool, &current, decide).await? else {
                    return Ok(current);
                };
                if changed.tenant != current.tenant && !tenant_exists(store, &changed.tenant).await? {
                    return Err(StoreError::NotFound(Missing::Tenant));
                }
                Ok(changed)
            }

            /// Commits with the change's event.
            pub(super) async fn finish(
                mut tx: sqlx::Transaction<'static, $db>,
                event: &Event,
            ) -> StoreResult<()> {
                record(&mut tx, event).await?;
                tx.commit().await?;
                event.log();
                Ok(())
            }

            /// A client's update, its id first; last_used is left alone: the uses of its
            /// secrets are written apart from every change (src/app/uses.rs).
            fn update<'q>(
                sql: &'static str,
                id: &'q ClientId,
                changed: &'q Client,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                sqlx::query(sql)
                    .bind(id.as_str())
                    .bind(changed.tenant.as_str())
                    .bind(Json(&changed.settings))
                    .bind(changed.modified)
            }

            fn moved_away(e: sqlx::Error) -> StoreError {
                StoreError::on_foreign_key(e, StoreError::NotFound(Missing::Tenant))
            }

            /// A change decided on `seen` (or on the row as read now, without a lock) and
            /// written in one statement if the row is still that; None when there was no
            /// change to write or the row had moved on, for the locked path to decide.
            async fn update_if_unchanged(
                store: &$store,
                id: &ClientId,
                seen: Option<&Client>,
                decide: &ClientDecision<'_>,
            ) -> StoreResult<Option<Client>> {
                let read;
                let seen = match seen {
                    Some(seen) => seen,
                    None => match store.client(id).await? {
                        Some(client) => {
                            read = client;
                            &read
                        }
                        None => return Ok(None),
                    },
                };
                let Ok(Some((changed, event))) = decide(seen, None) else {
                    return Ok(None);
                };
                let statement = bind_event(update(UPDATE_CLIENT_IF_UNCHANGED, id, &changed), &event)
                    .bind(seen.tenant.as_str())
                    .bind(Json(&seen.settings))
                    .bind(seen.modified)
                    .bind(seen.last_used)
                    .bind(seen.app_type.as_str())
                    .bind(seen.manually_created)
                    .bind(seen.created);
                let done = statement.execute(store.writer()).await.map_err(moved_away)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                event.log();
                Ok(Some(changed))
            }

            #[async_trait]
            impl ClientStore for $store {
                async fn create_client(
                    &self,
                    client: &Client,
                    secret: Option<&IssuedSecret>,
                    event: &Event,
                    commit: Commit,
                ) -> StoreResult<()> {
                    let refused = |e| match StoreError::on_unique(e, "a client with this id exists") {
                        StoreError::Backend(e) => StoreError::on_foreign_key(e, StoreError::NotFound(Missing::Tenant)),
                        other => other,
                    };
                    // The client's eight columns, first in both statements.
                    let insert = |sql| {
                        sqlx::query(sql)
                            .bind(client.id.as_str())
                            .bind(client.tenant.as_str())
                            .bind(client.app_type.as_str())
                            .bind(Json(&client.settings))
                            .bind(client.manually_created)
                            .bind(client.created)
                            .bind(client.modified)
                            .bind(client.last_used)
                    };
                    if commit == Commit::DryRun {
                        return rehearse_create(self, client).await;
                    }
                    if super::DATA_MODIFYING_CTE {
                        let insert = insert(CREATE_CLIENT_AT_ONCE)
                            .bind(secret.map(|s| s.hash.as_bytes().to_vec()))
                            .bind(secret.map(|s| s.last_four.clone()));
                        bind_event(insert, event).execute(self.writer()).await.map_err(refused)?;
                        event.log();
                        return Ok(());
                    }
                    let mut tx = self.begin_write().await?;
                    insert(
                        "INSERT INTO clients (id, tenant_id, app_type, settings, manually_created, created, modified, last_used)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .execute(&mut *tx)
                    .await
                    .map_err(refused)?;
                    if let Some(secret) = secret {
                        sqlx::query(
                            "INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created)
                             VALUES ($1, 'current', $2, $3, $4)",
                        )
                        .bind(client.id.as_str())
                        .bind(secret.hash.as_bytes())
                        .bind(&secret.last_four)
                        .bind(client.created)
                        .execute(&mut *tx)
                        .await?;
                    }
                    finish(tx, event).await
                }

                async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
                    let row: Option<ClientRow> = sqlx::query_as(CLIENT_BY_ID)
                        .bind(id.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(Client::try_from).transpose()
                }

                async fn list_clients(&self, query: &ClientQuery<'_>) -> StoreResult<Page<Client>> {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used, ",
                    );
                    select.push(super::NAME_KEY).push(" AS sort_name FROM clients WHERE ");
                    push_matches(&mut select, query);
                    if let Some(after) = query.after {
                        push_after(&mut select, query.sorter, after);
                    }
                    let direction = if query.sorter.descending { " DESC" } else { "" };
                    select.push(" ORDER BY ");
                    if query.sorter.key != SortKey::Id {
                        select.push(sort_key(query.sorter.key)).push(direction).push(", ");
                    }
                    select.push("id").push(direction).push(" LIMIT ");
                    select.push_bind(i64::from(query.limit.get()) + 1);
                    // Read row by row, and no further than the page needs; measured as the
                    // page shows them: documents, not rows.
                    let sorter = query.sorter;
                    let mut rows = Vec::new();
                    let mut stream = select.build_query_as::<SortedRow>().fetch(&self.pool);
                    while let Some(row) = futures_util::TryStreamExt::try_next(&mut stream).await? {
                        let key = position(sorter, &row).encode();
                        let client = Client::try_from(row.client)?;
                        let size = crate::domain::json::json_size(&client.document());
                        rows.push(((client, key), size));
                        if Page::is_full(&rows, query.limit) {
                            break;
                        }
                    }
                    drop(stream);
                    let page = Page::from_sized_rows(rows, query.limit, |(_, key): &(Client, String)| key.clone());
                    let clients = page.items.into_iter().map(|(client, _)| client).collect();
                    Ok(Page { items: clients, next_cursor: page.next_cursor })
                }

                async fn count_clients(&self, query: &ClientQuery<'_>) -> StoreResult<u64> {
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT count(*) FROM clients WHERE ");
                    push_matches(&mut count, query);
                    let (matches,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;
                    Ok(u64::try_from(matches).unwrap_or(0))
                }

                async fn update_client(
                    &self,
                    id: &ClientId,
                    seen: Option<&Client>,
                    decide: &ClientDecision<'_>,
                    commit: Commit,
                ) -> StoreResult<Client> {
                    if commit == Commit::DryRun {
                        return rehearse_update(self, id, decide).await;
                    }
                    if super::DATA_MODIFYING_CTE {
                        if let Some(changed) = update_if_unchanged(self, id, seen, decide).await? {
                            return Ok(changed);
                        }
                    }
                    let mut tx = self.begin_write().await?;
                    let current = locked_client(&mut tx, id).await?;
                    // The domain decides under the lock: the one call from the store back up.
                    let Some((changed, event)) = decide_on(&mut *tx, &current, decide).await? else {
                        return Ok(current);
                    };
                    if super::DATA_MODIFYING_CTE {
                        let statement = bind_event(update(UPDATE_CLIENT_AT_ONCE, id, &changed), &event);
                        statement.execute(&mut *tx).await.map_err(moved_away)?;
                        tx.commit().await?;
                        event.log();
                        return Ok(changed);
                    }
                    let statement = update(
                        "UPDATE clients SET tenant_id = $2, settings = $3, modified = $4 WHERE id = $1",
                        id,
                        &changed,
                    );
                    statement.execute(&mut *tx).await.map_err(moved_away)?;
                    finish(tx, &event).await?;
                    Ok(changed)
                }

                async fn delete_client(&self, read: &Client, audit: &Audit<'_, Client>) -> StoreResult<()> {
                    let (id, tenant) = (&read.id, &read.tenant);
                    if super::DATA_MODIFYING_CTE {
                        let event = audit(read);
                        let statement = sqlx::query(DELETE_CLIENT_AT_ONCE)
                            .bind(id.as_str())
                            .bind(tenant.as_str())
                            .bind(read.modified)
                            .bind(read.last_used)
                            .bind(Json(&read.settings))
                            .bind(read.app_type.as_str());
                        let done = bind_event(statement, &event).execute(self.writer()).await?;
                        if done.rows_affected() == 1 {
                            event.log();
                            return Ok(());
                        }
                    }
                    let mut tx = self.begin_write().await?;
                    let deleted: Option<ClientRow> = sqlx::query_as(concat!(
                        "DELETE FROM clients WHERE id = $1 AND tenant_id = $2 RETURNING ",
                        "id, tenant_id, app_type, settings, manually_created, created, modified, last_used"
                    ))
                    .bind(id.as_str())
                    .bind(tenant.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    let deleted = Client::try_from(deleted.ok_or(StoreError::NotFound(Missing::Client))?)?;
                    finish(tx, &audit(&deleted)).await
                }
            }
        }
    };
}
pub(super) use client_store;
