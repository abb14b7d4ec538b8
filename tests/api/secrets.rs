//! Secrets (Stytch): zero-downtime rotation, verification, and rotation telemetry.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{TestApp, TestResponse};

/// A tenant `acme` with a machine client; returns its path and its first secret.
async fn machine_client(app: &TestApp) -> (String, String) {
    app.create_tenant("acme").await;
    let c = app.create_client("acme", json!({
        "name": "Billing job", "app_type": "non_interactive", "description": "nightly billing",
        "scope": ["invoices:write"], "trusted_metadata": {"team": "billing"},
    })).await;
    (
        format!("/clients/{}", c["id"].as_str().unwrap()),
        c["secret"].as_str().unwrap().to_owned(),
    )
}

async fn verify(app: &TestApp, client: &str, secret: &str) -> TestResponse {
    app.admin()
        .post(
            &format!("{client}/secrets/verify"),
            json!({"client_secret": secret}),
        )
        .await
}

async fn step(app: &TestApp, client: &str, step: &str) -> TestResponse {
    app.admin()
        .post(&format!("{client}/secrets/{step}"), json!({}))
        .await
}

fn last_four(secret: &str) -> &str {
    &secret[secret.len() - 4..]
}

on_both_stores! {
    async fn a_full_rotation_keeps_both_secrets_working_until_it_completes(app) {
        let (client, first) = machine_client(&app).await;
        let started = app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await;
        assert_eq!(started.status, 200, "{}", started.text);
        let next = started.json["next_client_secret"].as_str().unwrap().to_owned();
        assert!(next.len() >= 43 && next != first);
        let expected = json!({
            "client_id": client.trim_start_matches("/clients/"),
            "client_name": "Billing job",
            "client_description": "nightly billing",
            "status": "active",
            "scopes": ["invoices:write"],
            "client_secret_last_four": last_four(&first),
            "next_client_secret": next,
            "next_client_secret_last_four": last_four(&next),
            "trusted_metadata": {"team": "billing"},
        });
        assert_eq!(started.json, expected);

        assert_eq!(verify(&app, &client, &first).await.json, json!({"valid": true, "secret": "current"}));
        assert_eq!(verify(&app, &client, &next).await.json, json!({"valid": true, "secret": "next"}));
        for path in [client.clone(), "/tenants/acme/clients".to_owned(), format!("{client}/secrets")] {
            let body = app.admin().get(&path).await.text;
            assert!(!body.contains(&next) && !body.contains(&first), "a secret leaked in {path}");
        }

        let completed = app.admin().post(&format!("{client}/secrets/rotate"), json!({})).await;
        assert_eq!(completed.status, 200, "{}", completed.text);
        assert!(completed.json.get("next_client_secret").is_none());
        assert_eq!(completed.json["client_secret_last_four"], last_four(&next));
        assert_eq!(completed.json["next_client_secret_last_four"], json!(null));

        verify(&app, &client, &first).await.assert_problem(401, "invalid-client-secret");
        assert_eq!(verify(&app, &client, &next).await.json, json!({"valid": true, "secret": "current"}));
    }

    async fn a_cancelled_rotation_drops_the_next_secret(app) {
        let (client, first) = machine_client(&app).await;
        let started = app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await;
        let next = started.json["next_client_secret"].as_str().unwrap().to_owned();
        let cancelled = app.admin().post(&format!("{client}/secrets/rotate/cancel"), json!({})).await;
        assert_eq!(cancelled.status, 200, "{}", cancelled.text);
        assert!(cancelled.json.get("next_client_secret").is_none());
        assert_eq!(cancelled.json["client_secret_last_four"], last_four(&first));
        assert_eq!(cancelled.json["next_client_secret_last_four"], json!(null));
        verify(&app, &client, &next).await.assert_problem(401, "invalid-client-secret");
        assert_eq!(verify(&app, &client, &first).await.json["secret"], "current");
    }

    async fn rotation_steps_out_of_order_are_409(app) {
        let (client, _) = machine_client(&app).await;
        for step in ["rotate", "rotate/cancel"] {
            let response = app.admin().post(&format!("{client}/secrets/{step}"), json!({})).await;
            assert!(response.assert_problem(409, "conflict")["detail"].as_str().unwrap().contains("no rotation"));
        }
        assert_eq!(app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await.status, 200);
        let twice = app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await;
        assert!(twice.assert_problem(409, "conflict")["detail"].as_str().unwrap().contains("already under way"));
    }

    async fn a_public_client_has_no_secret_to_rotate_or_verify(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "SPA", "app_type": "spa"})).await;
        let client = format!("/clients/{}", c["id"].as_str().unwrap());
        for step in ["rotate/start", "rotate", "rotate/cancel"] {
            app.admin().post(&format!("{client}/secrets/{step}"), json!({})).await.assert_problem(409, "conflict");
        }
        verify(&app, &client, "anything").await.assert_problem(401, "invalid-client-secret");
        assert_eq!(app.admin().get(&format!("{client}/secrets")).await.json["current"], json!(null));
    }

    async fn concurrent_rotation_steps_leave_one_winner(app) {
        let (client, _) = machine_client(&app).await;
        let admin = app.admin();
        let (start, complete) = (format!("{client}/secrets/rotate/start"), format!("{client}/secrets/rotate"));
        let starts = join_all((0..8).map(|_| admin.post(&start, json!({})))).await;
        let winners: Vec<&TestResponse> = starts.iter().filter(|r| r.status == 200).collect();
        assert_eq!(winners.len(), 1, "{:?}", starts.iter().map(|r| r.status).collect::<Vec<_>>());
        assert!(starts.iter().all(|r| r.status == 200 || r.status == 409));
        let next = winners[0].json["next_client_secret"].as_str().unwrap().to_owned();
        let completes = join_all((0..8).map(|_| admin.post(&complete, json!({})))).await;
        assert_eq!(completes.iter().filter(|r| r.status == 200).count(), 1);
        let telemetry = app.admin().get(&format!("{client}/secrets")).await.json;
        assert_eq!(telemetry["current"]["last_four"], last_four(&next));
        assert_eq!(telemetry["next"], json!(null));
        assert_eq!(app.count_rows("client_secrets").await, 1);
    }

    async fn a_disabled_client_never_verifies(app) {
        let (client, first) = machine_client(&app).await;
        app.admin().patch(&client, json!([{"op": "replace", "path": "/enabled", "value": false}])).await;
        let refused = verify(&app, &client, &first).await;
        assert!(refused.assert_problem(401, "invalid-client-secret")["detail"].as_str().unwrap().contains("disabled"));
        let started = app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await;
        assert_eq!(started.json["status"], "inactive");
    }

    async fn a_wrong_or_malformed_verification_is_refused(app) {
        let (client, first) = machine_client(&app).await;
        let wrong = verify(&app, &client, &format!("{first}x")).await;
        wrong.assert_problem(401, "invalid-client-secret");
        // Not a challenge for an admin token, which a browser would prompt for.
        assert!(wrong.header("www-authenticate").is_none());
        app.admin().post(&format!("{client}/secrets/verify"), json!({})).await.assert_invalid_fields(&["/client_secret"]);
        app.admin().post(&format!("{client}/secrets/verify"), json!({"client_secret": first, "grant": "x"})).await.assert_problem(400, "bad-request");
        verify(&app, "/clients/nope", &first).await.assert_problem(404, "not-found");
    }

    async fn telemetry_shows_which_secret_is_in_use(app) {
        let (client, first) = machine_client(&app).await;
        let fresh = app.admin().get(&format!("{client}/secrets")).await;
        assert_eq!(fresh.status, 200);
        assert_eq!(fresh.json["current"]["last_four"], last_four(&first));
        assert_eq!(fresh.json["current"]["last_used"], json!(null));
        assert!(fresh.json["current"]["created"].is_string());
        assert_eq!(fresh.json["next"], json!(null));
        assert!(fresh.json["current"].get("hash").is_none());

        // Written off the request path, within a second.
        verify(&app, &client, &first).await;
        let secrets = format!("{client}/secrets");
        let used = app.admin().get_until(&secrets, |json| json["current"]["last_used"].is_string()).await;
        let at = used["current"]["last_used"].clone();
        assert_eq!(app.admin().get(&client).await.json["lastUsed"], at);

        // Uses within the minute are not written again: verifying stays a read.
        verify(&app, &client, &first).await;
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        assert_eq!(app.admin().get(&format!("{client}/secrets")).await.json["current"]["last_used"], at);

        let next = app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await.json["next_client_secret"].as_str().unwrap().to_owned();
        let rotating = app.admin().get(&format!("{client}/secrets")).await.json;
        assert_eq!(rotating["next"]["last_four"], last_four(&next));
        assert_eq!(rotating["next"]["last_used"], json!(null));
        verify(&app, &client, &next).await;
        let after = app.admin().get_until(&secrets, |json| json["next"]["last_used"].is_string()).await;
        assert_eq!(after["current"]["last_used"], at);
    }

    async fn a_use_noted_just_before_a_rotation_step_is_written_to_the_secret_used(app) {
        let (promoted, _) = machine_client(&app).await;
        let gone = app.create_client("acme", json!({"name": "Other job", "app_type": "non_interactive"})).await;
        let (gone, gone_first) = (format!("/clients/{}", gone["id"].as_str().unwrap()), gone["secret"].as_str().unwrap().to_owned());

        // The next secret is used, and the rotation completes before the use is written
        // (once a second): the use is the promoted secret's, current now.
        let next = step(&app, &promoted, "rotate/start").await.json["next_client_secret"].as_str().unwrap().to_owned();
        assert_eq!(verify(&app, &promoted, &next).await.status, 200);
        assert_eq!(step(&app, &promoted, "rotate").await.status, 200);
        app.admin().get_until(&format!("{promoted}/secrets"), |json| json["current"]["last_used"].is_string()).await;

        // The current secret is used, and is gone before the use is written: the client was
        // used, the secret current now never was.
        assert_eq!(step(&app, &gone, "rotate/start").await.status, 200);
        assert_eq!(verify(&app, &gone, &gone_first).await.status, 200);
        assert_eq!(step(&app, &gone, "rotate").await.status, 200);
        app.admin().get_until(&gone, |json| json["lastUsed"].is_string()).await;
        assert_eq!(app.admin().get(&format!("{gone}/secrets")).await.json["current"]["last_used"], json!(null));
    }

    async fn another_tenants_secrets_are_404_and_readers_only_verify(app) {
        let (client, first) = machine_client(&app).await;
        app.create_tenant("other").await;
        let outsider = app.create_token(&["client.write"], &["other"]).await;
        let caller = app.with_token(&outsider);
        for step in ["rotate/start", "rotate", "rotate/cancel", "verify"] {
            caller.post(&format!("{client}/secrets/{step}"), json!({"client_secret": first})).await.assert_problem(404, "not-found");
        }
        caller.get(&format!("{client}/secrets")).await.assert_problem(404, "not-found");
        let gateway = app.create_token(&["client.read"], &["acme"]).await;
        let reader = app.with_token(&gateway);
        let verified = reader.post(&format!("{client}/secrets/verify"), json!({"client_secret": first})).await;
        assert_eq!(verified.status, 200, "{}", verified.text);
        assert_eq!(reader.get(&format!("{client}/secrets")).await.status, 200);
        reader.post(&format!("{client}/secrets/rotate/start"), json!({})).await.assert_problem(403, "forbidden");
    }
}

/// A rotation step locks the client's row, then changes its secrets; writing a use must take
/// them in the same order, and always wait for the client's row. In the other order a use
/// written while a step is under way holds the secret the step waits for, while waiting for
/// the client the step holds (Postgres breaks the deadlock after a second by failing one);
/// not waiting, it updates the secret where it was before the step moved it, and is lost.
/// SQLite has one writer at a time.
#[tokio::test]
async fn a_use_written_during_a_rotation_step_waits_for_it_and_holds_nothing_it_needs() {
    use sqlx::Connection;
    let Some(database) =
        crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await
    else {
        return;
    };
    let app = TestApp::spawn_on(database).await;
    let (client, first) = machine_client(&app).await;
    let id = client.trim_start_matches("/clients/");
    let secrets = format!("{client}/secrets");
    // The client's use is recent, so its own time is not due when the next secret is used.
    assert_eq!(verify(&app, &client, &first).await.status, 200);
    app.admin()
        .get_until(&secrets, |json| json["current"]["last_used"].is_string())
        .await;
    let next = step(&app, &client, "rotate/start").await.json["next_client_secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // A completion under way, as rotate_secrets runs it: the client's row locked first.
    let mut connection = sqlx::PgConnection::connect(&app.database.url)
        .await
        .unwrap();
    let completing_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let mut completing = connection.begin().await.unwrap();
    sqlx::query("SELECT id FROM clients WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id)
        .execute(&mut *completing)
        .await
        .unwrap();

    // The next secret's use is noted; its write (within a second) waits for the step.
    assert_eq!(verify(&app, &client, &next).await.status, 200);
    until_the_use_waits_for(&app, completing_pid).await;
    complete_at_once(&mut completing, id).await;
    completing.commit().await.unwrap();
    // ...and the use then lands on the secret where the step moved it.
    let used = app
        .admin()
        .get_until(&secrets, |json| {
            json["current"]["last_four"] == last_four(&next)
                && json["current"]["last_used"].is_string()
        })
        .await;
    assert!(used["next"].is_null(), "{used}");
}

/// Waits until the write of the use waits for the session `completing_pid` (the step's),
/// and fails if it went ahead without waiting.
async fn until_the_use_waits_for(app: &TestApp, completing_pid: i32) {
    use sqlx::Connection;
    let mut watch = sqlx::PgConnection::connect(&app.database.url)
        .await
        .unwrap();
    for attempt in 0.. {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))",
        )
        .bind(completing_pid)
        .fetch_one(&mut watch)
        .await
        .unwrap();
        if waiting {
            break;
        }
        assert!(
            attempt < 500,
            "the use was written without waiting for the step"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The rest of the rotation step, in `completing`, which already holds the client's row.
async fn complete_at_once(completing: &mut sqlx::PgConnection, id: &str) {
    // The step moves the secrets without waiting on the write of the use (well inside the
    // second after which Postgres would break a deadlock)...
    sqlx::query("SET LOCAL lock_timeout = '500ms'")
        .execute(&mut *completing)
        .await
        .unwrap();
    // As Postgres completes a rotation (COMPLETE_AT_ONCE, less its event): the next secret's
    // row goes, and its values are written over the current one's.
    sqlx::query(
        "WITH next AS (
            DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'next'
            RETURNING client_id, secret_hash, last_four, created, last_used
        )
        INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created, last_used)
        SELECT client_id, 'current', secret_hash, last_four, created, last_used FROM next
        ON CONFLICT (client_id, slot) DO UPDATE SET secret_hash = excluded.secret_hash,
            last_four = excluded.last_four, created = excluded.created, last_used = excluded.last_used",
    )
    .bind(id)
    .execute(&mut *completing)
    .await
    .expect("the rotation step waited on the write of a use");
}
