//! Brute force, leaks through headers and metrics, and connections that never finish.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

/// A confidential client in tenant `acme`: its path and secret.
async fn confidential(app: &TestApp, name: &str) -> (String, String) {
    let created = app
        .create_client("acme", json!({"name": name, "app_type": "non_interactive"}))
        .await;
    (
        format!("/clients/{}", created["id"].as_str().unwrap()),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

fn metric(text: &str, name: &str, kind: &str) -> Option<u64> {
    let line = (text.lines())
        .find(|line| line.starts_with(name) && line.contains(&format!("kind=\"{kind}\"")))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// Low limits, and the test client (127.0.0.1) trusted as a proxy.
mod limited {
    use super::*;

    on_both_stores! {
        with |settings: &mut clientd::config::Settings| {
            settings.auth_failures_per_minute = 3;
            settings.verify_failures_per_minute = 2;
            settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        };

        async fn failed_authentication_is_limited_per_source_address(app) {
            let from = |address: &str| {
                let request = app.anonymous().raw(Method::GET, "/tenants").header("x-forwarded-for", address);
                (request, address.to_owned())
            };
            for _ in 0..3 {
                let (request, _) = from("203.0.113.9");
                let bad = app.with_token("cdt_0192e4a0000070008000000000000000_guess").send_raw(request).await;
                bad.assert_problem(401, "unauthorized");
            }
            let (request, _) = from("203.0.113.9");
            let limited = app.with_token("not-a-token").send_raw(request).await;
            limited.assert_problem(429, "too-many-requests");
            let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
            // A valid token from the same address is always served: only the guesses are refused...
            let (request, _) = from("203.0.113.9");
            assert_eq!(app.admin().send_raw(request).await.status, 200);
            let (request, _) = from("203.0.113.9");
            let unknown = app.with_token("cdt_0192e4a0000070008000000000000001_guess").send_raw(request).await;
            unknown.assert_problem(429, "too-many-requests");
            // ...and other addresses' are not.
            let (request, _) = from("198.51.100.4");
            app.with_token("wrong").send_raw(request).await.assert_problem(401, "unauthorized");
            assert_eq!(app.admin().get("/tenants").await.status, 200);
            let metrics = app.anonymous().get("/metrics").await.text;
            assert_eq!(metric(&metrics, "clientd_failures_total", "authentication"), Some(5), "{metrics}");
            assert_eq!(metric(&metrics, "clientd_rate_limited_total", "authentication"), Some(2), "{metrics}");
        }

        async fn a_valid_token_is_served_behind_a_flood_of_bad_ones(app) {
            // One address (a NAT, a CI runner) where one caller keeps guessing.
            for i in 0..20 {
                let token = format!("cdt_0192e4a00000700080000000000000{i:02}_guess");
                let status = app.with_token(&token).get("/tenants").await.status;
                assert!(status == 401 || status == 429, "{status}");
            }
            app.with_token("wrong").get("/tenants").await.assert_problem(429, "too-many-requests");
            // Every caller with a valid token behind the same address goes on working.
            assert_eq!(app.admin().get("/tenants").await.status, 200);
            let created = app.admin().post("/tokens", json!({"name": "gateway", "permissions": ["client.read.all"]})).await;
            assert_eq!(created.status, 201, "{}", created.text);
            let gateway = app.with_token(created.json["token"].as_str().unwrap());
            assert_eq!(gateway.get("/clients").await.status, 200);
        }

        async fn failed_verification_is_limited_per_caller(app) {
            app.create_tenant("acme").await;
            let (job, secret) = confidential(&app, "Job").await;
            let (other, other_secret) = confidential(&app, "Other").await;
            let gateway = app.admin().post("/tokens", json!({"name": "gateway", "permissions": ["client.read.all"]})).await;
            let gateway = app.with_token(gateway.json["token"].as_str().unwrap());
            async fn verify(caller: &crate::helpers::Client<'_>, path: &str, secret: &str, from: &str) -> crate::helpers::TestResponse {
                let request = caller.raw(Method::POST, &format!("{path}/secrets/verify"))
                    .header("x-forwarded-for", from)
                    .header("content-type", "application/json")
                    .body(json!({"client_secret": secret}).to_string());
                caller.send_raw(request).await
            }
            let guesser = app.admin();
            for _ in 0..2 {
                let refused = verify(&guesser, &job, "wrong", "203.0.113.9").await;
                refused.assert_problem(401, "invalid-client-secret");
                assert!(refused.header("www-authenticate").is_none(), "a secret refusal is no admin challenge");
            }
            verify(&guesser, &job, "wrong", "203.0.113.9").await.assert_problem(429, "too-many-requests");
            // Past its limit the guesser learns nothing, even from the right secret.
            let right = verify(&guesser, &job, &secret, "203.0.113.9").await;
            right.assert_problem(429, "too-many-requests");
            assert!(right.header("retry-after").is_some());
            // Other clients, other tokens at the same address, the same token elsewhere: served.
            assert_eq!(verify(&guesser, &other, &other_secret, "203.0.113.9").await.json["valid"], true);
            assert_eq!(verify(&gateway, &job, &secret, "203.0.113.9").await.json["valid"], true);
            assert_eq!(verify(&gateway, &job, &secret, "198.51.100.4").await.json["valid"], true);
            assert_eq!(verify(&guesser, &job, &secret, "198.51.100.4").await.json["valid"], true);
            let metrics = app.anonymous().get("/metrics").await.text;
            assert_eq!(metric(&metrics, "clientd_failures_total", "verification"), Some(3), "{metrics}");
        }
    }
}

/// A short request timeout, so a lookup that the database cannot answer ends quickly.
mod remembered {
    on_both_stores! {
        with |settings: &mut clientd::config::Settings| settings.request_timeout_secs = 2;

        /// An unknown token is answered from memory once the store has said it does not
        /// know it: with the tokens' table out of reach, the remembered one is still a
        /// prompt 401, while a token never seen needs the database and cannot be answered.
        async fn an_unknown_token_is_answered_from_memory(app) {
            use sqlx::Connection;
            let unknown = "cdt_0192e4a0000070008000000000000abc_guess";
            app.with_token(unknown).get("/tenants").await.assert_problem(401, "unauthorized");
            app.until_memory_is_trusted().await;
            app.with_token(unknown).get("/tenants").await.assert_problem(401, "unauthorized");
            let _away: Box<dyn std::any::Any + Send> = if app.database.url.starts_with("sqlite:") {
                let mut db = sqlx::SqliteConnection::connect(&app.database.url).await.unwrap();
                sqlx::raw_sql("ALTER TABLE api_tokens RENAME TO api_tokens_away").execute(&mut db).await.unwrap();
                Box::new(db)
            } else {
                let mut db = sqlx::PgConnection::connect(&app.database.url).await.unwrap();
                sqlx::raw_sql("BEGIN; LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE").execute(&mut db).await.unwrap();
                Box::new(db)
            };
            app.with_token(unknown).get("/tenants").await.assert_problem(401, "unauthorized");
            let never_seen = app.with_token("cdt_0192e4a0000070008000000000000def_guess").get("/tenants").await;
            assert!(never_seen.status >= 500, "{}: {}", never_seen.status, never_seen.text);
            assert_eq!(app.admin().get("/tenants").await.status, 200);
        }
    }
}

on_both_stores! {
    async fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(app) {
        // No proxy is trusted: every request comes from 127.0.0.1, whatever it claims.
        for i in 0..30 {
            let request = app.anonymous().raw(Method::GET, "/tenants").header("x-forwarded-for", format!("198.51.100.{i}"));
            app.with_token("wrong").send_raw(request).await.assert_problem(401, "unauthorized");
        }
        app.with_token("wrong").get("/tenants").await.assert_problem(429, "too-many-requests");
        assert_eq!(app.admin().get("/tenants").await.status, 200);
    }

    async fn answers_with_secrets_are_never_cached_and_none_is_sniffed(app) {
        app.create_tenant("acme").await;
        let created = app.admin().post("/tenants/acme/clients", json!({"name": "Job", "app_type": "non_interactive"})).await;
        assert_eq!(created.header("cache-control"), Some("no-store"));
        let token = app.admin().post("/tokens", json!({"name": "ci", "permissions": ["admin"]})).await;
        assert_eq!(token.header("cache-control"), Some("no-store"));
        let client = format!("/clients/{}", created.json["id"].as_str().unwrap());
        let started = app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await;
        assert_eq!(started.status, 200, "{}", started.text);
        assert_eq!(started.header("cache-control"), Some("no-store"));
        for response in [
            created,
            token,
            started,
            app.admin().get(&client).await,
            app.admin().get("/nowhere").await,
            app.anonymous().get("/tenants").await,
            app.anonymous().get("/healthz").await,
        ] {
            assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{}", response.text);
        }
    }

    async fn a_rotation_by_basic_must_say_it_is_json(app) {
        app.create_tenant("acme").await;
        let (client, _) = confidential(&app, "Job").await;
        let start = format!("{client}/secrets/rotate/start");
        let basic = app.with_authorization(&format!("Basic {}", base64_of(&format!("x:{}", app.admin_token))));
        // What a page on another site can make a browser send: no body, a form, or text.
        basic.send_raw(basic.raw(Method::POST, &start)).await.assert_problem(415, "unsupported-media-type");
        for content_type in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"] {
            let request = basic.raw(Method::POST, &start).header("content-type", content_type).body("a=b");
            basic.send_raw(request).await.assert_problem(415, "unsupported-media-type");
            let bearer = app.admin().raw(Method::POST, &start).header("content-type", content_type).body("a=b");
            app.admin().send_raw(bearer).await.assert_problem(415, "unsupported-media-type");
        }
        for body in ["[]", "\u{1b}x", "null"] {
            let request = app.admin().raw(Method::POST, &start).header("content-type", "application/json").body(body);
            app.admin().send_raw(request).await.assert_problem(400, "bad-request");
        }
        let json = basic.raw(Method::POST, &start).header("content-type", "application/json");
        assert_eq!(basic.send_raw(json).await.status, 200);
        // A Bearer token is never replayed by a browser: no content type is needed.
        let cancel = app.admin().raw(Method::POST, &format!("{client}/secrets/rotate/cancel"));
        assert_eq!(app.admin().send_raw(cancel).await.status, 200);
    }

    /// A caller without permission and a dry run are answered without waiting for a writer
    /// that holds the lock (SQLite's database-wide write lock, the client's row on Postgres):
    /// they neither queue behind real writers nor block them.
    async fn refusals_and_dry_runs_never_wait_for_a_writer(app) {
        use sqlx::Connection;
        app.create_tenant("acme").await;
        let (client, _) = confidential(&app, "Job").await;
        let reader = app.create_token(&["client.read"], &["acme"]).await;
        let reader = app.with_token(&reader);
        // A writer holds the lock and keeps it until this test lets go.
        let held: Box<dyn std::any::Any + Send> = if app.database.url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&app.database.url).await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut db).await.unwrap();
            Box::new(db)
        } else {
            let mut db = sqlx::PgConnection::connect(&app.database.url).await.unwrap();
            sqlx::raw_sql("BEGIN").execute(&mut db).await.unwrap();
            let id = client.trim_start_matches("/clients/").to_owned();
            sqlx::query("SELECT id FROM clients WHERE id = $1 FOR UPDATE").bind(id).execute(&mut db).await.unwrap();
            Box::new(db)
        };
        let rename = json!([{"op": "replace", "path": "/name", "value": "Renamed"}]);
        reader.patch(&client, rename.clone()).await.assert_problem(403, "forbidden");
        reader.post(&format!("{client}/secrets/rotate/start"), json!({})).await.assert_problem(403, "forbidden");
        let key = json!({"credential_type": "public_key", "pem": crate::helpers::fixture("rsa2048-b-public.pem")});
        reader.post(&format!("{client}/credentials"), key.clone()).await.assert_problem(403, "forbidden");
        let dry = app.admin().patch(&format!("{client}?dry_run=true"), rename).await;
        assert_eq!(dry.status, 200, "{}", dry.text);
        assert_eq!(dry.json["name"], "Renamed");
        let dry = app.admin().post(&format!("{client}/credentials?dry_run=true"), key).await;
        assert_eq!(dry.status, 201, "{}", dry.text);
        let dry = app.admin().post("/tenants/acme/clients?dry_run=true", json!({"name": "Dry", "app_type": "spa"})).await;
        assert_eq!(dry.status, 201, "{}", dry.text);
        drop(held);
        assert_eq!(app.admin().get(&client).await.json["name"], "Job");
    }

    async fn made_up_methods_share_one_metric_label(app) {
        for method in ["FROB", "XYZZY", "PLUGH"] {
            let request = app.anonymous().raw(Method::from_bytes(method.as_bytes()).unwrap(), "/healthz");
            app.anonymous().send_raw(request).await;
        }
        let metrics = app.anonymous().get("/metrics").await.text;
        assert!(metrics.contains(r#"method="other""#), "{metrics}");
        for method in ["FROB", "XYZZY", "PLUGH"] {
            assert!(!metrics.contains(method), "{metrics}");
        }
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Reads until the server closes the connection; what it sent before closing.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let read = stream.read_to_end(&mut seen);
    match tokio::time::timeout(Duration::from_secs(15), read).await {
        Ok(_) => String::from_utf8_lossy(&seen).into_owned(),
        Err(_) => panic!("the connection was still open after 15 s"),
    }
}

/// A server with one-second connection timeouts and room for three connections, on its own
/// (the test client's pooled connections would take up slots).
async fn slow_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut settings = clientd::config::Settings::for_database("sqlite::memory:");
    settings.header_read_timeout_secs = 1;
    settings.keep_alive_timeout_secs = 1;
    settings.max_connections = 3;
    tokio::spawn(clientd::serve(settings, listener, std::future::pending()));
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_and_idle_connections_are_closed() {
    let address = slow_server().await;
    let mut half = TcpStream::connect(address).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(until_closed(&mut half).await, "");
    let answered = until_closed(&mut idle).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let address = slow_server().await;
    let mut stalled = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /heal").await.unwrap();
        stalled.push(stream);
    }
    // The fourth waits in the listen queue until the watchdog closes a stalled one.
    let mut fourth = TcpStream::connect(address).await.unwrap();
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answered = until_closed(&mut fourth).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let mut closed = 0;
    for stream in &stalled {
        let mut byte = [0u8; 1];
        if matches!(stream.try_read(&mut byte), Ok(0)) {
            closed += 1;
        }
    }
    assert!(
        closed >= 1,
        "answered while all three stalled connections were open"
    );
}
