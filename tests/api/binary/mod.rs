//! The `clientd` binary itself: settings, start-up failures, the health check and graceful
//! shutdown here; the first token and the token command in `tokens`; what the log holds in
//! `logs`. This file also starts the binary and stops it for all three.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

use crate::helpers::{Backend, TestApp};

mod logs;
mod tokens;

pub(crate) fn clientd() -> Command {
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
pub(crate) async fn wait_until_serving(stderr: &mut Lines<BufReader<ChildStderr>>) -> String {
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
