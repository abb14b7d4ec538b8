//! `clientd` as a client of a live server: every command, both output forms, every exit code.
//!
//! This file runs the binary; the tests are split by what they show: the story of every
//! command against a live server (`live`), what people read (`for_people`), what the
//! command refuses, before sending or on a strange answer (`refusals`), and the commands of
//! the token endpoint and its signing keys (`oauth`).

use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::helpers::TestApp;

mod for_people;
mod live;
mod oauth;
mod refusals;

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    #[track_caller]
    fn refused(self, status: &str) -> Self {
        assert_eq!(
            self.code, 1,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(self.stderr.contains(status), "{}", self.stderr);
        assert!(self.stdout.is_empty(), "{}", self.stdout);
        self
    }
}

/// The binary with only a server and a token in its environment.
fn clientd(app: &TestApp) -> Command {
    program(env!("CARGO_BIN_EXE_clientd"), app)
}

fn program(name: &str, app: &TestApp) -> Command {
    let mut command = Command::new(name);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CLIENTD_URL", format!("http://{}", app.address))
        .env("CLIENTD_TOKEN", &app.admin_token)
        .kill_on_drop(true);
    command
}

async fn run_with(mut command: Command, args: &[&str], stdin: &str) -> Run {
    let mut child = (command.args(args))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

async fn run(app: &TestApp, args: &[&str]) -> Run {
    run_with(clientd(app), args, "").await
}

async fn run_in(app: &TestApp, args: &[&str], stdin: &str) -> Run {
    run_with(clientd(app), args, stdin).await
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not text: {value}"))
}
