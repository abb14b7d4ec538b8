//! `clientd` as a client of a live server: every command, both output forms, every exit code.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::helpers::{TestApp, fixture, fixture_path, repo_file};

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

async fn tenants_and_tokens(app: &TestApp) {
    let created = run(app, &["tenants", "create", "acme", "--name", "Acme"])
        .await
        .ok();
    assert_eq!(created.json()["id"], "acme");
    run(app, &["tenants", "create", "beta", "--name", "Beta"])
        .await
        .ok();
    assert_eq!(
        run(app, &["tenants", "get", "acme"]).await.ok().json()["name"],
        "Acme"
    );
    let all = run(app, &["tenants", "list"]).await.ok().json();
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let paged = run(app, &["tenants", "list", "--limit", "1"]).await.ok();
    assert_eq!(paged.json().as_array().unwrap().len(), 1);
    assert!(paged.stderr.contains("--cursor"), "{}", paged.stderr);
    let followed = run(app, &["tenants", "list", "--limit", "1", "--all"])
        .await
        .ok()
        .json();
    assert_eq!(followed.as_array().unwrap().len(), 2, "{followed}");

    let issued = run(
        app,
        &[
            "tokens",
            "create",
            "--name",
            "ci",
            "--permission",
            "client.write",
            "--tenant",
            "acme",
        ],
    )
    .await
    .ok();
    let token = text(&issued.json()["token"]).to_owned();
    assert!(token.starts_with("cdt_") && issued.stderr.contains("only this once"));
    let id = text(&issued.json()["id"]).to_owned();
    assert_eq!(
        run(app, &["tokens", "get", &id]).await.ok().json()["name"],
        "ci"
    );
    let listed = run(app, &["tokens", "list", "--field", "id"]).await.ok();
    assert!(
        listed.stdout.lines().any(|line| line == id),
        "{}",
        listed.stdout
    );

    // The token from a file, scoped to its tenant: a wall, then revoked.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{token}\n")).unwrap();
    let path = file.path().to_str().unwrap();
    let mut scoped = clientd(app);
    scoped.env_remove("CLIENTD_TOKEN");
    let own = run_with(
        scoped,
        &["clients", "list", "--tenant", "acme", "--token-file", path],
        "",
    )
    .await;
    assert_eq!(own.ok().json(), json!([]));
    let mut scoped = clientd(app);
    scoped.env("CLIENTD_TOKEN", &token);
    // Another tenant's clients are not even there for it.
    run_with(scoped, &["clients", "list", "--tenant", "beta"], "")
        .await
        .refused("404");
    assert!(
        run(app, &["tokens", "revoke", &id])
            .await
            .ok()
            .stdout
            .is_empty()
    );
    let mut revoked = clientd(app);
    revoked.env("CLIENTD_TOKEN", &token);
    let refused = run_with(revoked, &["tenants", "list"], "")
        .await
        .refused("401");
    assert!(
        !refused.stderr.contains(&token),
        "the token was echoed: {}",
        refused.stderr
    );

    run(app, &["tenants", "delete", "beta"]).await.ok();
    run(app, &["tenants", "get", "beta"]).await.refused("404");
}

async fn clients_from_flags_files_and_patches(app: &TestApp) -> (String, String) {
    let created = run(
        app,
        &[
            "clients",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Acme Portal",
            "--app-type",
            "regular_web",
            "--callback",
            "https://portal.acme.example/callback",
            "--web-origin",
            "https://portal.acme.example",
            "--owner",
            "alice@acme.example",
            "--owner",
            "bob@acme.example",
        ],
    )
    .await
    .ok();
    let client = created.json();
    assert!(text(&client["secret"]).len() >= 32, "{client}");
    assert!(
        created.stderr.contains("shown only this once"),
        "{}",
        created.stderr
    );
    assert_eq!(
        client["owners"],
        json!(["alice@acme.example", "bob@acme.example"])
    );
    let id = text(&client["id"]).to_owned();
    let secret = text(&client["secret"]).to_owned();

    let body = r#"{"name": "Billing", "app_type": "non_interactive"}"#;
    let dry = run_in(
        app,
        &[
            "clients",
            "create",
            "--tenant",
            "acme",
            "--file",
            "-",
            "--dry-run",
        ],
        body,
    )
    .await
    .ok();
    assert!(
        dry.stderr.contains("dry run") && dry.json().get("secret").is_none(),
        "{}",
        dry.stdout
    );
    let listed = run(app, &["clients", "list", "--tenant", "acme"])
        .await
        .ok()
        .json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "the dry run stored a client: {listed}"
    );

    let etag = run(app, &["clients", "get", &id, "--field", "etag"])
        .await
        .ok()
        .stdout;
    let etag = etag.trim();
    assert!(!etag.is_empty());
    let patched = run(
        app,
        &[
            "clients",
            "patch",
            &id,
            "--set",
            "strongAuthSupported=true",
            "--set",
            "accessTokenValiditySeconds=600",
            "--add",
            "redirectUris=https://portal.acme.example/cb2",
            "--remove",
            "allowedWebOrigins/0",
            "--if-match",
            etag,
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(patched["strongAuthSupported"], true);
    assert_eq!(patched["accessTokenValiditySeconds"], 600);
    assert_eq!(patched["redirectUris"].as_array().unwrap().len(), 2);
    assert_eq!(patched["allowedWebOrigins"], json!([]));
    let stale = run(
        app,
        &[
            "clients",
            "patch",
            &id,
            "--set",
            "enabled=false",
            "--if-match",
            etag,
        ],
    )
    .await;
    let stale = stale.refused("412");
    assert!(
        stale.stderr.contains("If-Match") || stale.stderr.contains("ETag"),
        "{}",
        stale.stderr
    );

    let patch = r#"[{"op": "replace", "path": "/name", "value": "Portal"}]"#;
    let from_stdin = run_in(app, &["clients", "patch", &id, "--file", "-"], patch)
        .await
        .ok();
    assert_eq!(from_stdin.json()["name"], "Portal");
    let preview = run(
        app,
        &[
            "clients",
            "patch",
            &id,
            "--set",
            "enabled=false",
            "--dry-run",
        ],
    )
    .await
    .ok();
    assert_eq!(preview.json()["enabled"], false);
    assert_eq!(
        run(app, &["clients", "get", &id]).await.ok().json()["enabled"],
        true
    );
    let invalid = run(
        app,
        &[
            "clients",
            "patch",
            &id,
            "--set",
            "redirectUris=[\"not a uri\"]",
        ],
    )
    .await;
    let invalid = invalid.refused("422");
    assert!(
        invalid.stderr.contains("/redirectUris/0"),
        "each broken rule: {}",
        invalid.stderr
    );

    for name in ["billing-a", "billing-b"] {
        run(
            app,
            &[
                "clients",
                "create",
                "--tenant",
                "acme",
                "--name",
                name,
                "--app-type",
                "spa",
            ],
        )
        .await
        .ok();
    }
    let found = run(
        app,
        &[
            "clients",
            "list",
            "--filter",
            "name sw \"billing-\"",
            "--sort",
            "-name",
            "--count",
        ],
    )
    .await
    .ok();
    let names: Vec<_> = found
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("billing-b"), json!("billing-a")]);
    assert!(found.stderr.contains("2 clients match"), "{}", found.stderr);
    let every = run(
        app,
        &[
            "clients", "list", "--tenant", "acme", "--all", "--limit", "1", "--field", "name",
        ],
    )
    .await
    .ok();
    assert_eq!(every.stdout.lines().count(), 3, "{}", every.stdout);
    (id, secret)
}

async fn secrets_rotate_and_verify(app: &TestApp, id: &str, first: &str) {
    let started = run(app, &["secrets", "rotate-start", id]).await.ok();
    let next = text(&started.json()["next_client_secret"]).to_owned();
    assert!(started.stderr.contains("shown only this once"));
    let current = run_in(app, &["secrets", "verify", id], &format!("{first}\n"))
        .await
        .ok();
    assert_eq!(current.json(), json!({"valid": true, "secret": "current"}));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &next).unwrap();
    let by_file = run(
        app,
        &[
            "secrets",
            "verify",
            id,
            "--secret-file",
            file.path().to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(by_file.ok().json()["secret"], "next");
    let by_flag = run(app, &["secrets", "verify", id, "--secret", &next])
        .await
        .ok();
    assert_eq!(by_flag.json()["secret"], "next");
    let status = run(app, &["secrets", "status", id]).await.ok().json();
    assert_eq!(status["next"]["last_four"], json!(&next[next.len() - 4..]));
    run(app, &["secrets", "rotate", id]).await.ok();
    run_in(app, &["secrets", "verify", id], first)
        .await
        .refused("401");
    run(app, &["secrets", "rotate-cancel", id])
        .await
        .refused("409");
    run(app, &["secrets", "rotate-start", id]).await.ok();
    run(app, &["secrets", "rotate-cancel", id]).await.ok();
    assert_eq!(
        run(app, &["secrets", "status", id]).await.ok().json()["next"],
        Value::Null
    );
}

async fn credentials_and_events(app: &TestApp, id: &str) {
    let pem = &fixture_path("rsa2048-a-public.pem");
    let added = run(
        app,
        &[
            "credentials",
            "add",
            id,
            "--pem",
            pem,
            "--name",
            "signing 2026",
        ],
    )
    .await
    .ok();
    let credential = text(&added.json()["id"]).to_owned();
    assert_eq!(added.json()["credential_type"], "public_key");
    let cert = fixture("cert-valid.pem");
    let from_stdin = run_in(
        app,
        &["credentials", "add", id, "--pem", "-", "--expiry-from-cert"],
        &cert,
    )
    .await
    .ok();
    assert_eq!(from_stdin.json()["credential_type"], "x509_cert");
    assert!(from_stdin.json()["expires_at"].is_string());
    let listed = run(app, &["credentials", "list", id]).await.ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let got = run(app, &["credentials", "get", id, &credential])
        .await
        .ok()
        .json();
    assert_eq!(got["name"], "signing 2026");
    let moved = run(
        app,
        &[
            "credentials",
            "expire",
            id,
            &credential,
            "--at",
            "2030-01-01T00:00:00Z",
        ],
    )
    .await;
    assert_eq!(moved.ok().json()["expires_at"], "2030-01-01T00:00:00.000Z");
    let soon = run(
        app,
        &[
            "credentials",
            "list",
            "--expires-before",
            "2031-01-01T00:00:00Z",
        ],
    )
    .await
    .ok()
    .json();
    assert!(
        soon.as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == credential.as_str()),
        "{soon}"
    );
    assert_eq!(
        run(app, &["credentials", "expire", id, &credential, "--never"])
            .await
            .ok()
            .json()["expires_at"],
        Value::Null
    );
    let past = run(
        app,
        &[
            "credentials",
            "expire",
            id,
            &credential,
            "--at",
            "2020-01-01T00:00:00Z",
        ],
    )
    .await;
    past.refused("/expires_at: must be in the future");
    run(app, &["credentials", "delete", id, &credential])
        .await
        .ok();
    run(app, &["credentials", "get", id, &credential])
        .await
        .refused("404");

    let history = run(app, &["events", "--client", id, "--all"])
        .await
        .ok()
        .json();
    let actions: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| text(&e["action"]).to_owned())
        .collect();
    for action in [
        "client.create",
        "client.patch",
        "secret.rotate.complete",
        "credential.delete",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing from {actions:?}"
        );
    }
    let patches = run(
        app,
        &["events", "--tenant", "acme", "--action", "client.patch"],
    )
    .await
    .ok()
    .json();
    assert!(
        patches
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "client.patch")
    );
    assert!(!patches.as_array().unwrap().is_empty());
    run(app, &["events", "--since", "yesterday"])
        .await
        .refused("400");
}

async fn every_command_against_a_live_server(app: TestApp) {
    tenants_and_tokens(&app).await;
    let (id, secret) = clients_from_flags_files_and_patches(&app).await;
    secrets_rotate_and_verify(&app, &id, &secret).await;
    credentials_and_events(&app, &id).await;

    assert!(
        run(&app, &["clients", "delete", &id])
            .await
            .ok()
            .stdout
            .is_empty()
    );
    run(&app, &["clients", "get", &id]).await.refused("404");
}

async fn tables_for_people(app: TestApp) {
    fn table<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [args, &["--output", "table"]].concat()
    }
    let created = run(
        &app,
        &table(&["tenants", "create", "acme", "--name", "Acme"]),
    )
    .await
    .ok();
    assert!(
        created
            .stdout
            .lines()
            .any(|l| l.starts_with("id") && l.ends_with("acme")),
        "{}",
        created.stdout
    );
    let client = run(
        &app,
        &table(&[
            "clients",
            "create",
            "--tenant",
            "acme",
            "--name",
            "M2M",
            "--app-type",
            "non_interactive",
        ]),
    )
    .await
    .ok();
    assert!(
        client
            .stdout
            .contains("The client secret is shown only this once; keep it safe:"),
        "{}",
        client.stdout
    );
    let listed = run(&app, &table(&["clients", "list"])).await.ok();
    let mut lines = listed.stdout.lines();
    assert!(lines.next().unwrap().starts_with("ID"), "{}", listed.stdout);
    assert!(lines.next().unwrap().contains("M2M"), "{}", listed.stdout);
    let empty = run(&app, &table(&["tokens", "list"])).await.ok();
    assert_eq!(empty.stdout.trim(), "No tokens.");
    let events = run(&app, &table(&["events", "--tenant", "acme"]))
        .await
        .ok();
    assert!(
        events.stdout.contains("client.create") && events.stdout.contains("bootstrap"),
        "{}",
        events.stdout
    );
    run(&app, &table(&["tenants", "delete", "acme"]))
        .await
        .refused("409");
    let id = run(&app, &["clients", "list", "--field", "id"])
        .await
        .ok()
        .stdout;
    let deleted = run(&app, &table(&["clients", "delete", id.trim()]))
        .await
        .ok();
    assert_eq!(
        deleted.stdout.trim(),
        format!("Deleted client {}.", id.trim())
    );
    let deleted = run(&app, &table(&["tenants", "delete", "acme"])).await.ok();
    assert_eq!(deleted.stdout.trim(), "Deleted tenant acme.");
}

mod stores {
    use super::*;

    on_both_stores! {
        async fn every_command_against_a_live_server(app) {
            super::every_command_against_a_live_server(app).await;
        }

        async fn tables_for_people(app) {
            super::tables_for_people(app).await;
        }
    }
}

#[tokio::test]
async fn usage_mistakes_exit_2_and_an_unreachable_server_3() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    for args in [
        &["clients", "patch", "abc"][..],
        &["clients", "patch", "abc", "--set", "enabled"],
        &["clients", "create", "--tenant", "acme"],
        &[
            "clients",
            "create",
            "--tenant",
            "acme",
            "--file",
            "/nonexistent.json",
        ],
        &["clients", "frobnicate"],
        &["tenants", "list", "--output", "yaml"],
        &["credentials", "expire", "abc", "def"],
    ] {
        let usage = run(&app, args).await;
        assert_eq!(usage.code, 2, "{args:?}: {}", usage.stderr);
        assert!(!usage.stderr.is_empty());
    }
    let mut tokenless = clientd(&app);
    tokenless.env_remove("CLIENTD_TOKEN");
    let usage = run_with(tokenless, &["tenants", "list"], "").await;
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("CLIENTD_TOKEN"), "{}", usage.stderr);
    let empty = run_in(&app, &["secrets", "verify", "abc"], "\n").await;
    assert_eq!(empty.code, 2, "{}", empty.stderr);

    let free = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut nowhere = clientd(&app);
    nowhere.env("CLIENTD_URL", format!("http://{free}"));
    let unreachable = run_with(nowhere, &["tenants", "list"], "").await;
    assert_eq!(unreachable.code, 3, "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("cannot reach"),
        "{}",
        unreachable.stderr
    );
    assert!(!unreachable.stderr.contains(&app.admin_token));
}

#[tokio::test]
async fn completions_and_help_are_written_for_people() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&app, &["completions", shell]).await.ok();
        assert!(script.stdout.contains("rotate-start"), "{shell}");
    }
    // A reader that leaves early ends a read quietly.
    let binary = env!("CARGO_BIN_EXE_clientd");
    let piped = format!("set -o pipefail; '{binary}' completions bash | head -c 10 >/dev/null");
    let closed = run_with(program("bash", &app), &["-c", &piped], "").await;
    assert_eq!(closed.code, 0, "{}", closed.stderr);
    let help = run(&app, &["clients", "patch", "--help"]).await.ok();
    assert!(
        help.stdout.contains("--if-match") && help.stdout.contains("CLIENTD_URL"),
        "{}",
        help.stdout
    );
    assert!(
        !help.stdout.contains("DATABASE_URL"),
        "server settings clutter the client's help"
    );
    let top = run(&app, &["--help"]).await.ok();
    for command in [
        "serve",
        "clients",
        "secrets",
        "credentials",
        "tokens",
        "events",
        "DATABASE_URL",
    ] {
        assert!(
            top.stdout.contains(command),
            "{command} missing from --help"
        );
    }
}

/// The README's CI smoke test, as it is written there, against a live server: no curl, no jq.
#[tokio::test]
async fn the_readme_smoke_test_runs_as_written() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    app.create_tenant("acme-prod").await;
    let readme = repo_file("README.md");
    let after = readme
        .split("A CI smoke test with no curl or jq:")
        .nth(1)
        .unwrap();
    let script = after
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_clientd"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let mut bash = program("bash", &app);
    bash.env("PATH", path);
    let done = run_with(bash, &["-c", script], "").await;
    assert_eq!(
        done.code, 0,
        "{script}\nstdout: {}\nstderr: {}",
        done.stdout, done.stderr
    );
    assert!(
        done.stdout.lines().next() == Some("next"),
        "verify prints which secret: {}",
        done.stdout
    );
    let left = app.admin().get("/tenants/acme-prod/clients").await;
    assert_eq!(
        left.json["items"],
        json!([]),
        "the script deletes what it made"
    );
}

/// A server that answers every request with `status` and `body`, whatever it is asked.
async fn impostor(status: &'static str, content_type: &'static str, body: &'static str) -> String {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = [0u8; 8192];
            let _ = stream.read(&mut head).await;
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn what_is_not_a_clientd_answer_is_never_taken_for_success() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    let html = impostor("200 OK", "text/html", "<html>welcome</html>").await;
    let pages = impostor(
        "200 OK",
        "application/json",
        r#"{"items": [{"id": "a"}], "next_cursor": "same"}"#,
    )
    .await;
    let cases: [(&str, &[&str], &str); 4] = [
        (&html, &["secrets", "verify", "abc"], "not JSON"),
        (&html, &["clients", "delete", "abc"], "not JSON"),
        (&pages, &["secrets", "verify", "abc"], "valid"),
        (
            &pages,
            &["tenants", "list", "--all"],
            "the same page cursor twice",
        ),
    ];
    for (url, args, why) in cases {
        let mut command = clientd(&app);
        command.env("CLIENTD_URL", url);
        let run = run_with(command, args, "a-presented-secret\n").await;
        assert_eq!(run.code, 3, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(why), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("a-presented-secret"));
    }
}

#[tokio::test]
async fn ids_urls_fields_and_keys_that_would_mislead_are_refused_before_sending() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    app.create_tenant("acme").await;
    let private = &fixture_path("rsa2048-a-private.pem");
    let cases: [&[&str]; 6] = [
        &["clients", "get", ".."],
        &["credentials", "get", "abc", "."],
        &["tenants", "get", ""],
        &["credentials", "add", "abc", "--pem", private],
        &["tenants", "get", "acme", "--field", "nope"],
        &[
            "clients",
            "patch",
            "abc",
            "--set",
            "enabled=false",
            "--if-match",
            "a\nb",
        ],
    ];
    for args in cases {
        let run = run(&app, args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    let mut with_password = clientd(&app);
    with_password.env(
        "CLIENTD_URL",
        format!("http://admin:hunter2@{}", app.address),
    );
    let refused = run_with(with_password, &["tenants", "list"], "").await;
    assert_eq!(refused.code, 2);
    assert!(!refused.stderr.contains("hunter2"), "{}", refused.stderr);

    // --field prints what was asked, and says where a secret shown once went.
    let created = run(
        &app,
        &[
            "clients",
            "create",
            "--tenant",
            "acme",
            "--name",
            "m",
            "--app-type",
            "non_interactive",
            "--field",
            "id",
        ],
    )
    .await
    .ok();
    assert_eq!(created.stdout.trim().len(), 32, "{}", created.stdout);
    assert!(
        created.stderr.contains("--field secret prints it"),
        "{}",
        created.stderr
    );
}

/// A token never goes over plain http to another machine unless the caller says so: refused
/// with exit 2 before any connection (one would exit 3), whichever command, flag or variable.
#[tokio::test]
async fn a_token_never_goes_over_plain_http_to_another_machine() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    let refusals: [(&str, &[&str]); 5] = [
        ("http://10.1.2.3:9", &["tenants", "list"]),
        ("http://example.com", &["clients", "get", "abc"]),
        ("http://0.0.0.0:9", &["secrets", "rotate-start", "abc"]),
        ("http://[2001:db8::1]:9", &["events"]),
        (
            "https://127.0.0.1:9",
            &["clients", "--url", "http://192.0.2.1:9", "list"],
        ),
    ];
    for (url, args) in refusals {
        for insecure in [None, Some("false"), Some("0")] {
            let mut command = clientd(&app);
            command.env("CLIENTD_URL", url);
            if let Some(value) = insecure {
                command.env("CLIENTD_INSECURE_HTTP", value);
            }
            let refused = run_with(command, args, "").await;
            assert_eq!(refused.code, 2, "{url} {args:?}: {}", refused.stderr);
            for part in [
                "plain http://",
                "https://",
                "--insecure-http",
                "CLIENTD_INSECURE_HTTP",
            ] {
                assert!(refused.stderr.contains(part), "{part}: {}", refused.stderr);
            }
            assert!(
                !refused.stderr.contains("cannot reach"),
                "{}",
                refused.stderr
            );
            assert!(!refused.stderr.contains(&app.admin_token));
            assert!(refused.stdout.is_empty(), "{}", refused.stdout);
        }
    }
    // A value that is not a boolean is a usage mistake, not a yes.
    let mut unclear = clientd(&app);
    unclear.env("CLIENTD_URL", "http://10.1.2.3:9");
    unclear.env("CLIENTD_INSECURE_HTTP", "maybe");
    let unclear = run_with(unclear, &["tenants", "list"], "").await;
    assert_eq!(unclear.code, 2, "{}", unclear.stderr);
    assert!(
        unclear.stderr.contains("--insecure-http"),
        "{}",
        unclear.stderr
    );
}

/// Loopback needs no flag; `localhost` reaches loopback and no proxy sees a loopback call.
#[tokio::test]
async fn plain_http_to_this_machine_needs_no_flag_and_no_proxy() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    app.create_tenant("acme").await;
    // A proxy that answers what no clientd would: a call through it exits 3.
    let proxy = impostor("200 OK", "text/html", "<html>proxy</html>").await;
    let port = app.address.port();
    for url in [
        format!("http://{}", app.address),
        format!("http://localhost:{port}"),
        format!("http://api.localhost:{port}/"),
    ] {
        let mut command = clientd(&app);
        command.env("CLIENTD_URL", &url);
        command.env("HTTP_PROXY", &proxy).env("http_proxy", &proxy);
        let listed = run_with(command, &["tenants", "list"], "").await.ok();
        assert_eq!(listed.json()[0]["id"], "acme", "{url}");
    }
}

/// --insecure-http and CLIENTD_INSECURE_HTTP=true let the token go to a host that is not
/// loopback. 0.0.0.0 is such a host, yet Linux delivers a connection to it to 127.0.0.1, where
/// the test server listens: the flag is proven without a packet leaving this machine.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn insecure_http_is_the_callers_choice() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    app.create_tenant("acme").await;
    let anywhere = format!("http://0.0.0.0:{}", app.address.port());
    for (flag, value) in [(Some("--insecure-http"), None), (None, Some("true"))] {
        let mut command = clientd(&app);
        command.env("CLIENTD_URL", &anywhere);
        if let Some(value) = value {
            command.env("CLIENTD_INSECURE_HTTP", value);
        }
        let args: Vec<&str> = ["tenants", "get", "acme"].into_iter().chain(flag).collect();
        let got = run_with(command, &args, "").await.ok();
        assert_eq!(got.json()["id"], "acme", "{flag:?} {value:?}");
    }
}
