//! `clientd oauth token` and `clientd signing-keys`: a token by secret (piped in or from a
//! file, sent by Basic or in the body) or by a key (private_key_jwt, signed by the command),
//! each one the server then says is active; refusals as OAuth words them; a tenant's signing
//! keys listed and rotated, planned or at once.

use serde_json::{Value, json};

use super::{Run, clientd, run, run_with, text};
use crate::helpers::{TestApp, fixture, fixture_path};

/// Creates `tenant` and a non_interactive client in it; returns the client's id and secret.
async fn machine(app: &TestApp, tenant: &str) -> (String, String) {
    app.create_tenant(tenant).await;
    let created = app
        .create_client(
            tenant,
            json!({
                "name": "Billing job", "app_type": "non_interactive",
                "scope": ["invoices:read", "invoices:write"],
            }),
        )
        .await;
    (
        text(&created["id"]).to_owned(),
        text(&created["secret"]).to_owned(),
    )
}

/// `clientd oauth token ARGS` with no admin token anywhere in its environment.
async fn oauth_token(app: &TestApp, args: &[&str], stdin: &str) -> Run {
    let mut command = clientd(app);
    command.env_remove("CLIENTD_TOKEN");
    run_with(command, &[&["oauth", "token"], args].concat(), stdin).await
}

/// The access token a run printed: one line, a JWT, and not a word besides.
#[track_caller]
fn printed_token(run: Run) -> String {
    let run = run.ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert_eq!(lines[0].split('.').count(), 3, "not a JWT: {}", lines[0]);
    lines[0].to_owned()
}

/// What the tenant's introspection endpoint says of `token`, asked with the admin token.
async fn introspected(app: &TestApp, tenant: &str, token: &str) -> Value {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    let path = format!("/tenants/{tenant}/oauth2/introspect");
    let request = (app.admin().raw(reqwest::Method::POST, &path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    let answer = app.admin().send_raw(request).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json
}

async fn set_auth_method(app: &TestApp, client: &str, method: &str) {
    let patched = app
        .patch(
            &format!("/clients/{client}"),
            "application/json-patch+json",
            None,
            json!([{"op": "replace", "path": "/clientAuthMethod", "value": method}]),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
}

/// The kid of the one key in `state` of a printed list.
#[track_caller]
fn kid_in(state: &str, keys: &Value) -> String {
    let in_state: Vec<&Value> = (keys.as_array().unwrap().iter())
        .filter(|key| key["state"] == state)
        .collect();
    assert_eq!(in_state.len(), 1, "one {state} key in {keys}");
    text(&in_state[0]["kid"]).to_owned()
}

on_both_stores! {
    async fn a_secret_piped_in_or_in_a_file_gets_a_token_that_is_active(app) {
        let (id, secret) = machine(&app, "acme").await;
        let by_stdin = ["--tenant", "acme", "--client-id", &id];
        let token = printed_token(oauth_token(&app, &by_stdin, &format!("{secret}\n")).await);
        let active = introspected(&app, "acme", &token).await;
        assert_eq!(active["active"], true, "{active}");
        assert_eq!(active["client_id"], id.as_str());
        assert_eq!(active["scope"], "invoices:read invoices:write");

        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), format!("{secret}\n")).unwrap();
        let path = file.path().to_str().unwrap();
        let by_file = [&by_stdin[..], &["--client-secret-file", path, "--scope", "invoices:read"]].concat();
        let token = printed_token(oauth_token(&app, &by_file, "").await);
        let active = introspected(&app, "acme", &token).await;
        assert_eq!((&active["active"], &active["scope"]), (&json!(true), &json!("invoices:read")));

        // --output json prints the whole answer instead.
        let whole = oauth_token(&app, &[&by_file[..], &["--output", "json"]].concat(), "").await.ok().json();
        assert_eq!(whole["token_type"], "Bearer", "{whole}");
        assert_eq!(whole["scope"], "invoices:read");
        assert!(whole["expires_in"].as_i64().unwrap() > 0, "{whole}");
        assert_eq!(introspected(&app, "acme", text(&whole["access_token"])).await["active"], true);
    }

    async fn a_secret_goes_in_the_body_with_client_auth_post(app) {
        let (id, secret) = machine(&app, "acme").await;
        set_auth_method(&app, &id, "client_secret_post").await;
        let args = ["--tenant", "acme", "--client-id", &id];
        let token = printed_token(oauth_token(&app, &[&args[..], &["--client-auth", "post"]].concat(), &secret).await);
        assert_eq!(introspected(&app, "acme", &token).await["active"], true);
        // A client that authenticates by post may not use Basic, the default.
        let refused = oauth_token(&app, &args, &secret).await.refused("error: invalid_client: ");
        assert!(refused.stderr.contains("client_secret_post"), "{}", refused.stderr);
    }

    async fn a_wrong_secret_or_tenant_exits_1_and_says_why(app) {
        let (id, _) = machine(&app, "acme").await;
        let wrong = "not-the-secret-of-this-client";
        let args = ["--tenant", "acme", "--client-id", &id];
        let refused = oauth_token(&app, &args, wrong).await.refused("error: invalid_client: ");
        assert!(!refused.stderr.contains(wrong), "{}", refused.stderr);
        assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
        // An unknown tenant is a problem, told as problems are.
        let args = ["--tenant", "nope", "--client-id", &id];
        oauth_token(&app, &args, wrong).await.refused("404");
    }

    async fn signing_keys_are_listed_and_rotated_planned_or_at_once(app) {
        let (id, secret) = machine(&app, "acme").await;
        let args = ["--tenant", "acme", "--client-id", &id];
        printed_token(oauth_token(&app, &args, &secret).await);
        let listed = run(&app, &["signing-keys", "list", "--tenant", "acme"]).await.ok().json();
        assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
        let (current, next) = (kid_in("current", &listed), kid_in("next", &listed));
        assert!(listed.as_array().unwrap().iter().all(|key| key["public_jwk"]["d"].is_null()));

        let rotated = run(&app, &["signing-keys", "rotate", "--tenant", "acme"]).await.ok().json();
        assert_eq!(kid_in("current", &rotated), next, "{rotated}");
        assert_eq!(kid_in("previous", &rotated), current, "{rotated}");
        let newest = kid_in("next", &rotated);
        assert!(![&current, &next].contains(&&newest), "{rotated}");

        // At once: the current key retires, and the tokens it signed with it.
        let signed_by_next = printed_token(oauth_token(&app, &args, &secret).await);
        let retired = run(&app, &["signing-keys", "rotate", "--tenant", "acme", "--immediate"]).await.ok().json();
        assert_eq!(kid_in("retired", &retired), next, "{retired}");
        assert_eq!(kid_in("current", &retired), newest, "{retired}");
        assert_eq!(introspected(&app, "acme", &signed_by_next).await, json!({"active": false}));

        let table = run(&app, &["signing-keys", "list", "--tenant", "acme", "--output", "table"]).await.ok();
        let mut lines = table.stdout.lines();
        let header = lines.next().unwrap();
        for column in ["KID", "ALG", "STATE", "ACTIVATED", "PUBLISHED UNTIL"] {
            assert!(header.contains(column), "{column}: {}", table.stdout);
        }
        assert!(lines.any(|line| line.starts_with(&next) && line.contains("retired")), "{}", table.stdout);
        run(&app, &["signing-keys", "list", "--tenant", "nope"]).await.refused("404");
    }
}

/// private_key_jwt, on a server whose public URL (and so its issuers) is not the --url the
/// command calls: the assertion's audience comes from the tenant's metadata.
mod private_key_jwt {
    use super::*;

    on_both_stores! {
        with |s: &mut clientd::config::Settings| s.public_url = Some("https://auth.acme.example".to_owned());

        async fn a_key_signs_an_assertion_that_gets_a_token_that_is_active(app) {
            let (id, secret) = machine(&app, "acme").await;
            let path = format!("/clients/{id}/credentials");
            let credential = app.admin().post(&path, json!({
                "credential_type": "public_key", "pem": fixture("rsa2048-a-public.pem"),
            })).await;
            assert_eq!(credential.status, 201, "{}", credential.text);
            let kid = text(&credential.json["kid"]).to_owned();
            set_auth_method(&app, &id, "private_key_jwt").await;

            let key = fixture_path("rsa2048-a-private.pem");
            let args = ["--tenant", "acme", "--client-id", &id, "--private-key-file", &key];
            let token = printed_token(oauth_token(&app, &[&args[..], &["--kid", &kid]].concat(), "").await);
            let active = introspected(&app, "acme", &token).await;
            assert_eq!(active["active"], true, "{active}");
            assert_eq!(active["iss"], "https://auth.acme.example/tenants/acme");

            // The same key as PKCS#1, and no kid: the server tries each of the client's keys.
            let pkcs1 = fixture_path("rsa2048-a-private-pkcs1.pem");
            let by_pkcs1 = ["--tenant", "acme", "--client-id", &id, "--private-key-file", &pkcs1];
            let token = printed_token(oauth_token(&app, &by_pkcs1, "").await);
            assert_eq!(introspected(&app, "acme", &token).await["active"], true);

            // A signature of another algorithm than the credential's is refused; so is the
            // secret, now that the client authenticates with its key.
            let refused = oauth_token(&app, &[&args[..], &["--alg", "PS256"]].concat(), "").await;
            refused.refused("error: invalid_client: ");
            let by_secret = ["--tenant", "acme", "--client-id", &id];
            oauth_token(&app, &by_secret, &secret).await.refused("error: invalid_client: ");
        }
    }
}

/// What is wrong before anything is sent is a usage mistake (exit 2); nothing listening is
/// exit 3; and a client's secret, like an admin token, never goes over plain http to another
/// machine.
#[tokio::test]
async fn usage_mistakes_exit_2_and_an_unreachable_server_3() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    let public = fixture_path("rsa2048-a-public.pem");
    let private = fixture_path("rsa2048-a-private.pem");
    let client = ["--tenant", "acme", "--client-id", "c1"];
    let cases: [(&[&str], &str, &str); 7] = [
        (&["--kid", "k1"], "s", "--private-key-file"),
        (&["--alg", "PS256"], "s", "--private-key-file"),
        (
            &["--private-key-file", &private, "--client-auth", "post"],
            "",
            "cannot be used",
        ),
        (&["--private-key-file", &public], "", "not a PRIVATE KEY"),
        (
            &["--client-secret-file", "/nonexistent"],
            "",
            "/nonexistent",
        ),
        (&[], "\n", "holds no secret"),
        (
            &["--alg", "HS256", "--private-key-file", &private],
            "",
            "HS256",
        ),
    ];
    for (args, stdin, why) in cases {
        let usage = oauth_token(&app, &[&client[..], args].concat(), stdin).await;
        assert_eq!(usage.code, 2, "{args:?}: {}", usage.stderr);
        assert!(usage.stderr.contains(why), "{args:?}: {}", usage.stderr);
        assert!(usage.stdout.is_empty(), "{args:?}: {}", usage.stdout);
    }

    let free = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut nowhere = clientd(&app);
    nowhere.env("CLIENTD_URL", format!("http://{free}"));
    let args = [&["oauth", "token"][..], &client].concat();
    let unreachable = run_with(nowhere, &args, "a-client-secret\n").await;
    assert_eq!(unreachable.code, 3, "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("cannot reach"),
        "{}",
        unreachable.stderr
    );
    assert!(
        !unreachable.stderr.contains("check before retrying"),
        "{}",
        unreachable.stderr
    );

    for (url, insecure) in [
        ("http://10.1.2.3:9", None),
        ("http://example.com", Some("false")),
    ] {
        let mut command = clientd(&app);
        command.env("CLIENTD_URL", url);
        if let Some(value) = insecure {
            command.env("CLIENTD_INSECURE_HTTP", value);
        }
        let refused = run_with(command, &args, "a-client-secret\n").await;
        assert_eq!(refused.code, 2, "{url}: {}", refused.stderr);
        for part in [
            "the client's credentials",
            "plain http://",
            "--insecure-http",
        ] {
            assert!(refused.stderr.contains(part), "{part}: {}", refused.stderr);
        }
        assert!(
            !refused.stderr.contains("a-client-secret"),
            "{}",
            refused.stderr
        );
    }
}
