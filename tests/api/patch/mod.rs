//! JSON Patch on clients (RFC 6902, SailPoint semantics): every op, atomicity, the status code
//! of every failure, If-Match, and numbers as they were written. No lost updates, under
//! concurrency or with memory gone stale, is in `concurrency`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

mod concurrency;

const PATCH_JSON: &str = "application/json-patch+json";

/// A tenant `acme` with one confidential client; returns the client's path and document.
async fn web_client(app: &TestApp) -> (String, Value) {
    app.create_tenant("acme").await;
    let mut c = app
        .create_client(
            "acme",
            json!({
                "name": "Portal", "app_type": "regular_web", "description": "before",
                "callbacks": ["https://portal.example/cb", "https://portal.example/cb2"],
                "allowed_logout_urls": ["https://portal.example/bye"],
                "web_origins": ["https://portal.example"],
            }),
        )
        .await;
    c.as_object_mut().unwrap().remove("secret");
    (format!("/clients/{}", c["id"].as_str().unwrap()), c)
}

/// PATCHes `body` as JSON Patch text, so numbers reach the server spelt as the test writes
/// them (`1e3`, `-0.0`), not as serde_json would print them.
async fn patch_text(app: &TestApp, path: &str, body: &str) -> TestResponse {
    let request = (app.admin().raw(reqwest::Method::PATCH, path))
        .header("content-type", PATCH_JSON)
        .body(body.to_owned());
    app.admin().send_raw(request).await
}

on_both_stores! {
    async fn a_sailpoint_patch_applies_and_moves_modified_and_etag(app) {
        let (path, before) = web_client(&app).await;
        let etag_before = app.admin().get(&path).await.header("etag").unwrap().to_owned();
        let patched = app.patch(&path, PATCH_JSON, None, json!([
            {"op": "replace", "path": "/strongAuthSupported", "value": true},
            {"op": "replace", "path": "/businessName", "value": "acme-solar"},
        ])).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.json["strongAuthSupported"], true);
        assert_eq!(patched.json["businessName"], "acme-solar");
        assert_eq!(patched.json["created"], before["created"]);
        assert!(patched.json["modified"].as_str().unwrap() >= before["modified"].as_str().unwrap());
        let etag = patched.header("etag").unwrap();
        assert_ne!(etag, etag_before);
        let read = app.admin().get(&path).await;
        assert_eq!(read.json, patched.json);
        assert_eq!(read.header("etag"), Some(etag));
    }

    async fn all_six_operations_apply_in_order(app) {
        let (path, _) = web_client(&app).await;
        let patched = app.patch(&path, PATCH_JSON, None, json!([
            {"op": "test", "path": "/name", "value": "Portal"},
            {"op": "add", "path": "/redirectUris/-", "value": "https://portal.example/cb3"},
            {"op": "remove", "path": "/redirectUris/0"},
            {"op": "replace", "path": "/name", "value": "Portal 2"},
            {"op": "move", "from": "/allowedWebOrigins/0", "path": "/allowedCorsOrigins/-"},
            {"op": "copy", "from": "/redirectUris/0", "path": "/allowedLogoutUrls/-"},
            {"op": "add", "path": "/mobile", "value": {"ios": {"team_id": "T1", "app_bundle_identifier": "com.x"}}},
            {"op": "add", "path": "/trustedMetadata/team", "value": "platform"},
        ])).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        let c = &patched.json;
        assert_eq!(c["redirectUris"], json!(["https://portal.example/cb2", "https://portal.example/cb3"]));
        assert_eq!(c["callbackUrls"], c["redirectUris"]);
        assert_eq!(c["name"], "Portal 2");
        assert_eq!(c["allowedWebOrigins"], json!([]));
        assert_eq!(c["allowedCorsOrigins"], json!(["https://portal.example"]));
        assert_eq!(c["allowedLogoutUrls"], json!(["https://portal.example/bye", "https://portal.example/cb2"]));
        assert_eq!(c["mobile"]["ios"]["team_id"], "T1");
        assert_eq!(c["trustedMetadata"], json!({"team": "platform"}));
    }

    async fn a_patch_is_all_or_nothing(app) {
        let (path, before) = web_client(&app).await;
        let refused = app.patch(&path, PATCH_JSON, None, json!([
            {"op": "replace", "path": "/name", "value": "Changed"},
            {"op": "test", "path": "/description", "value": "something else"},
        ])).await;
        let problem = refused.assert_problem(409, "conflict");
        assert!(problem["detail"].as_str().unwrap().contains("operation 1"), "{problem}");
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn a_malformed_patch_is_400(app) {
        let (path, before) = web_client(&app).await;
        let too_many: Vec<Value> = (0..101).map(|_| json!({"op": "test", "path": "/name", "value": "Portal"})).collect();
        for body in [
            json!({"op": "replace", "path": "/name", "value": "x"}),
            json!([{"op": "replace", "path": "/name", "value": "x"}, "not an op"]),
            json!([{"op": "rename", "path": "/name", "value": "x"}]),
            json!([{"op": "replace", "value": "x"}]),
            json!([{"op": "add", "path": "/name"}]),
            json!([{"op": "move", "path": "/name"}]),
            json!([{"op": "replace", "path": "name", "value": "x"}]),
            Value::Array(too_many),
        ] {
            app.patch(&path, PATCH_JSON, None, body).await.assert_problem(400, "bad-request");
        }
        let not_json = app.admin().raw(reqwest::Method::PATCH, &path).header("content-type", PATCH_JSON).body("[{");
        app.admin().send_raw(not_json).await.assert_problem(400, "bad-request");
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn changing_a_read_only_field_is_400_naming_the_path(app) {
        let (path, before) = web_client(&app).await;
        for (op, named) in [
            (json!({"op": "replace", "path": "/id", "value": "x"}), "/id"),
            (json!({"op": "replace", "path": "/type", "value": "PUBLIC"}), "/type"),
            (json!({"op": "replace", "path": "/appType", "value": "spa"}), "/appType"),
            (json!({"op": "replace", "path": "/created", "value": "2020-01-01T00:00:00.000Z"}), "/created"),
            (json!({"op": "add", "path": "/secret", "value": "mine"}), "/secret"),
            (json!({"op": "add", "path": "/callbackUrls/-", "value": "https://x.example/cb"}), "/callbackUrls/-"),
            (json!({"op": "replace", "path": "/internal", "value": true}), "/internal"),
            (json!({"op": "add", "path": "/isAdmin", "value": true}), "/isAdmin"),
            (json!({"op": "move", "from": "/id", "path": "/name"}), "/id"),
            (json!({"op": "copy", "from": "/created", "path": "/description"}), "/created"),
            (json!({"op": "move", "from": "/name", "path": "/manuallyCreated"}), "/manuallyCreated"),
            (json!({"op": "replace", "path": "", "value": {}}), "the whole document"),
        ] {
            let response = app.patch(&path, PATCH_JSON, None, json!([op])).await;
            let detail = response.assert_problem(400, "bad-request")["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains(named), "{named} not in: {detail}");
        }
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn a_test_may_read_read_only_fields(app) {
        let (path, _) = web_client(&app).await;
        let patched = app.patch(&path, PATCH_JSON, None, json!([
            {"op": "test", "path": "/type", "value": "CONFIDENTIAL"},
            {"op": "replace", "path": "/name", "value": "Checked"},
        ])).await;
        assert_eq!((patched.status, &patched.json["name"]), (200, &json!("Checked")));
    }

    async fn a_failed_test_or_missing_path_is_409(app) {
        let (path, before) = web_client(&app).await;
        for op in [
            json!({"op": "test", "path": "/name", "value": "Other"}),
            json!({"op": "remove", "path": "/redirectUris/7"}),
            json!({"op": "replace", "path": "/redirectUris/2", "value": "https://x.example/cb"}),
            json!({"op": "remove", "path": "/mobile/ios"}),
            json!({"op": "move", "from": "/owners/3", "path": "/owners/-"}),
        ] {
            app.patch(&path, PATCH_JSON, None, json!([op])).await.assert_problem(409, "conflict");
        }
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn a_result_that_breaks_a_rule_is_422_per_field(app) {
        let (path, before) = web_client(&app).await;
        let response = app.patch(&path, PATCH_JSON, None, json!([
            {"op": "replace", "path": "/clientAuthMethod", "value": "none"},
            {"op": "add", "path": "/redirectUris/-", "value": "https://x.example/cb#frag"},
            {"op": "replace", "path": "/isRefreshTokenRotationEnabled", "value": true},
        ])).await;
        response.assert_invalid_fields(&["/clientAuthMethod", "/redirectUris/2", "/isRefreshTokenRotationEnabled"]);
        app.patch(&path, PATCH_JSON, None, json!([{"op": "remove", "path": "/name"}])).await.assert_invalid_fields(&["/name"]);
        app.patch(&path, PATCH_JSON, None, json!([{"op": "replace", "path": "/accessTokenValiditySeconds", "value": "soon"}])).await.assert_invalid_fields(&["/accessTokenValiditySeconds"]);
        app.patch(&path, PATCH_JSON, None, json!([{"op": "replace", "path": "/accessType", "value": "SOMETIMES"}])).await.assert_invalid_fields(&["/accessType"]);
        app.patch(&path, PATCH_JSON, None, json!([{"op": "add", "path": "/mobile", "value": {"ios": {"team": "x"}}}])).await.assert_invalid_fields(&["/mobile/ios/team"]);
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn integer_fields_take_integer_valued_numbers_and_store_integers(app) {
        let (path, _) = web_client(&app).await;
        let patched = patch_text(&app, &path, r#"[
            {"op": "replace", "path": "/accessTokenValiditySeconds", "value": 1e3},
            {"op": "replace", "path": "/idTokenExpiration", "value": 7200.0},
            {"op": "replace", "path": "/refreshTokenReuseInterval", "value": -0.0}
        ]"#).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        let read = app.admin().get(&path).await;
        assert_eq!(read.header("etag"), patched.header("etag"));
        let stored = app.stored_settings(path.trim_start_matches("/clients/")).await;
        for document in [&patched.json, &read.json, &stored] {
            for (field, want) in [("accessTokenValiditySeconds", 1000), ("idTokenExpiration", 7200),
                                  ("refreshTokenReuseInterval", 0)] {
                assert!(document[field].is_u64(), "{field} is {}", document[field]);
                assert_eq!(document[field], want, "{field}");
            }
        }
        // The same number spelt as a double is no change: nothing is written.
        let same = patch_text(&app, &path, r#"[{"op": "replace", "path": "/accessTokenValiditySeconds", "value": 1000.0}]"#).await;
        assert_eq!(same.status, 200, "{}", same.text);
        assert_eq!(same.header("etag"), patched.header("etag"));
        assert_eq!(same.json["modified"], patched.json["modified"]);
    }

    async fn integer_fields_refuse_fractions_strings_and_out_of_range_naming_the_field(app) {
        let (path, before) = web_client(&app).await;
        for value in ["3600.5", r#""3600""#, "1e300", "9007199254740993.0", "null"] {
            let body = format!(r#"[{{"op": "replace", "path": "/accessTokenValiditySeconds", "value": {value}}}]"#);
            patch_text(&app, &path, &body).await.assert_invalid(&["/accessTokenValiditySeconds"]);
        }
        let added = patch_text(&app, &path, r#"[{"op": "add", "path": "/refreshTokenReuseInterval", "value": 0.5}]"#).await;
        added.assert_invalid(&["/refreshTokenReuseInterval"]);
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn a_public_client_cannot_gain_client_credentials(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "SPA", "app_type": "spa"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let response = app.patch(&path, PATCH_JSON, None, json!([
            {"op": "add", "path": "/grantTypes/-", "value": "CLIENT_CREDENTIALS"},
        ])).await;
        response.assert_invalid_fields(&["/grantTypes/2"]);
    }

    async fn sailpoint_grant_type_names_in_a_patch_are_stored_as_rfc_names(app) {
        let (path, _) = web_client(&app).await;
        let patched = app.patch(&path, PATCH_JSON, None, json!([
            {"op": "replace", "path": "/grantTypes", "value": ["CLIENT_CREDENTIALS", "REFRESH_TOKEN"]},
            {"op": "replace", "path": "/accessType", "value": "ONLINE"},
        ])).await;
        assert_eq!(patched.json["grantTypes"], json!(["client_credentials", "refresh_token"]));
    }

    async fn nullable_fields_may_be_removed_or_nulled(app) {
        let (path, _) = web_client(&app).await;
        let patched = app.patch(&path, PATCH_JSON, None, json!([
            {"op": "remove", "path": "/description"},
            {"op": "replace", "path": "/redirectUris", "value": null},
        ])).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.json["description"], json!(null));
        assert_eq!(patched.json["redirectUris"], json!([]));
    }

    async fn if_match_guards_against_stale_writes(app) {
        let (path, _) = web_client(&app).await;
        let etag = app.admin().get(&path).await.header("etag").unwrap().to_owned();
        let rename = |name: &str| json!([{"op": "replace", "path": "/name", "value": name}]);
        let first = app.patch(&path, PATCH_JSON, Some(&etag), rename("First")).await;
        assert_eq!(first.status, 200, "{}", first.text);
        let stale = app.patch(&path, PATCH_JSON, Some(&etag), rename("Stale")).await;
        stale.assert_problem(412, "precondition-failed");
        let fresh = first.header("etag").unwrap();
        assert_eq!(app.patch(&path, PATCH_JSON, Some(&format!("\"x\", {fresh}")), rename("Third")).await.status, 200);
        assert_eq!(app.patch(&path, PATCH_JSON, Some("*"), rename("Any")).await.status, 200);
        assert_eq!(app.admin().get(&path).await.json["name"], "Any");
    }

    async fn a_malformed_if_match_is_400_and_an_empty_one_is_ignored(app) {
        let (path, _) = web_client(&app).await;
        let rename = json!([{"op": "replace", "path": "/name", "value": "x"}]);
        for tag in ["0", "abc", "\"a\"b\"", "\"ok\", bare"] {
            let response = app.patch(&path, PATCH_JSON, Some(tag), rename.clone()).await;
            response.assert_problem(400, "bad-request");
            assert!(response.json["detail"].as_str().unwrap().contains("If-Match"), "{}", response.text);
        }
        assert_eq!(app.admin().get(&path).await.json["name"], "Portal");
        assert_eq!(app.patch(&path, PATCH_JSON, Some(""), rename).await.status, 200);
    }

    async fn a_patch_of_another_media_type_is_415_with_accept_patch(app) {
        let (path, _) = web_client(&app).await;
        let rename = json!([{"op": "replace", "path": "/name", "value": "x"}]);
        for content_type in ["text/plain", "application/merge-patch+json"] {
            let response = app.patch(&path, content_type, None, rename.clone()).await;
            response.assert_problem(415, "unsupported-media-type");
            assert_eq!(response.header("accept-patch"), Some("application/json-patch+json, application/json"));
        }
        let plain_json = app.patch(&path, "application/json", None, rename).await;
        assert_eq!((plain_json.status, &plain_json.json["name"]), (200, &json!("x")));
    }

    async fn an_empty_patch_changes_nothing(app) {
        let (path, before) = web_client(&app).await;
        let etag = app.admin().get(&path).await.header("etag").unwrap().to_owned();
        let response = app.patch(&path, PATCH_JSON, None, json!([])).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.json, before);
        assert_eq!(response.header("etag"), Some(etag.as_str()));
        let same_value = app.patch(&path, PATCH_JSON, None, json!([{"op": "replace", "path": "/name", "value": "Portal"}])).await;
        assert_eq!(same_value.json["modified"], before["modified"]);
    }

    async fn patching_an_unknown_client_is_404(app) {
        let response = app.patch("/clients/nope", PATCH_JSON, None, json!([])).await;
        response.assert_problem(404, "not-found");
    }

    async fn numbers_at_the_edges_of_a_double_are_stored_and_read_back(app) {
        // Postgres writes 1.7976931348623157e308 back as 309 plain digits: the read must round
        // it to the same double, not past the largest one.
        let (path, _) = web_client(&app).await;
        let edges = json!({"largest": 1.7976931348623157e308, "lowest": -1.7976931348623157e308,
                           "tiniest": 5e-324, "precise": 0.1, "integer": 9007199254740993u64});
        let body = json!([{"op": "add", "path": "/trustedMetadata/edges", "value": edges}]);
        let patched = app.patch(&path, PATCH_JSON, None, body).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.json["trustedMetadata"]["edges"], edges);
        let read = app.admin().get(&path).await;
        assert_eq!(read.status, 200, "{}", read.text);
        assert_eq!(read.json["trustedMetadata"]["edges"], edges);
        let listed = app.admin().get("/tenants/acme/clients").await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        let events = app.admin().get(&format!("{path}/events")).await;
        assert_eq!(events.status, 200, "{}", events.text);
    }

    async fn a_negative_zero_is_stored_as_zero_so_the_answer_is_what_reads_show(app) {
        let (path, _) = web_client(&app).await;
        let zeros = json!([-0.0, {"nested": -0.0}, 0, -1.5]);
        let body = json!([{"op": "add", "path": "/trustedMetadata/zeros", "value": zeros}]);
        let patched = app.patch(&path, PATCH_JSON, None, body).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        let stored = json!([0.0, {"nested": 0.0}, 0, -1.5]);
        // JSON values compare -0 equal to 0: the text tells them apart.
        assert!(!patched.text.contains("-0.0"), "{}", patched.text);
        let read = app.admin().get(&path).await;
        assert_eq!(read.json["trustedMetadata"]["zeros"], stored);
        assert_eq!(read.header("etag"), patched.header("etag"));
        // So the answer's ETag guards the next write.
        let next = json!([{"op": "replace", "path": "/description", "value": "after"}]);
        let guarded = app.patch(&path, PATCH_JSON, patched.header("etag"), next).await;
        assert_eq!(guarded.status, 200, "{}", guarded.text);

        let created = app.create_client("acme", json!({"name": "Zero", "app_type": "spa",
            "callbacks": ["https://zero.example/cb"], "trusted_metadata": {"zero": -0.0}})).await;
        let read = app.admin().get(&format!("/clients/{}", created["id"].as_str().unwrap())).await;
        assert_eq!(created["trustedMetadata"], json!({"zero": 0.0}));
        assert_eq!(read.json["trustedMetadata"], json!({"zero": 0.0}));
    }
}
