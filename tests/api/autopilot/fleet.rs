//! One autopilot for a fleet: three replicas (this test's server and two `clientd`
//! processes) run it every second over one Postgres, and each completion and each warning
//! still happens exactly once.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{machine, quick, rfc3339_in, three_runs, verify};
use crate::binary::{clientd, wait_until_serving};
use crate::helpers::{Backend, TEST_KEK, TestApp, TestDatabase};

/// How many events of `action` the whole trail holds.
async fn count(app: &TestApp, action: &str) -> usize {
    let page = app
        .admin()
        .get(&format!("/events?action={action}&limit=200"))
        .await;
    page.json["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_complete_and_warn_exactly_once() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let app = TestApp::spawn_with(database, quick).await;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let mut child = clientd()
            .env("DATABASE_URL", &app.database.url)
            .env("CLIENTD_AUTOPILOT_INTERVAL_SECS", "1")
            .env("CLIENTD_LAST_USED_GRANULARITY_SECS", "1")
            .env("CLIENTD_EXPIRY_WARNING_DAYS", "1")
            .env("CLIENTD_KEY_ENCRYPTION_KEYS", TEST_KEK)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
        wait_until_serving(&mut log).await;
        // Read on, so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
        replicas.push(child);
    }
    const EACH: usize = 6;
    for n in 0..EACH {
        machine(&app, &format!("stale {n}"), json!({"max_age_seconds": 1})).await;
        let (late, _) = machine(
            &app,
            &format!("late {n}"),
            json!({"rotation_max_seconds": 1}),
        )
        .await;
        let started = (app.admin())
            .post(&format!("/clients/{late}/secrets/rotate/start"), json!({}))
            .await;
        assert_eq!(started.status, 200, "{}", started.text);
        let (id, _) = machine(
            &app,
            &format!("hands-free {n}"),
            json!({"auto_complete_after_unused_seconds": 1}),
        )
        .await;
        let started = (app.admin())
            .post(&format!("/clients/{id}/secrets/rotate/start"), json!({}))
            .await;
        let next = started.json["next_client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(verify(&app, &id, &next).await["secret"], "next");
        let credential = (app.admin())
            .post(
                &format!("/clients/{id}/credentials"),
                json!({"credential_type": "cert_subject_dn", "subject_dn": format!("CN=c{n}.acme.example"), "expires_at": rfc3339_in(3)}),
            )
            .await;
        assert_eq!(credential.status, 201, "{}", credential.text);
    }
    let expected: [(&str, usize); 5] = [
        ("secret.stale", EACH),
        ("secret.rotate.overdue", EACH),
        ("secret.rotate.complete", EACH),
        ("credential.expiring", EACH),
        ("credential.expired", EACH),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    for (action, wanted) in expected {
        while count(&app, action).await < wanted {
            assert!(
                Instant::now() < deadline,
                "{action}: {} of {wanted}",
                count(&app, action).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    three_runs().await;
    for (action, wanted) in expected {
        assert_eq!(count(&app, action).await, wanted, "{action}");
    }
    let completions = app
        .admin()
        .get("/events?action=secret.rotate.complete&limit=200")
        .await;
    let kinds: Vec<&Value> = (completions.json["items"].as_array().unwrap().iter())
        .map(|event| &event["actor"]["kind"])
        .collect();
    assert!(kinds.iter().all(|kind| *kind == "autopilot"), "{kinds:?}");
    drop(replicas);
}
