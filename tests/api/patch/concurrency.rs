//! No lost updates: concurrent patches of one client all land or are refused, a patch is
//! decided on the stored row rather than on stale memory, and a write the database gives up
//! changes nothing.

use futures_util::future::join_all;
use serde_json::json;

use super::{PATCH_JSON, web_client};
use crate::helpers::TestApp;

on_both_stores! {
    async fn a_patch_is_decided_on_the_stored_row_not_on_what_memory_holds(app) {
        app.create_tenant("acme").await;
        app.until_memory_is_trusted().await;
        // A client of its own for each case, with no secret: a write's change notice (a new
        // secret's too) could empty memory a moment later, when it should be stale.
        let held_client = async || {
            let created = app.create_client("acme", json!({"name": "Portal", "app_type": "spa"})).await;
            let path = format!("/clients/{}", created["id"].as_str().unwrap());
            let held = app.admin().get(&path).await;
            (path, held)
        };
        let description = |text: &str| json!([{"op": "replace", "path": "/description", "value": text}]);
        // Every client's row, changed behind the server's back (the SQL for each store).
        let behind = |sqlite: &'static str, postgres: &'static str| app.execute_unheard(sqlite, postgres);

        // The row changed behind the tag memory still shows: the store refuses it.
        let (path, held) = held_client().await;
        let etag = held.header("etag").unwrap().to_owned();
        behind(
            "UPDATE clients SET modified = '2001-01-01T00:00:00.000Z'",
            "UPDATE clients SET modified = '2001-01-01T00:00:00Z'",
        )
        .await;
        assert_eq!(app.admin().get(&path).await.header("etag"), Some(etag.as_str()), "memory was not stale");
        let guarded = app.patch(&path, PATCH_JSON, Some(&etag), description("guarded")).await;
        guarded.assert_problem(412, "precondition-failed");
        assert_eq!(app.admin().get(&path).await.json["modified"], "2001-01-01T00:00:00.000Z");

        // A column changed behind memory's back: an unguarded patch applies to the row as
        // stored and keeps what changed.
        let cases = [
            ("name", "Behind",
             "UPDATE clients SET settings = json_set(settings, '$.name', 'Behind')",
             r#"UPDATE clients SET settings = jsonb_set(settings, '{name}', '"Behind"')"#),
            ("lastUsed", "2001-01-01T00:00:00.000Z",
             "UPDATE clients SET last_used = '2001-01-01T00:00:00.000Z'",
             "UPDATE clients SET last_used = '2001-01-01T00:00:00Z'"),
        ];
        for (field, value, sqlite, postgres) in cases {
            let (path, held) = held_client().await;
            behind(sqlite, postgres).await;
            assert_eq!(app.admin().get(&path).await.json, held.json, "memory was not stale");
            let patched = app.patch(&path, PATCH_JSON, None, description(field)).await;
            assert_eq!(patched.status, 200, "{}", patched.text);
            assert_eq!(patched.json[field], value, "{field}: a change made behind memory was lost");
            assert_eq!(patched.json["description"], field);
        }
    }

    async fn concurrent_appends_all_land(app) {
        let (path, _) = web_client(&app).await;
        let appends = (0..20).map(|i| {
            let body = json!([{"op": "add", "path": "/redirectUris/-", "value": format!("https://portal.example/cb-{i}")}]);
            app.patch(&path, PATCH_JSON, None, body)
        });
        let responses = join_all(appends).await;
        assert!(responses.iter().all(|r| r.status == 200), "{:?}", responses.iter().map(|r| &r.text).collect::<Vec<_>>());
        let uris = app.admin().get(&path).await.json["redirectUris"].as_array().unwrap().len();
        assert_eq!(uris, 22);
    }

    async fn concurrent_guarded_appends_apply_or_are_refused(app) {
        let (path, _) = web_client(&app).await;
        let etag = app.admin().get(&path).await.header("etag").unwrap().to_owned();
        let appends = (0..10).map(|i| {
            let body = json!([{"op": "add", "path": "/redirectUris/-", "value": format!("https://portal.example/g-{i}")}]);
            app.patch(&path, PATCH_JSON, Some(&etag), body)
        });
        let responses = join_all(appends).await;
        let applied = responses.iter().filter(|r| r.status == 200).count();
        assert!(responses.iter().all(|r| r.status == 200 || r.status == 412));
        assert_eq!(applied, 1, "one guarded write wins; the others saw a changed ETag");
        let uris = app.admin().get(&path).await.json["redirectUris"].as_array().unwrap().len();
        assert_eq!(uris, 2 + applied);
    }
}

/// clientd's rules assume read committed (a write that waited for a lock reads what
/// committed meanwhile). A database whose default is stricter must not turn concurrent
/// writes of one client into serialization failures.
#[tokio::test]
async fn concurrent_appends_land_on_a_database_whose_default_isolation_is_serializable() {
    let Some(database) =
        crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await
    else {
        return;
    };
    database
        .set_default("default_transaction_isolation", "serializable")
        .await;
    let app = TestApp::spawn_on(database).await;
    let (path, _) = web_client(&app).await;
    let appends = (0..20).map(|i| {
        let body = json!([{"op": "add", "path": "/redirectUris/-", "value": format!("https://portal.example/s-{i}")}]);
        app.patch(&path, PATCH_JSON, None, body)
    });
    let responses = join_all(appends).await;
    let failed: Vec<_> = responses
        .iter()
        .filter(|r| r.status != 200)
        .map(|r| &r.text)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    let uris = app.admin().get(&path).await.json["redirectUris"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(uris, 22);
}

/// A write the database gives up for a concurrent one's sake (here a lock not granted within
/// the database's lock_timeout) is 503 with Retry-After: nothing was changed, and the same
/// request goes through once the other is done.
#[tokio::test]
async fn a_write_given_up_for_a_concurrent_one_is_503_with_retry_after_and_changes_nothing() {
    use sqlx::Connection;
    let Some(database) =
        crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await
    else {
        return;
    };
    database.set_default("lock_timeout", "200ms").await;
    let app = TestApp::spawn_on(database).await;
    let (path, _) = web_client(&app).await;
    let id = path.trim_start_matches("/clients/").to_owned();

    let mut other = sqlx::PgConnection::connect(&app.database.url)
        .await
        .unwrap();
    let mut other = other.begin().await.unwrap();
    sqlx::query("SELECT id FROM clients WHERE id = $1 FOR NO KEY UPDATE")
        .bind(&id)
        .execute(&mut *other)
        .await
        .unwrap();
    let body = json!([{"op": "replace", "path": "/description", "value": "after"}]);
    let refused = app.patch(&path, PATCH_JSON, None, body.clone()).await;
    refused.assert_problem(503, "contention");
    assert_eq!(refused.header("retry-after"), Some("1"));
    other.rollback().await.unwrap();

    assert_eq!(app.admin().get(&path).await.json["description"], "before");
    assert_eq!(
        app.admin().get(&format!("{path}/events")).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let applied = app.patch(&path, PATCH_JSON, None, body).await;
    assert_eq!(applied.status, 200, "{}", applied.text);
}
