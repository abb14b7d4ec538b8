//! The story's clients: made from flags and from a file, patched from flags and from a file,
//! previewed, and found again.

use serde_json::json;

use crate::cli::{run, run_in, text};
use crate::helpers::TestApp;

/// Returns the id and the secret of `acme`'s first client, which the later steps use.
pub(super) async fn clients_from_flags_files_and_patches(app: &TestApp) -> (String, String) {
    let (id, secret) = created_from_flags(app).await;
    a_dry_run_from_a_file_stores_nothing(app).await;
    patched_by_flags_only_while_current(app, &id).await;
    patched_from_a_file_previewed_and_checked(app, &id).await;
    found_by_filter_sort_and_count(app).await;
    (id, secret)
}

/// A web client from flags alone, its secret shown once; returns its id and secret.
async fn created_from_flags(app: &TestApp) -> (String, String) {
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
    (id, secret)
}

/// A create read from standard input with --dry-run answers, yet stores nothing.
async fn a_dry_run_from_a_file_stores_nothing(app: &TestApp) {
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
}

/// --set, --add and --remove in one patch under --if-match, then the same ETag refused.
async fn patched_by_flags_only_while_current(app: &TestApp, id: &str) {
    let etag = run(app, &["clients", "get", id, "--field", "etag"])
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
            id,
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
            id,
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
}

/// A patch from standard input, a --dry-run preview that changes nothing, and a broken rule.
async fn patched_from_a_file_previewed_and_checked(app: &TestApp, id: &str) {
    let patch = r#"[{"op": "replace", "path": "/name", "value": "Portal"}]"#;
    let from_stdin = run_in(app, &["clients", "patch", id, "--file", "-"], patch)
        .await
        .ok();
    assert_eq!(from_stdin.json()["name"], "Portal");
    let preview = run(
        app,
        &[
            "clients",
            "patch",
            id,
            "--set",
            "enabled=false",
            "--dry-run",
        ],
    )
    .await
    .ok();
    assert_eq!(preview.json()["enabled"], false);
    assert_eq!(
        run(app, &["clients", "get", id]).await.ok().json()["enabled"],
        true
    );
    let invalid = run(
        app,
        &[
            "clients",
            "patch",
            id,
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
}

/// Two more clients, found by a filter, sorted and counted, then every page of the tenant.
async fn found_by_filter_sort_and_count(app: &TestApp) {
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
}
