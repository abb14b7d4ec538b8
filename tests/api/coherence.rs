//! Reads from memory stay coherent: on Postgres a change made through one replica is seen
//! through another (also after its listening connection was killed); on SQLite one process
//! serves a file. scripts/faults proves the 50 ms bound between two processes.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestDatabase};

/// Waits (up to five seconds) until `check` holds.
async fn until(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn replicas() -> Option<(TestApp, TestApp)> {
    let database = TestDatabase::create(Backend::Postgres).await?;
    let first = TestApp::spawn_on(database).await;
    let second = first.replica().await;
    first.create_tenant("acme").await;
    Some((first, second))
}

async fn verifies(app: &TestApp, client: &str, secret: &str) -> u16 {
    let body = json!({"client_secret": secret});
    (app.admin()
        .post(&format!("{client}/secrets/verify"), body)
        .await)
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_sees_every_change_another_makes() {
    let Some((first, second)) = replicas().await else {
        return;
    };
    let job = first
        .create_client(
            "acme",
            json!({"name": "Job", "app_type": "non_interactive"}),
        )
        .await;
    let client = format!("/clients/{}", job["id"].as_str().unwrap());
    let secret = job["secret"].as_str().unwrap().to_owned();

    a_patch_shows(&first, &second, &client).await;
    let next = a_completed_rotation_shows(&first, &second, &client, &secret).await;
    a_revoked_token_shows(&first, &second, &client).await;
    a_tenant_made_again_shows(&first, &second).await;

    // Client deleted.
    assert_eq!(first.admin().delete(&client).await.status, 204);
    until("the deleted client is gone", async || {
        second.admin().get(&client).await.status == 404
    })
    .await;
    assert_eq!(verifies(&second, &client, &next).await, 404);
}

/// Patch: the second replica held the old document.
async fn a_patch_shows(first: &TestApp, second: &TestApp, client: &str) {
    assert_eq!(second.admin().get(client).await.json["name"], "Job");
    first
        .admin()
        .patch(
            client,
            json!([{"op": "replace", "path": "/name", "value": "Renamed"}]),
        )
        .await;
    until("the patch shows", async || {
        second.admin().get(client).await.json["name"] == "Renamed"
    })
    .await;
}

/// Rotation: once completed through one, the old secret is refused through the other.
/// Returns the next secret, the one in use from then on.
async fn a_completed_rotation_shows(
    first: &TestApp,
    second: &TestApp,
    client: &str,
    secret: &str,
) -> String {
    let started = first
        .admin()
        .post(&format!("{client}/secrets/rotate/start"), json!({}))
        .await;
    let next = started.json["next_client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    until("the next secret verifies", async || {
        verifies(second, client, &next).await == 200
    })
    .await;
    assert_eq!(verifies(second, client, secret).await, 200);
    first
        .admin()
        .post(&format!("{client}/secrets/rotate"), json!({}))
        .await;
    until("the old secret is refused", async || {
        verifies(second, client, secret).await == 401
    })
    .await;
    next
}

/// Token revoked through one replica: the other refuses it.
async fn a_revoked_token_shows(first: &TestApp, second: &TestApp, client: &str) {
    let token = first.create_token(&["client.read"], &["acme"]).await;
    assert_eq!(second.with_token(&token).get(client).await.status, 200);
    let id = token.split('_').nth(1).unwrap();
    let id = uuid::Uuid::try_parse(id).unwrap();
    assert_eq!(
        first.admin().delete(&format!("/tokens/{id}")).await.status,
        204
    );
    until("the revoked token is refused", async || {
        second.with_token(&token).get(client).await.status == 401
    })
    .await;
}

/// Tenant deleted and made again: an old token no longer reaches it.
async fn a_tenant_made_again_shows(first: &TestApp, second: &TestApp) {
    first.create_tenant("scoped").await;
    let scoped = first.create_token(&["client.read"], &["scoped"]).await;
    assert_eq!(
        second
            .with_token(&scoped)
            .get("/tenants/scoped/clients")
            .await
            .status,
        200
    );
    assert_eq!(first.admin().delete("/tenants/scoped").await.status, 204);
    first.create_tenant("scoped").await;
    until(
        "the old token no longer reaches the new tenant",
        async || {
            second
                .with_token(&scoped)
                .get("/tenants/scoped/clients")
                .await
                .status
                == 404
        },
    )
    .await;
}

/// The listening connections killed, as a failover or an operator would: each replica reads
/// from the database until it listens again, then trusts its memory afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_listening_connection_dies_stays_coherent() {
    let Some((first, second)) = replicas().await else {
        return;
    };
    let job = first
        .create_client("acme", json!({"name": "Job", "app_type": "spa"}))
        .await;
    let client = format!("/clients/{}", job["id"].as_str().unwrap());
    let rename = async |name: &str| {
        let patch = json!([{"op": "replace", "path": "/name", "value": name}]);
        assert_eq!(first.admin().patch(&client, patch).await.status, 200);
    };
    assert_eq!(second.admin().get(&client).await.json["name"], "Job");

    assert_eq!(kill_listeners(&first).await, 2);
    rename("While lost").await;
    until("the change made while lost shows", async || {
        second.admin().get(&client).await.json["name"] == "While lost"
    })
    .await;

    // Listening again: changes keep showing.
    until("both replicas listen again", async || {
        listeners(&first).await == 2
    })
    .await;
    assert_eq!(second.admin().get(&client).await.json["name"], "While lost");
    rename("After").await;
    until("the change made after shows", async || {
        second.admin().get(&client).await.json["name"] == "After"
    })
    .await;
}

/// Each server's listening connection, named apart from its pool's.
const LISTENING: &str = "FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'clientd listener'";

async fn kill_listeners(app: &TestApp) -> i64 {
    let sql = format!("SELECT count(pg_terminate_backend(pid)) {LISTENING}");
    query_count(app, &sql).await
}

async fn listeners(app: &TestApp) -> i64 {
    query_count(
        app,
        &format!("SELECT count(*) {LISTENING} AND state = 'idle'"),
    )
    .await
}

async fn query_count(app: &TestApp, sql: &str) -> i64 {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(&app.database.url)
        .await
        .unwrap();
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
}

/// SQLite has no feed of changes, so two servers on one file could serve stale memory:
/// the second is refused, and may start once the first has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_is_refused() {
    let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let url = database.url.clone();
    let first = TestApp::spawn_on(database).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = clientd::config::Settings::for_database(&url);
    let refused = clientd::serve(settings, listener, std::future::pending()).await;
    let error = refused
        .expect_err("a second server on the file started")
        .to_string();
    assert!(
        error.contains("another clientd serves this SQLite file"),
        "{error}"
    );
    // Refused before it wrote anything: no first admin token was issued behind the server.
    assert_eq!(first.count_rows("api_tokens").await, 0);

    let database = first.stop();
    // The first server lets go of the file as it stops: a new one starts and serves.
    until("a new server serves the file", async || {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let settings = clientd::config::Settings::for_database(&database.url);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(clientd::serve(settings, listener, async {
            let _ = stopped.await;
        }));
        let health = format!("http://{address}/healthz");
        while !serving.is_finished() {
            if reqwest::get(&health)
                .await
                .is_ok_and(|answer| answer.status() == 200)
            {
                let _ = stop.send(());
                return serving.await.unwrap().is_ok();
            }
        }
        false
    })
    .await;
}

/// CLIENTD_CACHE_MIB=0 reads every client and token from the database: a change made behind
/// the server's back shows at once. With the cache on, SQLite (which has no feed of changes)
/// keeps serving what it read, which is why one process serves a file.
#[tokio::test]
async fn with_no_cache_memory_every_read_goes_to_the_database() {
    for cache_mib in [48, 0] {
        let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
        let app = TestApp::spawn_with(database, |s| s.cache_mib = cache_mib).await;
        app.create_tenant("acme").await;
        let created = app
            .create_client("acme", json!({"name": "a", "app_type": "spa"}))
            .await;
        let path = format!("/clients/{}", created["id"].as_str().unwrap());
        let token = app.create_token(&["client.read.all"], &[]).await;
        assert_eq!(app.with_token(&token).get(&path).await.status, 200);

        let behind = "UPDATE clients SET modified = $1";
        app.execute(behind, "2001-01-01T00:00:00.000Z").await;
        app.execute("DELETE FROM api_tokens WHERE name = $1", "test")
            .await;
        let read = app.admin().get(&path).await;
        let by_token = app.with_token(&token).get(&path).await.status;
        if cache_mib == 0 {
            assert_eq!(read.json["modified"], "2001-01-01T00:00:00.000Z");
            assert_eq!(by_token, 401);
        } else {
            assert_eq!(
                read.json["modified"], created["modified"],
                "the cache was not used"
            );
            assert_eq!(by_token, 200, "the cache was not used");
        }
    }
}

/// A write abandoned half-way (here: its time ran out while another writer held the SQLite
/// file) still drops what memory held of the client, since it may have changed it. The other
/// writer's rename, made behind the server, shows on the next read.
#[tokio::test]
async fn a_write_abandoned_half_way_still_drops_what_memory_held() {
    use sqlx::Connection;
    let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_with(database, |s| s.request_timeout_secs = 1).await;
    app.create_tenant("acme").await;
    let created = app
        .create_client("acme", json!({"name": "Portal", "app_type": "spa"}))
        .await;
    let path = format!("/clients/{}", created["id"].as_str().unwrap());
    assert_eq!(app.admin().get(&path).await.json["name"], "Portal");

    let mut other = sqlx::SqliteConnection::connect(&app.database.url)
        .await
        .unwrap();
    sqlx::raw_sql(
        "BEGIN IMMEDIATE; UPDATE clients SET settings = json_set(settings, '$.name', 'Behind')",
    )
    .execute(&mut other)
    .await
    .unwrap();
    let patch = json!([{"op": "replace", "path": "/description", "value": "late"}]);
    let abandoned = app.admin().patch(&path, patch).await;
    assert_eq!(abandoned.status, 503, "{}", abandoned.text);
    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();

    let read = app.admin().get(&path).await;
    assert_eq!(read.json["name"], "Behind", "memory kept the client");
    assert_ne!(
        read.json["description"], "late",
        "the abandoned patch was applied"
    );

    // The abandoned write left no transaction open: the next one commits, for every reader.
    let patch = json!([{"op": "replace", "path": "/description", "value": "next"}]);
    assert_eq!(app.admin().patch(&path, patch).await.status, 200);
    let stored: String = sqlx::query_scalar("SELECT settings FROM clients")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert!(stored.contains(r#""description":"next""#), "{stored}");
}

/// The change feed never skips a row: a transaction that took its event's seq first and
/// commits last (after a change with a greater seq was already followed) is still heard,
/// though its writer never announced it, within the feed's poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_commits_late_with_a_smaller_seq_is_heard() {
    use sqlx::Connection;
    let Some((first, second)) = replicas().await else {
        return;
    };
    second.until_memory_is_trusted().await;
    let slow = first
        .create_client("acme", json!({"name": "Slow", "app_type": "spa"}))
        .await;
    let fast = first
        .create_client("acme", json!({"name": "Fast", "app_type": "spa"}))
        .await;
    let (slow, fast) = (slow["id"].as_str().unwrap(), fast["id"].as_str().unwrap());
    for id in [slow, fast] {
        assert_eq!(
            second.admin().get(&format!("/clients/{id}")).await.status,
            200
        );
    }
    let mut db = sqlx::PgConnection::connect(&first.database.url)
        .await
        .unwrap();
    // No write's transaction notifies: no trigger calls pg_notify.
    let notifying: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE NOT t.tgisinternal AND p.prosrc LIKE '%pg_notify%'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(notifying, 0);
    // The slow change takes its seq now, and holds its transaction open.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("UPDATE clients SET settings = jsonb_set(settings, '{name}', '\"Slow, renamed\"') WHERE id = $1")
        .bind(slow).execute(&mut *tx).await.unwrap();
    sqlx::query("INSERT INTO events (id, time, tenant_id, client_id, actor_kind, action, resource_type,
            resource_id, resource_path) VALUES ($1, now(), 'acme', $2, 'cli', 'client.patch', 'client', $2, $3)")
        .bind(uuid::Uuid::now_v7()).bind(slow).bind(format!("/clients/{slow}"))
        .execute(&mut *tx).await.unwrap();
    // A change with a greater seq commits first and is followed.
    let patched = first
        .admin()
        .patch(
            &format!("/clients/{fast}"),
            json!([{"op": "replace", "path": "/name", "value": "Fast, renamed"}]),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    until("the fast change shows", async || {
        second.admin().get(&format!("/clients/{fast}")).await.json["name"] == "Fast, renamed"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        second.admin().get(&format!("/clients/{slow}")).await.json["name"],
        "Slow"
    );
    tx.commit().await.unwrap();
    let committed = Instant::now();
    until("the late change shows", async || {
        second.admin().get(&format!("/clients/{slow}")).await.json["name"] == "Slow, renamed"
    })
    .await;
    assert!(
        committed.elapsed() < Duration::from_secs(1),
        "heard after {:?}",
        committed.elapsed()
    );
}
