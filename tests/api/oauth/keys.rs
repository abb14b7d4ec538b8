//! Signing keys: JWKS, RFC 8414 metadata, rotation (planned and immediate), and how they are
//! kept (sealed, with their tenant).

use serde_json::json;

use super::*;
use crate::helpers::{TestApp, TestDatabase};

fn kids(jwks: &Value) -> Vec<String> {
    (jwks["keys"].as_array().unwrap().iter())
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_in(state: &str, keys: &Value) -> String {
    (keys["keys"].as_array().unwrap().iter())
        .find(|key| key["state"] == state)
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {state} key in {keys}"))
}

on_both_stores! {
    async fn metadata_names_the_tenants_endpoints_at_both_well_known_paths(app) {
        app.create_tenant("acme").await;
        let issuer = app.url("/tenants/acme");
        for path in ["/.well-known/oauth-authorization-server/tenants/acme", "/tenants/acme/.well-known/oauth-authorization-server", "/v1/tenants/acme/.well-known/oauth-authorization-server"] {
            let answer = app.anonymous().get(path).await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            let metadata = &answer.json;
            assert_eq!(metadata["issuer"], issuer.as_str());
            assert_eq!(metadata["token_endpoint"], format!("{issuer}/oauth2/token"));
            assert_eq!(metadata["jwks_uri"], format!("{issuer}/oauth2/jwks.json"));
            assert_eq!(metadata["introspection_endpoint"], format!("{issuer}/oauth2/introspect"));
            assert_eq!(metadata["revocation_endpoint"], format!("{issuer}/oauth2/revoke"));
            assert_eq!(metadata["grant_types_supported"], json!(["client_credentials"]));
            assert_eq!(metadata["token_endpoint_auth_methods_supported"], json!(["client_secret_basic", "client_secret_post", "private_key_jwt"]));
        }
        let unknown = app.anonymous().get("/.well-known/oauth-authorization-server/tenants/nope").await;
        assert_eq!(unknown.status, 404);
        assert_eq!(app.anonymous().get("/tenants/nope/oauth2/jwks.json").await.status, 404);
    }

    async fn a_planned_rotation_signs_with_the_published_next_key_and_keeps_the_old_one(app) {
        let client = machine(&app, "acme", json!({})).await;
        let before = access_token(&token_for(&app, "acme", &client, &[]).await);
        let keys = app.admin().get("/tenants/acme/signing-keys").await;
        assert_eq!(keys.status, 200, "{}", keys.text);
        assert!(!keys.text.contains("sealed") && !keys.text.contains("\"d\""), "{}", keys.text);
        let (current, next) = (kid_in("current", &keys.json), kid_in("next", &keys.json));
        let mut published = kids(&jwks(&app, "acme").await);
        published.sort();
        let mut expected = [current.clone(), next.clone()];
        expected.sort();
        assert_eq!(published, expected);

        let rotated = app.admin().post("/tenants/acme/signing-keys/rotate", json!({})).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        assert_eq!(kid_in("current", &rotated.json), next);
        assert_eq!(kid_in("previous", &rotated.json), current);
        let newest = kid_in("next", &rotated.json);
        let published = kids(&jwks(&app, "acme").await);
        assert!([&current, &next, &newest].iter().all(|kid| published.contains(kid)), "{published:?}");
        let after = access_token(&token_for(&app, "acme", &client, &[]).await);
        let (header, _) = verified(&after, &jwks(&app, "acme").await);
        assert_eq!(header["kid"], next.as_str());
        // A token of the previous key is still good.
        assert_eq!(introspect(&app, "acme", &client, &before).await.json["active"], true);

        let events = app.admin().get("/tenants/acme/events?resource_type=signing_key").await;
        let actions: Vec<_> = events.json["items"].as_array().unwrap().iter().map(|e| e["action"].clone()).collect();
        assert_eq!(actions, [json!("signing_key.rotate"), json!("signing_key.create")], "{}", events.text);
        assert_eq!(events.json["items"][1]["actor"]["kind"], "server");
    }

    async fn an_immediate_rotation_withdraws_the_key_and_its_tokens(app) {
        let client = machine(&app, "acme", json!({})).await;
        let before = access_token(&token_for(&app, "acme", &client, &[]).await);
        let old = kid_in("current", &app.admin().get("/tenants/acme/signing-keys").await.json);
        let rotated = app.admin().post("/tenants/acme/signing-keys/rotate?immediate=true", json!({})).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        assert_eq!(kid_in("retired", &rotated.json), old);
        assert!(!kids(&jwks(&app, "acme").await).contains(&old));
        assert_eq!(introspect(&app, "acme", &client, &before).await.json, json!({"active": false}));
        let after = access_token(&token_for(&app, "acme", &client, &[]).await);
        assert_eq!(introspect(&app, "acme", &client, &after).await.json["active"], true);
    }

    async fn signing_keys_need_the_tenants_permissions(app) {
        app.create_tenant("acme").await;
        app.create_tenant("other").await;
        let reader = app.create_token(&["client.read"], &["acme"]).await;
        assert_eq!(app.with_token(&reader).get("/tenants/acme/signing-keys").await.status, 200);
        app.with_token(&reader).get("/tenants/other/signing-keys").await.assert_problem(404, "not-found");
        app.with_token(&reader).post("/tenants/acme/signing-keys/rotate", json!({})).await.assert_problem(403, "forbidden");
        app.anonymous().get("/tenants/acme/signing-keys").await.assert_problem(401, "unauthorized");
        let bad = app.admin().post("/tenants/acme/signing-keys/rotate?immediately=true", json!({})).await;
        bad.assert_problem(400, "bad-request");
    }

    async fn a_deleted_tenants_keys_go_with_it(app) {
        let client = machine(&app, "acme", json!({})).await;
        let token = access_token(&token_for(&app, "acme", &client, &[]).await);
        let old = kids(&jwks(&app, "acme").await);
        assert_eq!(app.admin().delete(&format!("/clients/{}", client.id)).await.status, 204);
        assert_eq!(app.admin().delete("/tenants/acme").await.status, 204);
        assert_eq!(app.count_rows("signing_keys").await, 0);
        let again = machine(&app, "acme", json!({})).await;
        assert!(kids(&jwks(&app, "acme").await).iter().all(|kid| !old.contains(kid)));
        assert_eq!(introspect(&app, "acme", &again, &token).await.json, json!({"active": false}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_without_a_key_encryption_key_a_key_file_is_made_beside_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let database = TestDatabase::create(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let file = format!(
        "{}.key-encryption-key",
        database.url.trim_start_matches("sqlite://")
    );
    // One issuer for both starts: the default would follow the port.
    let issuer =
        |s: &mut clientd::config::Settings| s.public_url = Some("http://clientd.test".to_owned());
    let app = TestApp::spawn_with(database, issuer).await;
    let client = machine(&app, "acme", json!({})).await;
    let token = access_token(&token_for(&app, "acme", &client, &[]).await);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The next start opens the same keys with the same file, once the first let go of it.
    let database = app.stop();
    let path = database.url.trim_start_matches("sqlite://").to_owned();
    for _ in 0..500 {
        let db = std::fs::File::open(&path).unwrap();
        if db.try_lock().is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let app = TestApp::spawn_with(database, issuer).await;
    assert_eq!(
        introspect(&app, "acme", &client, &token).await.json["active"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_without_a_key_encryption_key_the_token_routes_say_what_to_set() {
    let Some(database) = TestDatabase::create(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let app = TestApp::spawn_with(database, |s| s.key_encryption_keys.clear()).await;
    let client = machine(&app, "acme", json!({})).await;
    let answer = token_for(&app, "acme", &client, &[]).await;
    let problem = answer.assert_problem(503, "unavailable");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("CLIENTD_KEY_ENCRYPTION_KEYS")
    );
    assert_eq!(problem["error"], "temporarily_unavailable");
    app.anonymous()
        .get("/tenants/acme/oauth2/jwks.json")
        .await
        .assert_problem(503, "unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_on_one_replica_is_heard_by_the_other() {
    let Some(database) = TestDatabase::create(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let first = TestApp::spawn_on(database).await;
    let second = first.replica().await;
    second.until_memory_is_trusted().await;
    let client = machine(&first, "acme", json!({})).await;
    let token = access_token(&token_for(&second, "acme", &client, &[]).await);
    assert_eq!(
        introspect(&second, "acme", &client, &token).await.json["active"],
        true
    );
    let rotated = first
        .admin()
        .post(
            "/tenants/acme/signing-keys/rotate?immediate=true",
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while introspect(&second, "acme", &client, &token).await.json["active"] == true {
        assert!(
            std::time::Instant::now() < deadline,
            "the second replica still trusts the retired key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
