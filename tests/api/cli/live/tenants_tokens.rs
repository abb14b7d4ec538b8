//! The story's first steps: tenants, then a token scoped to one of them, used and revoked.

use serde_json::json;

use crate::cli::{clientd, run, run_with, text};
use crate::helpers::TestApp;

pub(super) async fn tenants_and_tokens(app: &TestApp) {
    tenants(app).await;
    let (id, token) = a_token_issued(app).await;
    the_token_is_walled_then_revoked(app, &id, &token).await;

    run(app, &["tenants", "delete", "beta"]).await.ok();
    run(app, &["tenants", "get", "beta"]).await.refused("404");
}

/// Two tenants, `acme` and `beta`, read back one by one, in pages and all at once.
async fn tenants(app: &TestApp) {
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
}

/// A token that writes clients of `acme` only; returns its id and its text.
async fn a_token_issued(app: &TestApp) -> (String, String) {
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
    (id, token)
}

/// The token read from a file, scoped to its tenant: a wall, then revoked.
async fn the_token_is_walled_then_revoked(app: &TestApp, id: &str, token: &str) {
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
    scoped.env("CLIENTD_TOKEN", token);
    // Another tenant's clients are not even there for it.
    run_with(scoped, &["clients", "list", "--tenant", "beta"], "")
        .await
        .refused("404");
    assert!(
        run(app, &["tokens", "revoke", id])
            .await
            .ok()
            .stdout
            .is_empty()
    );
    let mut revoked = clientd(app);
    revoked.env("CLIENTD_TOKEN", token);
    let refused = run_with(revoked, &["tenants", "list"], "")
        .await
        .refused("401");
    assert!(
        !refused.stderr.contains(token),
        "the token was echoed: {}",
        refused.stderr
    );
}
