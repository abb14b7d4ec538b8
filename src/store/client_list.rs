//! The client listing, built the same way for both adapters, each through its `Dialect` for
//! what its SQL spells differently: a filtered, sorted, keyset-paged query, and its count.

use futures_util::{Stream, TryStreamExt};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Pool, QueryBuilder, Type};

use super::StoreResult;
use super::clients::{ClientQuery, Reach};
use super::dialect::Dialect;
use super::rows::ClientRow;
use crate::domain::client::Client;
use crate::domain::page::Page;
use crate::domain::query::{Position, SortKey, Sorter, Term};
use crate::domain::time::{self, Timestamp};
use crate::domain::token::TenantScope;

/// A client row with its name as the database orders it (lowercased).
#[derive(sqlx::FromRow)]
pub struct SortedRow {
    #[sqlx(flatten)]
    client: ClientRow,
    sort_name: Option<String>,
}

/// A page of the query's clients, read through `pool`.
pub(super) async fn list_clients<DB>(
    pool: &Pool<DB>,
    query: &ClientQuery<'_>,
) -> StoreResult<Page<Client>>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'r> SortedRow: FromRow<'r, DB::Row> + Send + Unpin,
{
    let mut select = select_page::<DB>(query);
    let rows = select.build_query_as::<SortedRow>().fetch(pool);
    read_page(rows, query).await
}

/// How many clients the query's reach and filter match, counted through `pool`.
pub(super) async fn count_clients<DB>(pool: &Pool<DB>, query: &ClientQuery<'_>) -> StoreResult<u64>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row> + Send + Unpin,
{
    let mut count = select_count::<DB>(query);
    let (matches,): (i64,) = count.build_query_as().fetch_one(pool).await?;
    Ok(u64::try_from(matches).unwrap_or(0))
}

/// A page of the query's clients, past its cursor, one row more than the page holds (so
/// the page knows whether another follows).
fn select_page<DB>(query: &ClientQuery<'_>) -> QueryBuilder<DB>
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    let mut select = QueryBuilder::new(
        "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used, ",
    );
    select
        .push(DB::NAME_KEY)
        .push(" AS sort_name FROM clients WHERE ");
    push_matches(&mut select, query);
    if let Some(after) = query.after {
        push_after(&mut select, query.sorter, after);
    }
    let direction = if query.sorter.descending { " DESC" } else { "" };
    select.push(" ORDER BY ");
    if query.sorter.key != SortKey::Id {
        select
            .push(sort_key::<DB>(query.sorter.key))
            .push(direction)
            .push(", ");
    }
    select.push("id").push(direction).push(" LIMIT ");
    select.push_bind(i64::from(query.limit.get()) + 1);
    select
}

/// How many clients the query's reach and filter match.
fn select_count<DB>(query: &ClientQuery<'_>) -> QueryBuilder<DB>
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    let mut count = QueryBuilder::new("SELECT count(*) FROM clients WHERE ");
    push_matches(&mut count, query);
    count
}

/// Reads `rows` (of `select_page`) row by row, and no further than the page needs; measured
/// as the page shows them: documents, not rows.
async fn read_page<S>(mut rows: S, query: &ClientQuery<'_>) -> StoreResult<Page<Client>>
where
    S: Stream<Item = Result<SortedRow, sqlx::Error>> + Unpin,
{
    let mut sized = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let key = position(query.sorter, &row).encode();
        let client = Client::try_from(row.client)?;
        let size = crate::domain::json::json_size(&client.document());
        sized.push(((client, key), size));
        if Page::is_full(&sized, query.limit) {
            break;
        }
    }
    drop(rows);
    let page = Page::from_sized_rows(sized, query.limit, |(_, key): &(Client, String)| {
        key.clone()
    });
    let clients = page.items.into_iter().map(|(client, _)| client).collect();
    Ok(Page {
        items: clients,
        next_cursor: page.next_cursor,
    })
}

fn sort_key<DB: Dialect>(key: SortKey) -> &'static str {
    match key {
        SortKey::Id => "id",
        SortKey::Name => DB::NAME_KEY,
        SortKey::Created => "created",
        SortKey::Modified => "modified",
        SortKey::LastUsed => DB::LAST_USED_KEY,
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
fn push_matches<DB>(q: &mut QueryBuilder<DB>, query: &ClientQuery<'_>)
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    match query.reach {
        Reach::Tenant(tenant) => {
            q.push("tenant_id = ").push_bind(tenant.as_str().to_owned());
        }
        Reach::Tenants(TenantScope::All) => {
            q.push("true");
        }
        Reach::Tenants(TenantScope::Only(ids)) => DB::push_tenant_in(q, ids),
    }
    for term in &query.filter.0 {
        q.push(" AND ");
        push_term(q, term);
    }
}

/// One term of the filter, its value bound.
fn push_term<DB>(q: &mut QueryBuilder<DB>, term: &Term)
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    // `!` escapes LIKE's wildcards (and itself): no backslash, whose meaning in a string
    // literal depends on the server's settings.
    let like = |text: &str| {
        text.replace('!', "!!")
            .replace('%', "!%")
            .replace('_', "!_")
    };
    match term {
        // Both sides are lowercased by the database, so they fold alike.
        Term::NameEq(name) => {
            q.push(DB::NAME_KEY).push(" = ");
            DB::push_lower(q, name.clone());
        }
        Term::NameStartsWith(prefix) => {
            q.push(DB::NAME_KEY).push(" LIKE ");
            DB::push_lower(q, format!("{}%", like(prefix)));
            q.push(" ESCAPE '!'");
        }
        Term::NameContains(part) => {
            q.push(DB::NAME_KEY).push(" LIKE ");
            DB::push_lower(q, format!("%{}%", like(part)));
            q.push(" ESCAPE '!'");
        }
        Term::AppTypeIn(types) => {
            q.push("app_type IN (");
            let mut separated = q.separated(", ");
            for app_type in types {
                separated.push_bind(app_type.as_str().to_owned());
            }
            if types.is_empty() {
                separated.push("NULL");
            }
            q.push(")");
        }
        Term::Enabled(enabled) => {
            q.push(DB::ENABLED_KEY).push(" = ").push_bind(*enabled);
        }
        Term::OwnersContain(owner) => DB::push_contains(q, "owners", owner.clone()),
        Term::GrantTypesContain(grant) => {
            let name = serde_json::to_value(grant)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            DB::push_contains(q, "grantTypes", name.unwrap_or_default());
        }
        // On the indexed expression, where never-used clients are the earliest.
        Term::LastUsedAtMost(at) => {
            q.push(DB::LAST_USED_KEY).push(" <= ");
            DB::push_last_used(q, Some(*at));
            q.push(" AND ").push(DB::LAST_USED_KEY).push(" > ");
            q.push(DB::NEVER_USED);
        }
        Term::LastUsedAtLeast(at) => {
            q.push(DB::LAST_USED_KEY).push(" >= ");
            DB::push_last_used(q, Some(*at));
        }
        Term::NeverUsed => {
            q.push(DB::LAST_USED_KEY).push(" = ").push(DB::NEVER_USED);
        }
        Term::CreatedAtMost(at) => {
            q.push("created <= ").push_bind(*at);
        }
        Term::CreatedAtLeast(at) => {
            q.push("created >= ").push_bind(*at);
        }
        Term::ModifiedAtMost(at) => {
            q.push("modified <= ").push_bind(*at);
        }
        Term::ModifiedAtLeast(at) => {
            q.push("modified >= ").push_bind(*at);
        }
        // The stale current secrets, from the index of their stale_at (migration 0009):
        // the query can start from them rather than from every client.
        Term::SecretStale { stale, at } => {
            q.push(if *stale { "id IN" } else { "id NOT IN" });
            q.push(" (SELECT client_id FROM client_secrets WHERE slot = 'current'")
                .push(" AND stale_at IS NOT NULL AND stale_at <= ")
                .push_bind(*at)
                .push(")");
        }
    }
}

/// Keyset: past the cursor's (sort value, id), in the sorter's direction.
fn push_after<DB>(q: &mut QueryBuilder<DB>, sorter: Sorter, after: &Position)
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    let beyond = if sorter.descending { " < " } else { " > " };
    q.push(" AND ");
    match sorter.key {
        SortKey::Id => {
            q.push("id").push(beyond).push_bind(after.id.clone());
            return;
        }
        SortKey::Name => {
            q.push("(")
                .push(DB::NAME_KEY)
                .push(", id)")
                .push(beyond)
                .push("(");
            q.push_bind(after.value.clone().unwrap_or_default());
        }
        SortKey::Created | SortKey::Modified => {
            q.push("(").push(sort_key::<DB>(sorter.key)).push(", id)");
            q.push(beyond).push("(");
            q.push_bind(after.time().unwrap_or_default());
        }
        SortKey::LastUsed => {
            q.push("(").push(DB::LAST_USED_KEY).push(", id)");
            q.push(beyond).push("(");
            DB::push_last_used(q, after.time());
        }
    }
    q.push(", ").push_bind(after.id.clone()).push(")");
}
