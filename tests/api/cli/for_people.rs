//! What people read: tables, completions, help, and the README's smoke test as written.

use serde_json::json;

use super::{program, run, run_with};
use crate::helpers::{TestApp, repo_file};

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

on_both_stores! {
    async fn tables_for_people(app) {
        super::tables_for_people(app).await;
    }
}

#[tokio::test]
async fn completions_and_help_are_written_for_people() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&app, &["completions", shell]).await.ok();
        for word in ["rotate-start", "signing-keys", "oauth", "private-key-file"] {
            assert!(script.stdout.contains(word), "{word} missing for {shell}");
        }
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
        "signing-keys",
        "oauth",
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
