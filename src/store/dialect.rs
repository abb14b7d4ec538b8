//! What the two databases spell differently, for the code both share: where the settings
//! document keeps a client's name and flags, how names are lowercased, how a list of ids is
//! bound and matched. Each adapter's `mod.rs` implements it for its database. Public only
//! inside this private module, as `Adapter` names it: no part of the store's API.

use sqlx::QueryBuilder;

use crate::domain::audit::FeedPosition;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::store::UsedAssertion;

/// How a database spells what the shared queries need: where the settings document keeps a
/// client's name and flags, how a value is lowercased as names are, and how a list is bound.
pub trait Dialect: sqlx::Database {
    /// A list of tenant ids as the database takes it bound.
    type TenantList;

    /// The name as clients are matched and ordered by it (lowercased).
    const NAME_KEY: &'static str;
    const ENABLED_KEY: &'static str;
    /// The last use, with never-used clients as the earliest time there is.
    const LAST_USED_KEY: &'static str;
    /// The transaction that wrote an event row, as text: the feed's order, with seq.
    const FEED_XID: &'static str;
    /// The feed's order (oldest first).
    const FEED_ORDER: &'static str;
    /// What `LAST_USED_KEY` is for a client never used.
    const NEVER_USED: &'static str;
    /// A page of tenants past `$1`, among the list `$2` if it is not NULL, `$3` at most.
    const TENANTS_PAGE: &'static str;
    /// The ids of the list `$1` that name a tenant.
    const TENANTS_AMONG: &'static str;
    /// A token with its tenants gathered into one space-separated column, in one round trip.
    const TOKEN_BY_ID: &'static str;
    /// A page of tokens past `$1`, `$2` at most, their tenants gathered as `TOKEN_BY_ID`'s.
    const TOKENS_PAGE: &'static str;
    /// A token's (`$1`) tenants, inserted from the list `$2`.
    const INSERT_TOKEN_TENANTS: &'static str;
    /// The client `$1`, read so that no other write changes it until the transaction ends.
    const LOCK_CLIENT: &'static str;
    /// The tenant `$1`'s id, read so that no other change to its signing keys begins until
    /// the transaction ends.
    const LOCK_TENANT: &'static str;

    /// A value lowercased as `NAME_KEY` lowercases names.
    fn push_lower(q: &mut QueryBuilder<Self>, text: String);
    /// A time as `LAST_USED_KEY` has it.
    fn push_last_used(q: &mut QueryBuilder<Self>, at: Option<Timestamp>);
    /// A list in the settings (owners, grantTypes) that holds `value`.
    fn push_contains(q: &mut QueryBuilder<Self>, field: &'static str, value: String);
    /// How many rows a statement changed: each sqlx database has its own, under no trait.
    fn rows_affected(done: &Self::QueryResult) -> u64;
    /// Tenant ids bound as one value, for the statements that match a list.
    fn tenant_list(ids: &[TenantId]) -> Self::TenantList;
    /// The row's tenant is one of `ids`.
    fn push_tenant_in(q: &mut QueryBuilder<Self>, ids: &[TenantId]);
    /// The rows of client assertions to insert, as a `SELECT` or `VALUES`.
    fn push_assertion_rows(q: &mut QueryBuilder<Self>, used: &[UsedAssertion]);
    /// Event rows after `after` in the feed's order that are final: no row can still
    /// commit before them.
    fn push_feed_after(q: &mut QueryBuilder<Self>, after: FeedPosition);
}
