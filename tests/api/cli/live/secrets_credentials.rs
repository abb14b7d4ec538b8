//! The story's later steps on one client: its secret rotated and verified, its credentials
//! added, moved and deleted, and the trail of events all of it left.

use serde_json::{Value, json};

use crate::cli::{run, run_in, text};
use crate::helpers::{TestApp, fixture, fixture_path};

pub(super) async fn secrets_rotate_and_verify(app: &TestApp, id: &str, first: &str) {
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
    secret_policy(app, id).await;
}

/// `secrets policy`: durations in, seconds on the document; `none` clears one member.
async fn secret_policy(app: &TestApp, id: &str) {
    let set = run(
        app,
        &[
            "secrets",
            "policy",
            id,
            "--max-age",
            "90d",
            "--auto-complete-after",
            "1h",
        ],
    )
    .await
    .ok();
    assert_eq!(
        set.json()["secretPolicy"],
        json!({"maxAgeSeconds": 7_776_000, "autoCompleteAfterUnusedSeconds": 3600, "rotationMaxSeconds": null})
    );
    let cleared = run(
        app,
        &[
            "secrets",
            "policy",
            id,
            "--max-age",
            "none",
            "--rotation-max",
            "45s",
        ],
    )
    .await
    .ok();
    assert_eq!(
        cleared.json()["secretPolicy"],
        json!({"maxAgeSeconds": null, "autoCompleteAfterUnusedSeconds": 3600, "rotationMaxSeconds": 45})
    );
    for bad in [&["--max-age", "soon"][..], &["--rotation-max", "0s"], &[]] {
        let refused = run(app, &[&["secrets", "policy", id][..], bad].concat()).await;
        assert_eq!(refused.code, 2, "{bad:?}: {}", refused.stderr);
    }
}

pub(super) async fn credentials_and_events(app: &TestApp, id: &str) {
    let credential = credentials_added(app, id).await;
    a_credentials_expiry_moved(app, id, &credential).await;
    run(app, &["credentials", "delete", id, &credential])
        .await
        .ok();
    run(app, &["credentials", "get", id, &credential])
        .await
        .refused("404");
    events_of_all_of_it(app, id).await;
}

/// A public key from a file and a certificate from standard input; returns the key's id.
async fn credentials_added(app: &TestApp, id: &str) -> String {
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
    credential
}

/// An expiry set, found by --expires-before, lifted with --never; one in the past refused.
async fn a_credentials_expiry_moved(app: &TestApp, id: &str, credential: &str) {
    let moved = run(
        app,
        &[
            "credentials",
            "expire",
            id,
            credential,
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
            .any(|c| c["id"] == credential),
        "{soon}"
    );
    assert_eq!(
        run(app, &["credentials", "expire", id, credential, "--never"])
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
            credential,
            "--at",
            "2020-01-01T00:00:00Z",
        ],
    )
    .await;
    past.refused("/expires_at: must be in the future");
}

/// The client's history holds every kind of change the story made, filtered as asked.
async fn events_of_all_of_it(app: &TestApp, id: &str) {
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
