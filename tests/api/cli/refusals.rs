//! What the command refuses: usage mistakes (exit 2), what is refused before anything is
//! sent, a server it cannot reach or an answer no clientd would give (exit 3), and a token
//! that would go over plain http to another machine.

use tokio::io::AsyncWriteExt;

use super::{clientd, run, run_in, run_with};
use crate::helpers::{TestApp, fixture_path};

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
