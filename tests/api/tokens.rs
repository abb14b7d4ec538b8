//! `/tokens`: admin API tokens, shown once, stored hashed, revoked at once.

use clientd::domain::time;
use clientd::domain::token::{ApiToken, TokenText};
use serde_json::json;

on_both_stores! {
    async fn a_new_token_is_shown_once_and_never_listed(app) {
        let created = (app.admin())
            .post("/tokens", json!({"name": "ci", "permissions": ["client.read.all"]}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let token = created.json["token"].as_str().unwrap();
        assert!(token.starts_with("cdt_"));
        let id = created.json["id"].as_str().unwrap();
        assert_eq!(created.header("location"), Some(format!("/tokens/{id}").as_str()));
        assert_eq!(created.json["name"], "ci");
        assert_eq!(created.json["permissions"], json!(["client.read.all"]));
        assert_eq!(created.json["tenants"], json!([]));
        assert_eq!(created.json["expires_at"], json!(null));
        assert!(created.json["created"].is_string());

        let listed = app.admin().get("/tokens").await;
        assert_eq!(listed.status, 200);
        assert!(!listed.text.contains(token));
        let item = (listed.json["items"].as_array().unwrap().iter())
            .find(|t| t["id"] == id)
            .unwrap();
        assert!(item.get("token").is_none());
        let read = app.admin().get(&format!("/tokens/{id}")).await;
        assert_eq!(read.status, 200);
        assert!(read.json.get("token").is_none());
        assert_eq!(read.json["name"], "ci");
    }

    async fn a_token_authenticates_as_bearer_and_as_basic_password(app) {
        let token = app.create_token(&["client.read.all"], &[]).await;
        assert_eq!(app.with_token(&token).get("/tenants").await.status, 200);
        let basic = base64_basic("anyone", &token);
        assert_eq!(app.with_authorization(&basic).get("/tenants").await.status, 200);
    }

    async fn a_revoked_token_is_refused_at_once(app) {
        let token = app.create_token(&["admin"], &[]).await;
        let listed = app.admin().get("/tokens").await;
        let id = listed.json["items"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(app.with_token(&token).get("/tenants").await.status, 200);
        assert_eq!(app.admin().delete(&format!("/tokens/{id}")).await.status, 204);
        app.with_token(&token).get("/tenants").await.assert_problem(401, "unauthorized");
        app.admin().delete(&format!("/tokens/{id}")).await.assert_problem(404, "not-found");
    }

    async fn an_expired_token_is_refused(app) {
        let store = clientd::connect(&clientd::config::Settings::for_database(&app.database.url)).await.unwrap();
        let mut token = ApiToken::new("old", &["admin".into()], &[], None, time::now()).unwrap();
        token.expires_at = Some(time::now() - chrono::TimeDelta::seconds(1));
        let (text, hash) = TokenText::issue(token.id).unwrap();
        let change = clientd::domain::change::ChangeContext::without_request(clientd::domain::change::Actor::Cli);
        let event = clientd::domain::audit::Event::of_token(&change, clientd::domain::audit::Action::TokenCreate, &token);
        store.create_token(&token, &hash, &event).await.unwrap();
        app.with_token(text.expose()).get("/tenants").await.assert_problem(401, "unauthorized");
    }

    async fn a_token_that_expires_later_works_now(app) {
        let expires = (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
        let created = (app.admin())
            .post("/tokens", json!({"name": "ci", "permissions": ["admin"], "expires_at": expires}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert!(created.json["expires_at"].as_str().unwrap().ends_with('Z'));
        let token = created.json["token"].as_str().unwrap();
        assert_eq!(app.with_token(token).get("/tokens").await.status, 200);
    }

    async fn token_rules_are_422_for_each_broken_field(app) {
        let response = (app.admin())
            .post("/tokens", json!({
                "name": "",
                "permissions": ["client.read", "client.delete"],
                "tenants": ["Not Valid"],
                "expires_at": "2001-01-01T00:00:00Z",
            }))
            .await;
        response.assert_invalid(&["/name", "/permissions/1", "/tenants/0", "/expires_at"]);
        assert_eq!(app.admin().get("/tokens").await.json["items"], json!([]));
    }

    async fn tenant_bound_permissions_need_existing_tenants(app) {
        let none = app.admin().post("/tokens", json!({"name": "t", "permissions": ["client.write"]})).await;
        none.assert_invalid(&["/tenants"]);
        app.create_tenant("acme").await;
        let unknown = (app.admin())
            .post("/tokens", json!({"name": "t", "permissions": ["client.write"], "tenants": ["acme", "ghost"]}))
            .await;
        unknown.assert_invalid(&["/tenants/1"]);
    }

    async fn global_permissions_refuse_a_tenant_list(app) {
        app.create_tenant("acme").await;
        let response = (app.admin())
            .post("/tokens", json!({"name": "t", "permissions": ["client.read.all"], "tenants": ["acme"]}))
            .await;
        response.assert_invalid(&["/tenants"]);
    }

    async fn sailpoint_scope_is_stored_as_client_write_all(app) {
        let created = (app.admin())
            .post("/tokens", json!({"name": "sp", "permissions": ["sp:oauth-client:manage"]}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.json["permissions"], json!(["client.write.all"]));
    }

    async fn an_unknown_token_field_is_400(app) {
        let response = (app.admin())
            .post("/tokens", json!({"name": "t", "permissions": ["admin"], "scopes": []}))
            .await;
        response.assert_problem(400, "bad-request");
    }

    async fn tokens_are_listed_in_pages(app) {
        for _ in 0..3 {
            app.create_token(&["client.read.all"], &[]).await;
        }
        let first = app.admin().get("/tokens?limit=2").await;
        assert_eq!(first.json["items"].as_array().unwrap().len(), 2);
        let cursor = first.json["next_cursor"].as_str().unwrap();
        let second = app.admin().get(&format!("/tokens?limit=2&cursor={cursor}")).await;
        assert_eq!(second.json["items"].as_array().unwrap().len(), 1);
        assert_eq!(second.json["next_cursor"], json!(null));
        assert_ne!(first.json["items"][0]["id"], second.json["items"][0]["id"]);
    }

    async fn reading_an_unknown_token_is_404(app) {
        app.admin().get("/tokens/0192e4a0-0000-7000-8000-000000000000").await.assert_problem(404, "not-found");
        app.admin().get("/tokens/not-a-uuid").await.assert_problem(404, "not-found");
    }

    async fn a_deleted_tenant_is_not_reachable_by_old_tokens_when_recreated(app) {
        app.create_tenant("acme").await;
        let token = app.create_token(&["client.read"], &["acme"]).await;
        assert_eq!(app.with_token(&token).get("/tenants/acme").await.status, 200);
        assert_eq!(app.admin().delete("/tenants/acme").await.status, 204);
        app.create_tenant("acme").await;
        app.with_token(&token).get("/tenants/acme").await.assert_problem(404, "not-found");
    }
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}
