//! The `clientd` binary itself: settings, start-up failures, the first token, the token
//! command and graceful shutdown.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

use crate::helpers::{Backend, TestApp, TestDatabase};

fn clientd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clientd"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CLIENTD_LISTEN", "127.0.0.1:0")
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn bad_settings_are_refused_naming_the_setting() {
    let cases = [
        ("CLIENTD_LISTEN", "nowhere", "CLIENTD_LISTEN"),
        ("DATABASE_URL", "mysql://db/clientd", "DATABASE_URL"),
        (
            "CLIENTD_BOOTSTRAP_TOKEN",
            "too-short",
            "CLIENTD_BOOTSTRAP_TOKEN",
        ),
        ("CLIENTD_LOG_FORMAT", "xml", "--log-format"),
        ("CLIENTD_DB_POOL_SIZE", "0", "CLIENTD_DB_POOL_SIZE"),
        ("CLIENTD_DB_WAIT_SECS", "forever", "CLIENTD_DB_WAIT_SECS"),
        (
            "CLIENTD_REQUEST_TIMEOUT_SECS",
            "0",
            "CLIENTD_REQUEST_TIMEOUT_SECS",
        ),
        (
            "CLIENTD_BODY_LIMIT_BYTES",
            "lots",
            "CLIENTD_BODY_LIMIT_BYTES",
        ),
        (
            "CLIENTD_TRUSTED_PROXIES",
            "10.0.0.0/99",
            "CLIENTD_TRUSTED_PROXIES",
        ),
        ("CLIENTD_MAX_CONNECTIONS", "0", "CLIENTD_MAX_CONNECTIONS"),
        (
            "CLIENTD_AUTH_FAILURES_PER_MINUTE",
            "none",
            "CLIENTD_AUTH_FAILURES_PER_MINUTE",
        ),
    ];
    for (name, value, named) in cases {
        let output = clientd().env(name, value).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}={value}: {stderr}");
        assert!(stderr.contains(named), "{name}={value} gave: {stderr}");
    }
}

#[tokio::test]
async fn help_lists_every_setting() {
    let output = clientd().arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for name in [
        "DATABASE_URL",
        "CLIENTD_LISTEN",
        "CLIENTD_BOOTSTRAP_TOKEN",
        "CLIENTD_LOG_FORMAT",
        "CLIENTD_DB_POOL_SIZE",
        "CLIENTD_DB_WAIT_SECS",
        "CLIENTD_REQUEST_TIMEOUT_SECS",
        "CLIENTD_BODY_LIMIT_BYTES",
        "CLIENTD_MAX_CREDENTIALS_PER_CLIENT",
        "CLIENTD_AUTH_FAILURES_PER_MINUTE",
        "CLIENTD_VERIFY_FAILURES_PER_MINUTE",
        "CLIENTD_TRUSTED_PROXIES",
        "CLIENTD_MAX_CONNECTIONS",
        "CLIENTD_HEADER_READ_TIMEOUT_SECS",
        "CLIENTD_KEEP_ALIVE_TIMEOUT_SECS",
    ] {
        assert!(
            help.contains(name),
            "--help does not mention {name}:\n{help}"
        );
    }
}

#[tokio::test]
async fn help_never_prints_the_database_url() {
    let output = clientd()
        .env("DATABASE_URL", "postgres://app:hunter2@db.internal/clientd")
        .env("CLIENTD_BOOTSTRAP_TOKEN", "b".repeat(40))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("DATABASE_URL"), "{help}");
    for secret in ["hunter2", "db.internal", &"b".repeat(40)] {
        assert!(!help.contains(secret), "--help shows {secret}:\n{help}");
    }
}

#[tokio::test]
async fn an_unreachable_database_stops_the_start_with_a_clear_message() {
    let output = clientd()
        .env(
            "DATABASE_URL",
            "postgres://clientd:hunter2@127.0.0.1:1/clientd",
        )
        .env("CLIENTD_DB_WAIT_SECS", "1")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "cannot reach the database at postgres://clientd:***@127.0.0.1:1/clientd (DATABASE_URL)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("database not reachable yet"),
        "no retry was logged: {stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password reached the log: {stderr}"
    );
}

/// Waits for the "serving" log line, collecting the log meanwhile.
async fn wait_until_serving(stderr: &mut Lines<BufReader<ChildStderr>>) -> String {
    let mut seen = String::new();
    let wait = async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("serving") {
                return;
            }
        }
        panic!("clientd exited before serving");
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("not serving after 60 s:\n{seen}"));
    seen
}

fn start(database: &TestDatabase) -> (Child, Lines<BufReader<ChildStderr>>) {
    let mut child = clientd()
        .env("DATABASE_URL", &database.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, stderr)
}

/// SIGTERM, then the exit code: 0 when shutdown was graceful.
async fn terminate(mut child: Child) -> Option<i32> {
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    status.code()
}

async fn stdout_of(child: &mut Child) -> String {
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut out)
        .await
        .unwrap();
    out
}

async fn first_token_is_printed_once_and_works(database: TestDatabase) {
    let (mut first, mut stderr) = start(&database);
    let log = wait_until_serving(&mut stderr).await;
    assert!(
        !log.contains('\x1b'),
        "colour codes in a log that is not a terminal:\n{log}"
    );
    let stdout = first.stdout.take().unwrap();
    assert_eq!(terminate(first).await, Some(0), "{log}");
    let mut printed = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut { stdout }, &mut printed)
        .await
        .unwrap();
    let token = printed.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(
        printed.contains("First admin token") && token.starts_with("cdt_"),
        "{printed}"
    );
    assert!(!log.contains(&token), "the token reached the log");

    let (mut second, mut stderr) = start(&database);
    wait_until_serving(&mut stderr).await;
    let pid_stdout = stdout_of_after_exit(&mut second).await;
    assert_eq!(pid_stdout, "", "a second first token was printed");

    let app = TestApp::spawn_on(database).await;
    assert_eq!(app.with_token(&token).get("/tokens").await.status, 200);
}

/// Stops a serving child and returns what it printed on standard output.
async fn stdout_of_after_exit(child: &mut Child) -> String {
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let out = stdout_of(child).await;
    assert_eq!(child.wait().await.unwrap().code(), Some(0));
    out
}

async fn token_create_command_prints_a_working_token(database: TestDatabase) {
    let output = clientd()
        .env("DATABASE_URL", &database.url)
        .args([
            "token",
            "create",
            "--name",
            "ci",
            "--permission",
            "client.read.all",
        ])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("cdt_"), "{token}");

    let refused = clientd()
        .env("DATABASE_URL", &database.url)
        .args([
            "token",
            "create",
            "--name",
            "x",
            "--permission",
            "client.read",
            "--permission",
            "root",
        ])
        .output()
        .await
        .unwrap();
    let why = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{why}");
    assert!(
        why.contains("permissions/1: unknown permission") && why.contains("tenants:"),
        "{why}"
    );
    assert!(refused.stdout.is_empty());

    let app = TestApp::spawn_on(database).await;
    let caller = app.with_token(&token);
    assert_eq!(caller.get("/tenants").await.status, 200);
    caller.get("/tokens").await.assert_problem(403, "forbidden");
}

mod stores {
    use super::*;

    on_both_stores! {
        databases;

        async fn first_token_is_printed_once_and_works(database) {
            super::first_token_is_printed_once_and_works(database).await;
        }

        async fn token_create_command_prints_a_working_token(database) {
            super::token_create_command_prints_a_working_token(database).await;
        }
    }
}

#[tokio::test]
async fn healthcheck_exits_0_for_a_ready_server_and_1_otherwise() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ready = clientd()
        .env("CLIENTD_LISTEN", app.address.to_string())
        .arg("healthcheck")
        .output()
        .await
        .unwrap();
    assert_eq!(
        ready.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    let free_port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let nothing = clientd()
        .env("CLIENTD_LISTEN", free_port.to_string())
        .arg("healthcheck")
        .output()
        .await
        .unwrap();
    assert_eq!(nothing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("did not answer"));
}

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
    let http = crate::helpers::http_client().build().unwrap();
    let call = |path: &str, body: serde_json::Value| {
        http.post(format!("http://{address}{path}"))
            .bearer_auth(&token)
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

/// An orchestrator may stop clientd while it still waits for its database.
#[tokio::test]
async fn sigterm_while_waiting_for_the_database_stops_at_once() {
    let mut child = clientd()
        .env("DATABASE_URL", "postgres://clientd@127.0.0.1:1/clientd")
        .env("CLIENTD_DB_WAIT_SECS", "120")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let waiting = async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.contains("database not reachable yet") {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(terminate(child).await, Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        started.elapsed()
    );
}
