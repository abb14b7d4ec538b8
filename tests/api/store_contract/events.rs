//! The audit trail: each change's event written with it, read newest first in pages that
//! visit every event once, filtered, walled by history, bounded in bytes, and pruned.

use clientd::domain::audit::{Action, Event, EventFilters};
use clientd::domain::client::Client;
use clientd::domain::credential::Credential;
use clientd::domain::page::PAGE_BYTES;
use clientd::domain::tenant::Tenant;
use clientd::domain::token::TenantScope;
use clientd::store::{EventQuery, History, Store, WriteMode};

use super::*;

/// Stores tenant `id` with `event` (made by `make` from the tenant) and returns the event.
async fn tenant_with(store: &dyn Store, id: &str, make: impl FnOnce(&Tenant) -> Event) -> Event {
    let tenant = new_tenant(id);
    let event = make(&tenant);
    store.create_tenant(&tenant, &event).await.unwrap();
    event
}

/// Every event `history` holds under `filters`, page by page, with each page's length.
async fn all_pages<'h>(
    store: &dyn Store,
    history: impl Fn() -> History<'h>,
    mut filters: EventFilters,
) -> (Vec<Event>, Vec<usize>) {
    let (mut events, mut lengths) = (Vec::new(), Vec::new());
    loop {
        let page = store
            .events(&EventQuery {
                history: history(),
                filters,
            })
            .await
            .unwrap();
        lengths.push(page.items.len());
        events.extend(page.items);
        match page.next_cursor {
            Some(cursor) => filters.before = Some(cursor.parse().unwrap()),
            None => return (events, lengths),
        }
    }
}

on_each_store! {
    async fn each_change_is_in_the_trail_exactly_as_its_event_was_made(store) {
        let tenant = tenant_with(store.as_ref(), "acme", |t| tenant_event(&cli(), Action::TenantCreate, t)).await;
        let client = new_client("acme", "portal", json!({}));
        let created = client_event(&by_token(uuid::Uuid::now_v7()), Action::ClientCreate, &client);
        store.create_client(&client, None, &created, WriteMode::Apply).await.unwrap();
        let after = Client { modified: time::now(), ..client.clone() };
        let patch = json!([{"op": "test", "path": "/name", "value": "x"}]);
        let mut patched = client_event(&cli(), Action::ClientPatch, &after)
            .with_patch(patch, vec!["modified".into()]);
        patched.source_ip = Some("192.0.2.7".parse().unwrap());
        patched.request_id = Some("req-1".into());
        let decide = |_: &Client, _: Option<&[Credential]>| Ok(Some((after.clone(), patched.clone())));
        store.update_client(&client.id, None, &decide, WriteMode::Apply).await.unwrap();
        let gone = client_event(&cli(), Action::ClientDelete, &after);
        store.delete_client(&after, &|_: &Client| gone.clone()).await.unwrap();
        let expected: Vec<_> = [&gone, &patched, &created, &tenant].into_iter().map(as_read).collect();
        assert_eq!(trail(store.as_ref()).await, expected);
    }

    async fn the_trail_pages_newest_first_visiting_every_event_once(store) {
        let mut made = Vec::new();
        for id in ["t0", "t1", "t2", "t3", "t4", "t5"] {
            made.push(tenant_with(store.as_ref(), id, |t| tenant_event(&cli(), Action::TenantCreate, t)).await);
        }
        made.reverse();
        for (n, expected_lengths) in [(1, vec![1; 6]), (3, vec![3, 3]), (4, vec![4, 2]), (200, vec![6])] {
            let (events, lengths) = all_pages(store.as_ref(), || History::Everything, filters(n)).await;
            let expected: Vec<_> = made.iter().map(as_read).collect();
            assert_eq!((events, lengths), (expected, expected_lengths), "by {n}");
        }
    }

    async fn the_trail_is_filtered_by_action_resource_type_actor_and_time(store) {
        let (alice, bob) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let at_time = |seconds, change, action| move |t: &Tenant| Event { time: at(seconds), ..tenant_event(&change, action, t) };
        let a = tenant_with(store.as_ref(), "a", at_time(0, by_token(alice), Action::TenantCreate)).await;
        let b = tenant_with(store.as_ref(), "b", at_time(10, by_token(bob), Action::TenantCreate)).await;
        let token = clientd::domain::token::ApiToken::new("t", &["admin".into()], &[], None, time::now()).unwrap();
        let (_, hash) = clientd::domain::token::TokenText::issue(token.id).unwrap();
        let issued = Event { time: at(20), ..Event::of_token(&by_token(alice), Action::TokenCreate, &token) };
        store.create_token(&token, &hash, &issued).await.unwrap();
        let cases = [
            (EventFilters { action: Some(Action::TokenCreate), ..filters(50) }, vec![&issued]),
            (EventFilters { resource_type: Some("tenant"), ..filters(50) }, vec![&b, &a]),
            (EventFilters { actor: Some(alice), ..filters(50) }, vec![&issued, &a]),
            (EventFilters { since: Some(at(10)), ..filters(50) }, vec![&issued, &b]),
            (EventFilters { until: Some(at(10)), ..filters(50) }, vec![&a]),
            (EventFilters { actor: Some(bob), since: Some(at(11)), ..filters(50) }, vec![]),
        ];
        for (filters, expected) in cases {
            let (events, _) = all_pages(store.as_ref(), || History::Everything, filters).await;
            let expected: Vec<_> = expected.into_iter().map(as_read).collect();
            assert_eq!(events, expected, "{filters:?}");
        }
    }

    async fn a_tenant_or_client_history_holds_only_their_events_within_scope(store) {
        create_tenant(store.as_ref(), "acme").await;
        create_tenant(store.as_ref(), "other").await;
        create_client(store.as_ref(), "acme", "mine").await;
        create_client(store.as_ref(), "other", "theirs").await;
        let (acme, mine, scope) = (tenant_id("acme"), client_id("mine"), [tenant_id("other")]);
        let resources = |events: Vec<Event>| events.into_iter().map(|e| e.resource_id).collect::<Vec<_>>();
        let (of_acme, _) = all_pages(store.as_ref(), || History::Tenant(&acme), filters(50)).await;
        assert_eq!(resources(of_acme), ["mine", "acme"]);
        let (of_mine, _) = all_pages(store.as_ref(), || History::Client(&mine, TenantScope::All), filters(50)).await;
        assert_eq!(resources(of_mine), ["mine"]);
        let (hidden, _) = all_pages(store.as_ref(), || History::Client(&mine, TenantScope::Only(&scope)), filters(50)).await;
        assert_eq!(resources(hidden), Vec::<String>::new());
    }

    async fn a_tenant_made_again_under_a_deleted_ones_id_starts_with_an_empty_history(store) {
        let first = create_tenant(store.as_ref(), "acme").await;
        let audit = |t: &Tenant| tenant_event(&cli(), Action::TenantDelete, t);
        store.delete_tenant(&first.id, &audit).await.unwrap();
        let again = tenant_with(store.as_ref(), "acme", |t| tenant_event(&cli(), Action::TenantCreate, t)).await;
        let acme = tenant_id("acme");
        let (history, _) = all_pages(store.as_ref(), || History::Tenant(&acme), filters(50)).await;
        assert_eq!(history, [as_read(&again)]);
        assert_eq!(trail(store.as_ref()).await.len(), 3);
    }

    async fn a_page_of_large_events_stops_at_the_page_byte_budget(store) {
        // Documents of about 400 KB: two fit in a page's byte budget, three do not.
        let blob = "x".repeat(400_000);
        let mut made = Vec::new();
        for id in ["t0", "t1", "t2", "t3", "t4"] {
            let large = |t: &Tenant| tenant_event(&cli(), Action::TenantCreate, t).with_document_value(Some(json!({"blob": blob})));
            made.push(tenant_with(store.as_ref(), id, large).await);
        }
        made.reverse();
        const { assert!(3 * 400_000 > PAGE_BYTES && 2 * 401_024 < PAGE_BYTES) };
        let (events, lengths) = all_pages(store.as_ref(), || History::Everything, filters(50)).await;
        assert_eq!(lengths, [2, 2, 1]);
        assert_eq!(events, made.iter().map(as_read).collect::<Vec<_>>());
    }

    async fn pruning_deletes_only_events_older_than_the_cutoff_a_batch_at_a_time(store) {
        for (id, seconds) in [("t0", 0), ("t1", 10), ("t2", 20)] {
            tenant_with(store.as_ref(), id, |t| Event { time: at(seconds), ..tenant_event(&cli(), Action::TenantCreate, t) }).await;
        }
        let pruned = [
            store.prune_events(at(15), 1).await.unwrap(),
            store.prune_events(at(15), 10).await.unwrap(),
            store.prune_events(at(15), 10).await.unwrap(),
        ];
        assert_eq!(pruned, [1, 1, 0]);
        let left: Vec<_> = trail(store.as_ref()).await.into_iter().map(|e| e.resource_id).collect();
        assert_eq!(left, ["t2"]);
    }
}
