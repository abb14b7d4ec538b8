//! Listing and counting clients: every filter term, reach, every sorter, and keyset paging
//! that visits every row once while rows come and go between pages.

use clientd::domain::audit::Action;
use clientd::domain::client::{AppType, Client, GrantType};
use clientd::domain::query::{ClientFilter, Position, SortKey, Sorter, Term};
use clientd::domain::token::TenantScope;
use clientd::store::{ClientQuery, Reach, Store};

use super::*;

/// A stored client with its times set, so that every order is known.
async fn client_at(store: &dyn Store, tenant: &str, id: &str, at_s: i64, request: Value) -> Client {
    let mut client = new_client(tenant, id, request);
    client.created = at(at_s);
    client.modified = at(at_s + 1000);
    store_client(store, &client).await;
    client
}

/// Two tenants' clients, with names, types, owners, grants and times to tell apart; ties
/// on created (a1, b1) and on the lowercased name (a2, a4) are broken by id.
async fn fixture(store: &dyn Store) -> Vec<Client> {
    create_tenant(store, "acme").await;
    create_tenant(store, "other").await;
    let web = |name: &str, app_type: &str, owners: &str| {
        let callbacks = ["https://app.example/cb"];
        json!({"name": name, "app_type": app_type, "callbacks": callbacks, "client_metadata": {"owners": owners}})
    };
    let machine = json!({"name": "Billing API", "client_metadata": {"owners": "ann"}});
    let mut a1 = client_at(store, "acme", "a1", 0, machine).await;
    let mut disabled = web("billing web", "regular_web", "bob");
    disabled["enabled"] = json!(false);
    let a2 = client_at(store, "acme", "a2", 10, disabled).await;
    let mut a3 = client_at(
        store,
        "acme",
        "a3",
        20,
        web("Reports_100%", "spa", "ann, bob"),
    )
    .await;
    let a4 = client_at(store, "acme", "a4", 30, web("BILLING WEB", "spa", "")).await;
    let b1 = client_at(store, "other", "b1", 0, json!({"name": "Billing other"})).await;
    for (client, used) in [(&mut a1, 100), (&mut a3, 50)] {
        let secret = store
            .client_with_secrets(&client.id)
            .await
            .unwrap()
            .unwrap()
            .1[0]
            .hash;
        store
            .record_secret_use(&client.id, &secret, at(used), at(used))
            .await
            .unwrap();
        client.last_used = Some(at(used));
    }
    vec![a1, a2, a3, a4, b1]
}

fn query<'a>(
    reach: Reach<'a>,
    filter: &'a ClientFilter,
    sorter: Sorter,
    after: Option<&'a Position>,
    n: u32,
) -> ClientQuery<'a> {
    ClientQuery {
        reach,
        filter,
        sorter,
        after,
        limit: limit(n),
    }
}

/// The ids `filter` lists (all at once, by id) and how many it counts, across every tenant.
async fn matching(store: &dyn Store, terms: Vec<Term>) -> (Vec<String>, u64) {
    let filter = ClientFilter(terms);
    let q = query(
        Reach::Tenants(TenantScope::All),
        &filter,
        Sorter::default(),
        None,
        200,
    );
    let page = store.list_clients(&q).await.unwrap();
    assert_eq!(page.next_cursor, None);
    let ids = page.items.iter().map(|c| c.id.to_string()).collect();
    (ids, store.count_clients(&q).await.unwrap())
}

/// Every id `sorter` lists, `n` a page, following each page's cursor.
async fn paged(store: &dyn Store, sorter: Sorter, n: u32) -> Vec<String> {
    let (filter, mut after, mut ids) = (ClientFilter::default(), None::<Position>, Vec::new());
    loop {
        let q = query(
            Reach::Tenants(TenantScope::All),
            &filter,
            sorter,
            after.as_ref(),
            n,
        );
        let page = store.list_clients(&q).await.unwrap();
        ids.extend(page.items.iter().map(|c| c.id.to_string()));
        match page.next_cursor {
            Some(cursor) => after = Some(Position::decode(&cursor, sorter).unwrap()),
            None => return ids,
        }
    }
}

/// The order `key` puts clients in, ascending, ties broken by id; never used first.
fn sorted(clients: &[Client], key: SortKey) -> Vec<String> {
    let mut clients = clients.to_vec();
    clients.sort_by_key(|c| {
        let key = match key {
            SortKey::Id => String::new(),
            SortKey::Name => c.settings.name.to_ascii_lowercase(),
            SortKey::Created => time::rfc3339(c.created),
            SortKey::Modified => time::rfc3339(c.modified),
            SortKey::LastUsed => c.last_used.map(time::rfc3339).unwrap_or_default(),
        };
        (key, c.id.to_string())
    });
    clients.iter().map(|c| c.id.to_string()).collect()
}

on_each_store! {
    async fn each_filter_term_lists_and_counts_exactly_its_clients(store) {
        fixture(store.as_ref()).await;
        let cases: Vec<(Vec<Term>, &[&str])> = vec![
            (vec![], &["a1", "a2", "a3", "a4", "b1"]),
            (vec![Term::NameEq("BILLING api".into())], &["a1"]),
            (vec![Term::NameStartsWith("bill".into())], &["a1", "a2", "a4", "b1"]),
            // LIKE's wildcards are matched as themselves.
            (vec![Term::NameContains("_100%".into())], &["a3"]),
            (vec![Term::NameContains("%".into())], &["a3"]),
            (vec![Term::NameContains("g_w".into())], &[]),
            (vec![Term::AppTypeIn(vec![AppType::Spa, AppType::Native])], &["a3", "a4"]),
            (vec![Term::AppTypeIn(vec![])], &[]),
            (vec![Term::Enabled(false)], &["a2"]),
            (vec![Term::OwnersContain("ann".into())], &["a1", "a3"]),
            (vec![Term::OwnersContain("an".into())], &[]),
            (vec![Term::GrantTypesContain(GrantType::ClientCredentials)], &["a1", "b1"]),
            (vec![Term::NeverUsed], &["a2", "a4", "b1"]),
            (vec![Term::LastUsedAtMost(at(60))], &["a3"]),
            (vec![Term::LastUsedAtLeast(at(60))], &["a1"]),
            (vec![Term::CreatedAtMost(at(10))], &["a1", "a2", "b1"]),
            (vec![Term::CreatedAtLeast(at(20))], &["a3", "a4"]),
            (vec![Term::ModifiedAtMost(at(1000))], &["a1", "b1"]),
            (vec![Term::ModifiedAtLeast(at(1030))], &["a4"]),
            (vec![Term::NameStartsWith("bill".into()), Term::Enabled(true)], &["a1", "a4", "b1"]),
        ];
        for (terms, expected) in cases {
            let shown = format!("{terms:?}");
            let (ids, count) = matching(store.as_ref(), terms).await;
            assert_eq!((ids, count), (expected.iter().map(|s| s.to_string()).collect(), expected.len() as u64), "{shown}");
        }
    }

    async fn a_listing_reaches_one_tenant_or_only_the_tenants_in_scope(store) {
        fixture(store.as_ref()).await;
        let (filter, acme, other) = (ClientFilter::default(), tenant_id("acme"), tenant_id("other"));
        let scope = [other.clone(), tenant_id("nowhere")];
        for (reach, expected) in [
            (Reach::Tenant(&acme), vec!["a1", "a2", "a3", "a4"]),
            (Reach::Tenant(&tenant_id("nowhere")), vec![]),
            (Reach::Tenants(TenantScope::Only(&scope)), vec!["b1"]),
            (Reach::Tenants(TenantScope::Only(&[])), vec![]),
        ] {
            let q = query(reach, &filter, Sorter::default(), None, 200);
            let ids: Vec<_> = store.list_clients(&q).await.unwrap().items.into_iter().map(|c| c.id.to_string()).collect();
            let count = store.count_clients(&q).await.unwrap();
            let expected: Vec<_> = expected.iter().map(|s| s.to_string()).collect();
            let expected_count = expected.len() as u64;
            assert_eq!((ids, count), (expected, expected_count), "{reach:?}");
        }
    }

    async fn every_sorter_pages_through_every_client_once_in_its_order(store) {
        let clients = fixture(store.as_ref()).await;
        for key in [SortKey::Id, SortKey::Name, SortKey::Created, SortKey::Modified, SortKey::LastUsed] {
            let mut expected = sorted(&clients, key);
            for descending in [false, true] {
                if descending {
                    expected.reverse();
                }
                let sorter = Sorter { key, descending };
                for n in [1, 2, 5, 200] {
                    assert_eq!(paged(store.as_ref(), sorter, n).await, expected, "{sorter:?} by {n}");
                }
            }
        }
    }

    async fn keyset_paging_visits_every_row_once_while_rows_come_and_go(store) {
        create_tenant(store.as_ref(), "churn").await;
        let add = |id: &'static str, at_s: i64| {
            let store = store.clone();
            async move {
                let mut client = new_client("churn", id, json!({}));
                client.created = at(at_s);
                client.modified = at(at_s);
                store_client(store.as_ref(), &client).await;
                client
            }
        };
        for key in [SortKey::Id, SortKey::Name, SortKey::Created, SortKey::Modified, SortKey::LastUsed] {
            let mut rows = Vec::new();
            for n in 0..10 {
                rows.push(add(["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"][n], n as i64 * 10).await);
            }
            let sorter = Sorter { key, descending: false };
            let (filter, churn) = (ClientFilter::default(), tenant_id("churn"));
            let (mut after, mut seen, mut page_number) = (None::<Position>, Vec::new(), 0);
            loop {
                let q = query(Reach::Tenant(&churn), &filter, sorter, after.as_ref(), 3);
                let page = store.list_clients(&q).await.unwrap();
                seen.extend(page.items.iter().map(|c| c.id.to_string()));
                page_number += 1;
                // Between pages: a row is added behind the cursor (not to be seen) and one
                // ahead of it (to be seen); a row not yet seen goes, and one already seen.
                if page_number == 1 {
                    rows.push(add("c1a", 15).await);
                    rows.push(add("c7a", 75).await);
                    let gone = rows.iter().find(|c| c.id.as_str() == "c5").unwrap().clone();
                    store.delete_client(&gone, &|c: &Client| client_event(&cli(), Action::ClientDelete, c)).await.unwrap();
                } else if page_number == 2 {
                    let gone = rows.iter().find(|c| c.id.as_str() == "c1").unwrap().clone();
                    store.delete_client(&gone, &|c: &Client| client_event(&cli(), Action::ClientDelete, c)).await.unwrap();
                    rows.push(add("c9z", 999).await);
                }
                match page.next_cursor {
                    Some(cursor) => after = Some(Position::decode(&cursor, sorter).unwrap()),
                    None => break,
                }
            }
            assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4", "c6", "c7", "c7a", "c8", "c9", "c9z"], "{sorter:?}");
            for client in store.list_clients(&query(Reach::Tenant(&churn), &filter, sorter, None, 200)).await.unwrap().items {
                store.delete_client(&client, &|c: &Client| client_event(&cli(), Action::ClientDelete, c)).await.unwrap();
            }
        }
    }
}
