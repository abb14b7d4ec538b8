//! The first admin token, printed once at the first start, and `clientd token create`.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr};

use super::{clientd, terminate, wait_until_serving};
use crate::helpers::{TestApp, TestDatabase};

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

on_both_stores! {
    databases;

    async fn first_token_is_printed_once_and_works(database) {
        super::first_token_is_printed_once_and_works(database).await;
    }

    async fn token_create_command_prints_a_working_token(database) {
        super::token_create_command_prints_a_working_token(database).await;
    }
}
