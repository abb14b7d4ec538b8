//! Every failure is an RFC 9457 problem, including the framework's own refusals.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, TestDatabase};

on_both_stores! {
    async fn an_unknown_route_is_a_404_problem(app) {
        for path in ["/nope", "/v1/nope", "/v2/tenants"] {
            let response = app.admin().get(path).await;
            let problem = response.assert_problem(404, "unknown-route");
            assert_eq!(problem["instance"], path);
        }
    }

    async fn a_wrong_method_is_a_405_problem_with_allow(app) {
        let response = app.admin().send(Method::PUT, "/tenants", None).await;
        response.assert_problem(405, "method-not-allowed");
        let allow = response.header("allow").unwrap();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    }

    async fn a_body_that_is_not_json_is_400(app) {
        let request = app.admin().raw(Method::POST, "/tenants")
            .header("content-type", "application/json")
            .body("{\"id\": ");
        app.admin().send_raw(request).await.assert_problem(400, "bad-request");
        let trailing = app.admin().raw(Method::POST, "/tenants")
            .header("content-type", "application/json")
            .body(r#"{"id": "a", "name": "A"} x"#);
        app.admin().send_raw(trailing).await.assert_problem(400, "bad-request");
    }

    async fn a_body_of_another_content_type_is_415(app) {
        let request = app.admin().raw(Method::POST, "/tenants")
            .header("content-type", "text/plain")
            .body(r#"{"id": "a", "name": "A"}"#);
        app.admin().send_raw(request).await.assert_problem(415, "unsupported-media-type");
        let bare = app.admin().raw(Method::POST, "/tenants").body(r#"{"id": "a", "name": "A"}"#);
        app.admin().send_raw(bare).await.assert_problem(415, "unsupported-media-type");
        assert_eq!(app.admin().get("/tenants").await.json["items"], json!([]));
    }

    async fn a_json_media_type_with_parameters_is_accepted(app) {
        let request = app.admin().raw(Method::POST, "/tenants")
            .header("content-type", "application/json; charset=utf-8")
            .body(r#"{"id": "a", "name": "A"}"#);
        assert_eq!(app.admin().send_raw(request).await.status, 201);
    }

    async fn the_request_id_is_echoed_or_made(app) {
        let request = app.admin().raw(Method::GET, "/tenants/none").header("x-request-id", "trace-me-42");
        let response = app.admin().send_raw(request).await;
        assert_eq!(response.header("x-request-id"), Some("trace-me-42"));
        assert_eq!(response.json["request_id"], "trace-me-42");
        let made = app.admin().get("/healthz").await;
        assert_eq!(made.header("x-request-id").unwrap().len(), 36);
    }

    async fn every_route_is_served_under_v1_too(app) {
        app.create_tenant("acme").await;
        let plain = app.admin().get("/tenants/acme").await;
        let versioned = app.admin().get("/v1/tenants/acme").await;
        assert_eq!(versioned.status, 200);
        assert_eq!(plain.json, versioned.json);
        assert_eq!(app.anonymous().get("/v1/healthz").await.status, 200);
    }
}

async fn app_with_small_body_limit(backend: crate::helpers::Backend) -> Option<TestApp> {
    let database = TestDatabase::create(backend).await?;
    Some(TestApp::spawn_with(database, |settings| settings.body_limit_bytes = 1024).await)
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_on_sqlite() {
    body_over_the_limit_is_413(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_on_postgres() {
    body_over_the_limit_is_413(crate::helpers::Backend::Postgres).await;
}

async fn body_over_the_limit_is_413(backend: crate::helpers::Backend) {
    let Some(app) = app_with_small_body_limit(backend).await else {
        return;
    };
    let name = "n".repeat(2000);
    let response = app
        .admin()
        .post("/tenants", json!({"id": "big", "name": name}))
        .await;
    response.assert_problem(413, "payload-too-large");
    app.admin()
        .get("/tenants/big")
        .await
        .assert_problem(404, "not-found");
}
