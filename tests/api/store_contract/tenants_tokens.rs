//! Tenants and admin tokens: create, read, list by id through every paging edge, delete.

use clientd::domain::Missing;
use clientd::domain::audit::{Action, Event};
use clientd::domain::page::Page;
use clientd::domain::tenant::Tenant;
use clientd::domain::time;
use clientd::domain::token::{ApiToken, TenantScope, TokenText};
use clientd::store::{Store, StoreError};

use super::*;

fn ids(page: &Page<Tenant>) -> (Vec<&str>, Option<&str>) {
    let ids = page.items.iter().map(|t| t.id.as_str()).collect();
    (ids, page.next_cursor.as_deref())
}

/// A token as `app::tokens::create` builds it, with its hash.
fn new_token(
    permissions: &[&str],
    tenants: &[&str],
) -> (ApiToken, clientd::domain::secret::SecretHash) {
    let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
    let tenants: Vec<String> = tenants.iter().map(|t| t.to_string()).collect();
    let token = ApiToken::new("contract", &permissions, &tenants, None, time::now()).unwrap();
    let (_, hash) = TokenText::issue(token.id).unwrap();
    (token, hash)
}

async fn create_token(store: &dyn Store, permissions: &[&str], tenants: &[&str]) -> ApiToken {
    let (token, hash) = new_token(permissions, tenants);
    let event = Event::of_token(&cli(), Action::TokenCreate, &token);
    store.create_token(&token, &hash, &event).await.unwrap();
    token
}

on_each_store! {
    async fn a_created_tenant_reads_back_exactly_with_its_event(store) {
        let tenant = new_tenant("acme");
        let event = tenant_event(&cli(), Action::TenantCreate, &tenant);
        store.create_tenant(&tenant, &event).await.unwrap();
        assert_eq!(store.tenant(&tenant.id).await.unwrap(), Some(tenant));
        assert_eq!(trail(store.as_ref()).await, [as_read(&event)]);
    }

    async fn a_second_tenant_with_a_taken_id_is_a_conflict_and_changes_nothing(store) {
        let first = create_tenant(store.as_ref(), "acme").await;
        let second = Tenant::new("acme", "Another", time::now()).unwrap();
        let event = tenant_event(&cli(), Action::TenantCreate, &second);
        let refused = store.create_tenant(&second, &event).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        assert_eq!(store.tenant(&first.id).await.unwrap(), Some(first));
        assert_eq!(actions(store.as_ref()).await, [Action::TenantCreate]);
    }

    async fn an_unknown_tenant_reads_as_none(store) {
        assert_eq!(store.tenant(&tenant_id("nobody")).await.unwrap(), None);
    }

    async fn tenants_page_by_id_through_every_limit_edge(store) {
        for id in ["t5", "t1", "t3", "t0", "t4", "t2"] {
            create_tenant(store.as_ref(), id).await;
        }
        let page = |after: Option<&'static str>, n| store.list_tenants(TenantScope::All, after, limit(n));
        let first = page(None, 3).await.unwrap();
        assert_eq!(ids(&first), (vec!["t0", "t1", "t2"], Some("t2")));
        // The last page of an exact multiple says there is no more, rather than leading
        // to an empty page.
        let last = page(Some("t2"), 3).await.unwrap();
        assert_eq!(ids(&last), (vec!["t3", "t4", "t5"], None));
        let past = page(Some("t5"), 3).await.unwrap();
        assert_eq!(ids(&past), (vec![], None));
        let one = page(None, 1).await.unwrap();
        assert_eq!(ids(&one), (vec!["t0"], Some("t0")));
        let all = page(None, 200).await.unwrap();
        assert_eq!(ids(&all), (vec!["t0", "t1", "t2", "t3", "t4", "t5"], None));
        // Any text is a lower bound, not only an id.
        let between = page(Some("t2z"), 200).await.unwrap();
        assert_eq!(ids(&between), (vec!["t3", "t4", "t5"], None));
    }

    async fn a_scoped_listing_shows_only_the_tenants_in_scope(store) {
        for id in ["a", "b", "c", "d"] {
            create_tenant(store.as_ref(), id).await;
        }
        let scope = [tenant_id("d"), tenant_id("b"), tenant_id("x")];
        let page = store.list_tenants(TenantScope::Only(&scope), None, limit(1)).await.unwrap();
        assert_eq!(ids(&page), (vec!["b"], Some("b")));
        let rest = store.list_tenants(TenantScope::Only(&scope), Some("b"), limit(1)).await.unwrap();
        assert_eq!(ids(&rest), (vec!["d"], None));
        let none = store.list_tenants(TenantScope::Only(&[]), None, limit(10)).await.unwrap();
        assert_eq!(ids(&none), (vec![], None));
    }

    async fn a_deleted_tenant_is_gone_with_its_event_and_a_second_delete_is_not_found(store) {
        let tenant = create_tenant(store.as_ref(), "acme").await;
        let audit = |t: &Tenant| tenant_event(&cli(), Action::TenantDelete, t);
        store.delete_tenant(&tenant.id, &audit).await.unwrap();
        assert_eq!(store.tenant(&tenant.id).await.unwrap(), None);
        let again = store.delete_tenant(&tenant.id, &audit).await;
        assert!(matches!(again, Err(StoreError::NotFound(Missing::Tenant))), "{again:?}");
        let trail = trail(store.as_ref()).await;
        assert_eq!(
            trail.iter().map(|e| (e.action, e.document.clone())).collect::<Vec<_>>(),
            [
                (Action::TenantDelete, Some(serde_json::to_value(&tenant).unwrap())),
                (Action::TenantCreate, Some(serde_json::to_value(&tenant).unwrap())),
            ]
        );
    }

    async fn a_tenant_that_still_has_clients_is_not_deleted(store) {
        let tenant = create_tenant(store.as_ref(), "acme").await;
        create_client(store.as_ref(), "acme", "portal").await;
        let audit = |t: &Tenant| tenant_event(&cli(), Action::TenantDelete, t);
        let refused = store.delete_tenant(&tenant.id, &audit).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        assert_eq!(store.tenant(&tenant.id).await.unwrap(), Some(tenant));
        assert_eq!(actions(store.as_ref()).await, [Action::ClientCreate, Action::TenantCreate]);
    }

    async fn missing_tenants_names_exactly_the_ids_without_a_tenant_in_their_order(store) {
        create_tenant(store.as_ref(), "here").await;
        let asked = [tenant_id("gone"), tenant_id("here"), tenant_id("away")];
        let missing = store.missing_tenants(&asked).await.unwrap();
        assert_eq!(missing, [tenant_id("gone"), tenant_id("away")]);
        assert_eq!(store.missing_tenants(&[]).await.unwrap(), []);
    }

    async fn a_created_token_is_found_by_id_with_its_grants_and_hash(store) {
        create_tenant(store.as_ref(), "acme").await;
        let (token, hash) = new_token(&["client.read"], &["acme"]);
        let event = Event::of_token(&cli(), Action::TokenCreate, &token);
        store.create_token(&token, &hash, &event).await.unwrap();
        let stored = store.token(token.id).await.unwrap().unwrap();
        assert_eq!((&stored.token, stored.hash.as_bytes()), (&token, hash.as_bytes()));
        assert!(store.token(uuid::Uuid::now_v7()).await.unwrap().is_none());
        assert_eq!(trail(store.as_ref()).await[0], as_read(&event));
    }

    async fn a_token_for_a_tenant_that_does_not_exist_is_a_conflict_and_not_stored(store) {
        let (token, hash) = new_token(&["client.write"], &["nowhere"]);
        let event = Event::of_token(&cli(), Action::TokenCreate, &token);
        let refused = store.create_token(&token, &hash, &event).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        assert!(store.token(token.id).await.unwrap().is_none());
        assert_eq!(actions(store.as_ref()).await, []);
    }

    async fn a_revoked_token_is_gone_and_a_second_revoke_is_not_found(store) {
        let token = create_token(store.as_ref(), &["admin"], &[]).await;
        let audit = |t: &ApiToken| Event::of_token(&cli(), Action::TokenRevoke, t);
        store.delete_token(token.id, &audit).await.unwrap();
        assert!(store.token(token.id).await.unwrap().is_none());
        let again = store.delete_token(token.id, &audit).await;
        assert!(matches!(again, Err(StoreError::NotFound(Missing::Token))), "{again:?}");
        assert_eq!(actions(store.as_ref()).await, [Action::TokenRevoke, Action::TokenCreate]);
    }

    async fn tokens_are_listed_oldest_first_a_page_at_a_time(store) {
        let mut made = Vec::new();
        for _ in 0..3 {
            made.push(create_token(store.as_ref(), &["admin"], &[]).await);
        }
        let first = store.list_tokens(None, limit(2)).await.unwrap();
        assert_eq!(first.items, made[..2]);
        assert_eq!(first.next_cursor, Some(made[1].id.to_string()));
        let rest = store.list_tokens(Some(made[1].id), limit(2)).await.unwrap();
        assert_eq!((rest.items, rest.next_cursor), (made[2..].to_vec(), None));
    }

    async fn only_the_first_first_token_of_an_installation_is_issued(store) {
        let (first, first_hash) = new_token(&["admin"], &[]);
        let event = Event::of_token(&cli(), Action::TokenCreate, &first);
        assert!(store.create_first_token(&first, &first_hash, &event).await.unwrap());
        let (second, second_hash) = new_token(&["admin"], &[]);
        let event = Event::of_token(&cli(), Action::TokenCreate, &second);
        assert!(!store.create_first_token(&second, &second_hash, &event).await.unwrap());
        let listed = store.list_tokens(None, limit(10)).await.unwrap();
        assert_eq!(listed.items, [first]);
    }
}
