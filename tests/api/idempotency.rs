//! Idempotent retries: a retry gets the first answer, a change is made once whatever
//! became of its first request, and replicas agree on a key.

use reqwest::Method;
use serde_json::{Value, json};

use crate::audit::all_events;
use crate::helpers::{TestApp, TestResponse};

async fn post_with_key(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: Value,
) -> TestResponse {
    let request = app
        .with_token(token)
        .raw(Method::POST, path)
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_string());
    app.with_token(token).send_raw(request).await
}

on_both_stores! {
    async fn a_retried_create_gets_the_first_answer_without_its_secret(app) {
        app.create_tenant("acme").await;
        let body = json!({"name": "Job", "app_type": "non_interactive"});
        let first = post_with_key(&app, &app.admin_token, "/tenants/acme/clients", "retry-1", body.clone()).await;
        assert_eq!(first.status, 201, "{}", first.text);
        assert!(first.json["secret"].is_string());
        assert!(first.header("idempotent-replayed").is_none());
        let again = post_with_key(&app, &app.admin_token, "/tenants/acme/clients", "retry-1", body.clone()).await;
        assert_eq!(again.status, 201, "{}", again.text);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.header("location"), first.header("location"));
        assert_eq!(again.json["id"], first.json["id"]);
        assert_eq!(again.json["secret_shown"], false);
        assert!(again.json.get("secret").is_none(), "{}", again.text);
        assert_eq!(app.count_rows("clients").await, 1);
        let other = post_with_key(&app, &app.admin_token, "/tenants/acme/clients", "retry-1", json!({"name": "Other", "app_type": "spa"})).await;
        other.assert_problem(422, "idempotency-key-reused");
        // Keys are per caller: another token's same key is another request.
        let token = app.create_token(&["client.write"], &["acme"]).await;
        let theirs = post_with_key(&app, &token, "/tenants/acme/clients", "retry-1", body.clone()).await;
        assert_eq!(theirs.status, 201);
        assert!(theirs.header("idempotent-replayed").is_none());
        assert_ne!(theirs.json["id"], first.json["id"]);
        // A failed first attempt is not kept: the retry tries again.
        let refused = post_with_key(&app, &app.admin_token, "/tenants", "t-1", json!({"id": "Bad Id", "name": "x"})).await;
        refused.assert_problem(422, "validation");
        let fixed = post_with_key(&app, &app.admin_token, "/tenants", "t-1", json!({"id": "Bad Id", "name": "x"})).await;
        fixed.assert_problem(422, "validation");
        let token_body = json!({"name": "ci", "permissions": ["admin"]});
        let issued = post_with_key(&app, &app.admin_token, "/tokens", "tok-1", token_body.clone()).await;
        let replayed = post_with_key(&app, &app.admin_token, "/tokens", "tok-1", token_body).await;
        assert_eq!((issued.status, replayed.status), (201, 201));
        assert_eq!(replayed.json["id"], issued.json["id"]);
        assert!(replayed.json.get("token").is_none() && replayed.json["secret_shown"] == false);
        let client = format!("/clients/{}/secrets/rotate/start", first.json["id"].as_str().unwrap());
        let started = post_with_key(&app, &app.admin_token, &client, "rot-1", json!({})).await;
        let restarted = post_with_key(&app, &app.admin_token, &client, "rot-1", json!({})).await;
        assert_eq!((started.status, restarted.status), (200, 200), "{}", restarted.text);
        assert!(restarted.json.get("next_client_secret").is_none());
        assert_eq!(restarted.json["next_client_secret_last_four"], started.json["next_client_secret_last_four"]);
        // A route without dry runs ignores dry_run, and so does the key: no second token.
        let dry_body = json!({"name": "dry?", "permissions": ["admin"]});
        let once = post_with_key(&app, &app.admin_token, "/tokens?dry_run=true", "tok-2", dry_body.clone()).await;
        let twice = post_with_key(&app, &app.admin_token, "/tokens?dry_run=true", "tok-2", dry_body).await;
        assert_eq!((once.status, twice.status), (201, 201));
        assert_eq!(twice.header("idempotent-replayed"), Some("true"));
        assert_eq!(twice.json["id"], once.json["id"]);
        let long = "k".repeat(256);
        post_with_key(&app, &app.admin_token, "/tenants", &long, json!({"id": "x", "name": "x"})).await.assert_problem(400, "bad-request");
        let events = all_events(&app, "/events?action=client.create").await;
        assert_eq!(events.len(), 2, "{events:?}");
    }

    /// The caller hangs up before the answer: the change is made once, and the retry (409
    /// while the first still runs) gets its answer.
    async fn a_create_whose_caller_hung_up_is_made_once(app) {
        app.create_tenant("acme").await;
        let body = json!({"name": "Job", "app_type": "non_interactive"});
        // The whole request is sent, and the connection closed before any answer is read.
        let address = app.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let text = body.to_string();
        let request = format!(
            "POST /tenants/acme/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nIdempotency-Key: hang-up\r\nContent-Length: {}\r\n\r\n{text}",
            app.admin_token,
            text.len()
        );
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.unwrap();
        drop(stream);
        let replayed = loop {
            let retry = post_with_key(&app, &app.admin_token, "/tenants/acme/clients", "hang-up", body.clone()).await;
            match retry.status {
                409 => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                _ => break retry,
            }
        };
        assert_eq!(replayed.status, 201, "{}", replayed.text);
        assert_eq!(app.count_rows("clients").await, 1);
    }

    /// The process stopped after the change committed and before its answer was kept: the
    /// claim is left unanswered. A retry, even once the claim counts as abandoned, finds the
    /// change's event and answers from it; it never makes the change again.
    async fn a_change_whose_answer_was_lost_is_replayed_not_made_again(app) {
        app.create_tenant("acme").await;
        let body = json!({"name": "Job", "app_type": "non_interactive"});
        let first = post_with_key(&app, &app.admin_token, "/v1/tenants/acme/clients", "lost", body.clone()).await;
        assert_eq!(first.status, 201, "{}", first.text);
        let long_ago = clientd::domain::time::now() - chrono::TimeDelta::hours(1);
        app.execute("UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL, created = $1", long_ago).await;
        let again = post_with_key(&app, &app.admin_token, "/v1/tenants/acme/clients", "lost", body.clone()).await;
        assert_eq!(again.status, 201, "{}", again.text);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.header("location"), first.header("location"));
        assert_eq!(again.json["id"], first.json["id"]);
        assert_eq!(again.json["name"], "Job");
        assert_eq!(again.json["secret_shown"], false);
        assert!(again.json.get("secret").is_none(), "{}", again.text);
        assert_eq!(app.count_rows("clients").await, 1);
        // The same for a rotation: one next secret, and the retry is told the step was taken.
        let client = format!("/clients/{}/secrets/rotate/start", first.json["id"].as_str().unwrap());
        let started = post_with_key(&app, &app.admin_token, &client, "lost-rotation", json!({})).await;
        assert_eq!(started.status, 200, "{}", started.text);
        app.execute("UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL, created = $1", long_ago).await;
        let restarted = post_with_key(&app, &app.admin_token, &client, "lost-rotation", json!({})).await;
        assert_eq!(restarted.status, 200, "{}", restarted.text);
        assert_eq!(restarted.header("idempotent-replayed"), Some("true"));
        assert!(restarted.json.get("next_client_secret").is_none(), "{}", restarted.text);
        assert_eq!(restarted.json["next_client_secret_last_four"], started.json["next_client_secret_last_four"]);
        assert_eq!(restarted.json["secret_shown"], false);
        let events = all_events(&app, "/events?action=secret.rotate.start").await;
        assert_eq!(events.len(), 1, "{events:?}");
    }

    /// A claim whose first request died before its change committed (no event) is taken
    /// over once abandoned: the retry makes the change, once.
    async fn an_abandoned_claim_without_a_change_is_taken_over(app) {
        let body = json!({"id": "acme", "name": "Acme"});
        let first = post_with_key(&app, &app.admin_token, "/tenants", "died", body.clone()).await;
        assert_eq!(first.status, 201, "{}", first.text);
        // As if the first request had claimed the key and died before its transaction.
        app.execute("DELETE FROM events WHERE action = $1", "tenant.create").await;
        app.execute("DELETE FROM tenants WHERE id = $1", "acme").await;
        let long_ago = clientd::domain::time::now() - chrono::TimeDelta::hours(1);
        app.execute("UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL, committed = NULL, created = $1", long_ago).await;
        let retry = post_with_key(&app, &app.admin_token, "/tenants", "died", body).await;
        assert_eq!(retry.status, 201, "{}", retry.text);
        assert!(retry.header("idempotent-replayed").is_none());
        assert_eq!(app.count_rows("tenants").await, 1);
    }
}

/// The store's side of a takeover: a change whose claim was taken over by a retry fails,
/// writing nothing, and a committed claim is never taken over or released.
mod claims {
    use clientd::domain::audit::{Action, Event};
    use clientd::domain::change::{Actor, ChangeContext};
    use clientd::domain::tenant::Tenant;
    use clientd::domain::time;
    use clientd::store::{Claim, ClaimDeadlines, PoolSettings, StoreError};

    async fn check(url: &str) {
        let settings = PoolSettings {
            max_connections: 4,
            acquire_timeout: std::time::Duration::from_secs(5),
            statement_timeout: std::time::Duration::from_secs(30),
        };
        let store = clientd::store::open(url, &settings).unwrap();
        store.migrate().await.unwrap();
        let now = time::now();
        let fresh = ClaimDeadlines {
            now,
            expired: now - chrono::TimeDelta::hours(24),
            abandoned: now - chrono::TimeDelta::minutes(1),
        };
        // Every claim counts as abandoned, as if its request had run for too long.
        let late = ClaimDeadlines {
            abandoned: now + chrono::TimeDelta::minutes(1),
            ..fresh
        };
        let (first, retry) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        assert_eq!(
            store
                .claim_idempotency_key("cli", "k", b"h", first, fresh)
                .await
                .unwrap(),
            Claim::Claimed
        );
        assert_eq!(
            store
                .claim_idempotency_key("cli", "k", b"h", retry, late)
                .await
                .unwrap(),
            Claim::Claimed
        );
        // The first request's change comes too late: it fails and leaves nothing.
        let tenant = Tenant::new("acme", "Acme", now).unwrap();
        let mut change = ChangeContext::without_request(Actor::Cli);
        change.idempotency = Some(first);
        let event = Event::new(
            &change,
            Action::TenantCreate,
            Some(&tenant.id),
            "acme",
            "/tenants/acme",
        );
        let late_change = store.create_tenant(&tenant, &event).await;
        assert!(
            matches!(late_change, Err(StoreError::Contention(_))),
            "{late_change:?}"
        );
        assert_eq!(store.tenant(&tenant.id).await.unwrap(), None);
        // The retry's change commits; from then on its claim is neither released nor taken over.
        change.idempotency = Some(retry);
        let event = Event::new(
            &change,
            Action::TenantCreate,
            Some(&tenant.id),
            "acme",
            "/tenants/acme",
        );
        store.create_tenant(&tenant, &event).await.unwrap();
        store
            .release_idempotency_key("cli", "k", retry)
            .await
            .unwrap();
        let third = uuid::Uuid::now_v7();
        match store
            .claim_idempotency_key("cli", "k", b"h", third, late)
            .await
            .unwrap()
        {
            Claim::Committed(found) => assert_eq!(found.id, event.id),
            other => panic!("a committed claim was given up: {other:?}"),
        }
        store.close().await;
    }

    on_both_stores! {
        databases;

        async fn a_change_whose_claim_was_taken_over_fails(database) {
            super::check(&database.url).await;
        }
    }
}

/// Two replicas on one Postgres get the same key at once: one client, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_agree_on_an_idempotency_key() {
    let Some(database) =
        crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await
    else {
        return;
    };
    let first = TestApp::spawn_on(database).await;
    let second = first.replica().await;
    first.create_tenant("acme").await;
    for round in 0..5 {
        let key = format!("together-{round}");
        let body = json!({"name": format!("Job {round}"), "app_type": "non_interactive"});
        let (a, b) = tokio::join!(
            post_with_key(
                &first,
                &first.admin_token,
                "/tenants/acme/clients",
                &key,
                body.clone()
            ),
            post_with_key(
                &second,
                &second.admin_token,
                "/tenants/acme/clients",
                &key,
                body.clone()
            ),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert!(
            statuses == [201, 201] || statuses == [201, 409],
            "{statuses:?}: {} / {}",
            a.text,
            b.text
        );
    }
    assert_eq!(first.count_rows("clients").await, 5);
    assert_eq!(first.count_rows("events").await, 6);
}
