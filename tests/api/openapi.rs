//! openapi.yaml and the router must agree: every documented operation is routed (at its path
//! and under /v1), and every other method on a documented path is 405.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn spec() -> Value {
    let text = crate::helpers::repo_file("openapi.yaml");
    serde_norway::from_str(&text).unwrap()
}

/// A concrete path for a template: `{tenantId}` becomes a plausible value.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{tokenId}" => "0192e4a0-0000-7000-8000-000000000000",
            "{asset}" => "init.js",
            s if s.starts_with('{') => "drift-check",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_spec_is_openapi_3_1_with_every_operation_described() {
    let spec = spec();
    assert_eq!(spec["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                assert!(
                    operation["operationId"].is_string(),
                    "{method} {path} has no operationId"
                );
                assert!(
                    operation["responses"].is_object(),
                    "{method} {path} has no responses"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let spec = spec();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let path = concrete(template);
        for method in METHODS {
            let documented = item.get(method).is_some();
            for prefix in ["", "/v1"] {
                let full = format!("{prefix}{path}");
                let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let request = app
                    .admin()
                    .raw(http_method, &full)
                    .header("content-type", "application/json")
                    .body("{}");
                let response = app.admin().send_raw(request).await;
                let routed = response.status != 405
                    && response.json["type"] != "urn:clientd:problem:unknown-route";
                assert_eq!(
                    routed, documented,
                    "{method} {full}: documented {documented}, answered {}",
                    response.text
                );
            }
        }
    }
}

/// Every path the router declares (`.route("...")` in src/http/), with parameters as `{}`.
fn routed_paths() -> Vec<String> {
    let dir = crate::helpers::repo_path("src/http");
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let production = source.split("#[cfg(test)]").next().unwrap();
        for piece in production.split(".route(").skip(1) {
            let literal = piece.trim_start().trim_start_matches('"');
            if let Some(end) = literal.find('"') {
                paths.push(normalized(&literal[..end]));
            }
        }
    }
    paths
}

/// `/clients/{client_id}` and `/clients/{clientId}` alike become `/clients/{}`.
fn normalized(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_routed_path_is_in_the_spec() {
    let spec = spec();
    let documented: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| normalized(p))
        .collect();
    let routed = routed_paths();
    assert!(routed.len() >= 8, "found only {routed:?}");
    for path in routed {
        assert!(
            documented.contains(&path),
            "{path} is routed but not in openapi.yaml"
        );
    }
}
