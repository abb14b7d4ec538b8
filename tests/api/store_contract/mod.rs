//! The contract of the `Store` trait: what every backend must do, written once and run
//! against each (as Hydra's `manager_test_helpers` run every manager against every
//! database). These tests talk to the store directly, through the library's public API,
//! with domain values built by the domain's own constructors, as `src/app` builds them.
//! The HTTP tests stay; this suite is what a new backend must pass.

use std::sync::Arc;

use clientd::config::Settings;
use clientd::domain::audit::{Action, Event, EventFilters};
use clientd::domain::change::{Actor, ChangeContext};
use clientd::domain::client::{Client, ClientId, CreateClient};
use clientd::domain::page::Limit;
use clientd::domain::secret::IssuedSecret;
use clientd::domain::tenant::{Tenant, TenantId};
use clientd::domain::time::{self, Timestamp};
use clientd::store::{EventQuery, History, Store, WriteMode};
use serde_json::{Value, json};

use crate::helpers::TestDatabase;

/// Defines each test once per store, as `sqlite::name` and `postgres::name`, with `$store`
/// a migrated store on a fresh database of its own (Postgres: skipped outside CI when no
/// server is given, a failure under CI=true, as `TestDatabase::create` decides).
macro_rules! on_each_store {
    ($($(#[$meta:meta])* async fn $name:ident($store:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = crate::helpers::TestDatabase::create(crate::helpers::Backend::Sqlite).await.unwrap();
                    let $store = crate::store_contract::open(&database).await;
                    $body
                    $store.close().await;
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(database) = crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await else { return };
                    let $store = crate::store_contract::open(&database).await;
                    $body
                    $store.close().await;
                }
            )*
        }
    };
}

mod autopilot;
mod clients;
mod events;
mod idempotency;
mod listing;
mod migrations;
mod secrets_credentials;
mod tenants_tokens;
mod text;
mod token_state;
mod updates;

/// The store of `database`, migrated, as the server opens it.
pub async fn open(database: &TestDatabase) -> Arc<dyn Store> {
    clientd::connect(&Settings::for_database(&database.url))
        .await
        .unwrap()
}

/// A change made by the command line: no request, no token.
pub fn cli() -> ChangeContext {
    ChangeContext::without_request(Actor::Cli)
}

/// A change made by the admin token `id`.
pub fn by_token(id: uuid::Uuid) -> ChangeContext {
    ChangeContext::without_request(Actor::Token {
        id,
        name: "contract".to_owned(),
    })
}

pub fn tenant_id(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

pub fn client_id(id: &str) -> ClientId {
    ClientId::parse(id).unwrap()
}

/// A tenant as `app::tenants::create` builds it.
pub fn new_tenant(id: &str) -> Tenant {
    Tenant::new(id, &format!("Tenant {id}"), time::now()).unwrap()
}

/// The event `app::tenants` records for a tenant.
pub fn tenant_event(change: &ChangeContext, action: Action, tenant: &Tenant) -> Event {
    let path = format!("/tenants/{}", tenant.id);
    Event::new(change, action, Some(&tenant.id), tenant.id.as_str(), path).with_document(tenant)
}

/// Stores a new tenant `id` and returns it.
pub async fn create_tenant(store: &dyn Store, id: &str) -> Tenant {
    let tenant = new_tenant(id);
    let event = tenant_event(&cli(), Action::TenantCreate, &tenant);
    store.create_tenant(&tenant, &event).await.unwrap();
    tenant
}

/// A client as `app::clients::create` builds it from a Nexus create request: `request`'s
/// members over a confidential machine client named after its id.
pub fn new_client(tenant: &str, id: &str, request: Value) -> Client {
    let mut body = json!({"id": id, "name": format!("Client {id}"), "app_type": "non_interactive"});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, request) {
        body.extend(extra);
    }
    let create: CreateClient = serde_json::from_value(body).unwrap();
    create.into_client(tenant_id(tenant), time::now()).unwrap()
}

/// The event `app::clients` records for a client, with its document.
pub fn client_event(change: &ChangeContext, action: Action, client: &Client) -> Event {
    let path = format!("/clients/{}", client.id);
    Event::new(
        change,
        action,
        Some(&client.tenant),
        client.id.as_str(),
        path,
    )
    .of_client(&client.id)
    .with_document(&client.document())
}

/// Stores `client` with a first secret, which it returns.
pub async fn store_client(store: &dyn Store, client: &Client) -> IssuedSecret {
    let secret = IssuedSecret::generate().unwrap();
    let event = client_event(&cli(), Action::ClientCreate, client);
    (store.create_client(client, Some(&secret), &event, WriteMode::Apply))
        .await
        .unwrap();
    secret
}

/// Builds and stores a client of `tenant` (which must exist) with default settings.
pub async fn create_client(store: &dyn Store, tenant: &str, id: &str) -> Client {
    let client = new_client(tenant, id, json!({}));
    store_client(store, &client).await;
    client
}

/// A time `seconds` from a fixed instant, for rows whose order must be known.
pub fn at(seconds: i64) -> Timestamp {
    let start = chrono::DateTime::parse_from_rfc3339("2027-03-01T12:00:00Z").unwrap();
    start.to_utc() + chrono::TimeDelta::seconds(seconds)
}

/// Filters for a page of the whole trail of at most `limit` events.
pub fn filters(limit: u32) -> EventFilters {
    EventFilters {
        limit: Limit::parse(Some(limit)).unwrap(),
        ..EventFilters::default()
    }
}

/// The whole trail (up to 200 events), newest first.
pub async fn trail(store: &dyn Store) -> Vec<Event> {
    let query = EventQuery {
        history: History::Everything,
        filters: filters(200),
    };
    store.events(&query).await.unwrap().items
}

/// The actions of the whole trail, newest first.
pub async fn actions(store: &dyn Store) -> Vec<Action> {
    trail(store).await.iter().map(|e| e.action).collect()
}

/// `event` as the trail gives it back: the claim it carried is not shown.
pub fn as_read(event: &Event) -> Event {
    Event {
        claim: None,
        ..event.clone()
    }
}

pub fn limit(n: u32) -> Limit {
    Limit::parse(Some(n)).unwrap()
}

/// Every client of every tenant, by id (up to 200).
pub async fn listing_all(store: &dyn Store) -> Vec<Client> {
    use clientd::domain::query::{ClientFilter, Sorter};
    use clientd::domain::token::TenantScope;
    let filter = ClientFilter::default();
    let query = clientd::store::ClientQuery {
        reach: clientd::store::Reach::Tenants(TenantScope::All),
        filter: &filter,
        sorter: Sorter::default(),
        after: None,
        limit: limit(200),
    };
    store.list_clients(&query).await.unwrap().items
}
