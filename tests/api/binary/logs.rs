//! What the log holds: one JSON object per line with request ids, and never a secret,
//! even at debug level.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{clientd, terminate, wait_until_serving};
use crate::helpers::{Backend, TestDatabase};

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_request_ids_and_no_secrets() {
    let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let token = format!("bootstrap-{}", uuid::Uuid::new_v4().simple());
    let mut child = clientd()
        .env("DATABASE_URL", &database.url)
        .env("CLIENTD_LOG_FORMAT", "json")
        .env("CLIENTD_BOOTSTRAP_TOKEN", &token)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let serving = wait_until_serving(&mut stderr).await;
    let serving: serde_json::Value = serde_json::from_str(serving.lines().last().unwrap()).unwrap();
    let address = serving["address"].as_str().unwrap().to_owned();
    let response = crate::helpers::http_client()
        .build()
        .unwrap()
        .get(format!("http://{address}/tenants"))
        .bearer_auth(&token)
        .header("x-request-id", "find-me-in-the-log")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let created = crate::helpers::http_client()
        .build()
        .unwrap()
        .post(format!("http://{address}/tenants"))
        .bearer_auth(&token)
        .header("x-request-id", "audit-me")
        .json(&serde_json::json!({"id": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(terminate(child).await, Some(0));
    let mut log = String::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(!log.contains(&token), "the token reached the log:\n{log}");
    let lines: Vec<serde_json::Value> = (log.lines())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let request_line = (lines.iter())
        .find(|line| line["span"]["request_id"] == "find-me-in-the-log")
        .unwrap_or_else(|| panic!("no log line carries the request id:\n{log}"));
    assert_eq!(request_line["span"]["path"], "/tenants");
    let audit = (lines.iter())
        .find(|line| line["target"] == "clientd::audit")
        .unwrap_or_else(|| panic!("no audit line:\n{log}"));
    assert_eq!(audit["action"], "tenant.create");
    let event: serde_json::Value = serde_json::from_str(audit["event"].as_str().unwrap()).unwrap();
    assert_eq!(event["request_id"], "audit-me");
    assert_eq!(event["resource_path"], "/tenants/acme");
}

/// Every secret clientd issues, in a debug-level log of a full rotation: none may appear.
#[tokio::test]
async fn no_secret_reaches_the_log_even_at_debug_level() {
    let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let token = format!("bootstrap-{}", uuid::Uuid::new_v4().simple());
    let mut child = clientd()
        .env("DATABASE_URL", &database.url)
        .env("CLIENTD_BOOTSTRAP_TOKEN", &token)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let serving = wait_until_serving(&mut stderr).await;
    let address = serving
        .lines()
        .last()
        .unwrap()
        .rsplit("address=")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let (first, next) = a_full_rotation(&address, &token).await;
    assert_eq!(terminate(child).await, Some(0));
    let mut log = serving;
    while let Some(line) = stderr.next_line().await.unwrap() {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(
        log.contains("secrets/verify"),
        "the requests were not logged:\n{log}"
    );
    for secret in [&token, &first, &next, &"wrong-secret-value".to_owned()] {
        assert!(
            !log.contains(secret.as_str()),
            "a secret reached the log:\n{log}"
        );
    }
}

/// A client made over HTTP, its secret rotated and verified with each secret and a wrong
/// one; returns the first and the next secret, for the log to be searched for.
async fn a_full_rotation(address: &str, token: &str) -> (String, String) {
    let http = crate::helpers::http_client().build().unwrap();
    let call = |path: &str, body: serde_json::Value| {
        http.post(format!("http://{address}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    call(
        "/tenants",
        serde_json::json!({"id": "acme", "name": "Acme"}),
    )
    .await
    .unwrap();
    let created: serde_json::Value = call(
        "/tenants/acme/clients",
        serde_json::json!({"name": "Job", "app_type": "non_interactive"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let client = format!("/clients/{}", created["id"].as_str().unwrap());
    let first = created["secret"].as_str().unwrap().to_owned();
    let started: serde_json::Value = call(
        &format!("{client}/secrets/rotate/start"),
        serde_json::json!({}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let next = started["next_client_secret"].as_str().unwrap().to_owned();
    for secret in [&first, &next, &"wrong-secret-value".to_owned()] {
        call(
            &format!("{client}/secrets/verify"),
            serde_json::json!({"client_secret": secret}),
        )
        .await
        .unwrap();
    }
    call(&format!("{client}/secrets/rotate"), serde_json::json!({}))
        .await
        .unwrap();
    (first, next)
}
