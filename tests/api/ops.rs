//! Health, readiness, metrics and the served spec.

use serde_json::json;

on_both_stores! {
    async fn health_and_readiness_answer_ok(app) {
        let health = app.anonymous().get("/healthz").await;
        assert_eq!((health.status, health.json["status"].as_str()), (200, Some("ok")));
        let ready = app.anonymous().get("/readyz").await;
        assert_eq!((ready.status, ready.json["status"].as_str()), (200, Some("ready")));
    }

    async fn metrics_count_requests_by_route_template(app) {
        app.admin().get("/tenants/some-id").await;
        app.admin().get("/tenants/other-id").await;
        let metrics = app.anonymous().get("/metrics").await;
        assert_eq!(metrics.status, 200);
        assert!(metrics.header("content-type").unwrap().starts_with("text/plain"));
        let text = &metrics.text;
        let line = (text.lines())
            .find(|l| l.starts_with("clientd_http_requests_total") && l.contains(r#"route="/tenants/{tenant_id}""#))
            .unwrap_or_else(|| panic!("no request counter in:\n{text}"));
        assert!(line.contains(r#"status="404""#) && line.ends_with(" 2"), "{line}");
        assert!(!text.contains("some-id"));
        assert!(text.contains("clientd_http_request_duration_seconds_bucket"));
        assert!(text.contains("clientd_db_pool_connections"));
        assert!(text.contains("clientd_db_pool_idle_connections"));
        for gauge in [r#"clientd_cache_entries{kind="client"}"#, r#"clientd_cache_entries{kind="token"}"#,
                      "clientd_cache_client_bytes "] {
            assert!(text.contains(gauge), "no {gauge} in:\n{text}");
        }
    }

    async fn metrics_show_what_memory_holds_and_whether_it_is_trusted(app) {
        app.create_tenant("acme").await;
        let created = app.create_client("acme", json!({"name": "a", "app_type": "spa"})).await;
        app.until_memory_is_trusted().await;
        assert_eq!(app.admin().get(&format!("/clients/{}", created["id"].as_str().unwrap())).await.status, 200);
        let gauge = |text: &str, name: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in:\n{text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let text = app.anonymous().get("/metrics").await.text;
        assert_eq!(gauge(&text, r#"clientd_cache_entries{kind="client"}"#), 1.0, "{text}");
        assert!(gauge(&text, "clientd_cache_client_bytes ") > 512.0, "{text}");
        assert_eq!(gauge(&text, "clientd_cache_trusted "), 1.0, "{text}");
    }

    async fn the_spec_is_served_as_yaml(app) {
        let spec = app.anonymous().get("/openapi.yaml").await;
        assert_eq!(spec.status, 200);
        assert_eq!(spec.header("content-type"), Some("application/yaml"));
        assert!(spec.text.starts_with("openapi: 3.1"));
    }

    async fn the_reference_is_served_with_its_assets_under_a_strict_policy(app) {
        // scripts/browser renders it in Chromium; this checks what the server sends.
        for prefix in ["", "/v1"] {
            let page = app.anonymous().get(&format!("{prefix}/docs")).await;
            assert_eq!(page.status, 200);
            assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
            let policy = page.header("content-security-policy").unwrap();
            assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
            for asset in ["docs/swagger-ui-bundle.js", "docs/swagger-ui.css", "docs/init.js"] {
                assert!(page.text.contains(asset), "{asset} missing from the page");
                let file = app.anonymous().get(&format!("{prefix}/{asset}")).await;
                assert_eq!(file.status, 200, "{asset}");
                assert!(file.text.len() > 500, "{asset}");
            }
        }
        let css = app.anonymous().get("/docs/swagger-ui.css").await;
        assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
        app.anonymous().get("/docs/other.js").await.assert_problem(404, "unknown-route");
        app.anonymous().get("/docs/").await.assert_problem(404, "unknown-route");
    }
}

/// Postgres restarting under clientd ends every connection; the pool replaces them unaided.
/// A connection used a moment ago is not checked before use (that would cost a round trip per
/// query), so each dead one may fail one request with 503 before it is dropped.
#[tokio::test]
async fn clientd_recovers_when_postgres_drops_its_connections() {
    let Some(database) =
        crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await
    else {
        return;
    };
    let app = crate::helpers::TestApp::spawn_on(database).await;
    app.create_tenant("before").await;
    let name = app.database.url.rsplit_once('/').unwrap().1.to_owned();
    let admin_url = std::env::var("CLIENTD_TEST_DATABASE_URL").unwrap();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    let killed: Vec<(bool,)> =
        sqlx::query_as("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&name)
            .fetch_all(&mut admin)
            .await
            .unwrap();
    assert!(!killed.is_empty());
    let mut statuses = Vec::new();
    while statuses.last() != Some(&200) && statuses.len() <= killed.len() {
        statuses.push(app.admin().get("/tenants/before").await.status);
    }
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    assert!(
        statuses.iter().all(|status| [200, 503].contains(status)),
        "{statuses:?}"
    );
    assert_eq!(app.anonymous().get("/readyz").await.status, 200);
}
