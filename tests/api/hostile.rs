//! Input made to hurt: patches that grow the document without bound, NUL and control
//! characters (Postgres cannot store NUL), oversized list items, weak keys, abandoned requests.

use serde_json::{Value, json};

use crate::helpers::{TestApp, fixture};

const PATCH_JSON: &str = "application/json-patch+json";

async fn client(app: &TestApp) -> (String, Value) {
    app.create_tenant("acme").await;
    let mut c = app
        .create_client(
            "acme",
            json!({"name": "Portal", "app_type": "regular_web",
                   "callbacks": ["https://portal.example/cb"],
                   "trusted_metadata": {"team": "x".repeat(3000)}}),
        )
        .await;
    c.as_object_mut().unwrap().remove("secret");
    (format!("/clients/{}", c["id"].as_str().unwrap()), c)
}

on_both_stores! {
    async fn copying_a_field_into_itself_is_409(app) {
        let (path, before) = client(&app).await;
        let ops: Vec<Value> = (0..12)
            .map(|i| json!({"op": "copy", "from": "/trustedMetadata", "path": format!("/trustedMetadata/k{i}")}))
            .collect();
        let problem = app.patch(&path, PATCH_JSON, None, Value::Array(ops)).await;
        let problem = problem.assert_problem(409, "conflict");
        assert!(problem["detail"].as_str().unwrap().contains("into itself"), "{problem}");
        let moved = app.patch(&path, PATCH_JSON, None,
            json!([{"op": "move", "from": "/redirectUris", "path": "/redirectUris/0"}])).await;
        moved.assert_problem(409, "conflict");
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn a_patch_that_doubles_the_document_stops_at_the_size_cap(app) {
        let (path, before) = client(&app).await;
        // Each pair nests one list in the other: twice the size every two operations.
        let ops: Vec<Value> = (0..100)
            .map(|i| if i % 2 == 0 {
                json!({"op": "copy", "from": "/redirectUris", "path": "/allowedLogoutUrls/-"})
            } else {
                json!({"op": "copy", "from": "/allowedLogoutUrls", "path": "/redirectUris/-"})
            })
            .collect();
        let refused = app.patch(&path, PATCH_JSON, None, Value::Array(ops)).await;
        let problem = refused.assert_problem(422, "validation");
        assert!(problem["errors"][0]["message"].as_str().unwrap().contains("larger than"), "{problem}");
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn nul_in_any_stored_string_is_refused_naming_the_field(app) {
        app.create_tenant("acme").await;
        app.admin().post("/tenants", json!({"id": "nul", "name": "a\u{0}b"})).await.assert_invalid(&["/name"]);
        app.admin()
            .post("/tokens", json!({"name": "ci\u{0}", "permissions": ["admin"]}))
            .await
            .assert_invalid(&["/name"]);
        let base = json!({"name": "Portal", "app_type": "regular_web"});
        for (change, pointer) in [
            (json!({"name": "Por\u{0}tal"}), "/name"),
            (json!({"description": "line\u{0}"}), "/description"),
            (json!({"business_name": "\u{0}"}), "/business_name"),
            (json!({"callbacks": ["https://a.example/\u{0}"]}), "/callbacks/0"),
            (json!({"web_origins": ["https://a\u{0}.example"]}), "/web_origins/0"),
            (json!({"allowed_logout_urls": ["https://a.example/\u{0}"]}), "/allowed_logout_urls/0"),
            (json!({"trusted_metadata": {"deep": {"list": ["\u{0}"]}}}), "/trusted_metadata/deep/list/0"),
            (json!({"trusted_metadata": {"k\u{0}": 1}}), "/trusted_metadata/k\u{0}"),
            (json!({"mobile": {"ios": {"team_id": "T\u{0}", "app_bundle_identifier": "com.x"}}}), "/mobile/ios/team_id"),
            (json!({"client_metadata": {"owners": "alice\u{0}"}}), "/client_metadata/owners"),
            (json!({"client_metadata": {"productName": "\u{0}"}}), "/client_metadata/productName"),
            (json!({"scope": ["read\u{0}"]}), "/scope/0"),
        ] {
            let mut body = base.clone();
            body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
            let response = app.admin().post("/tenants/acme/clients", body.clone()).await;
            response.assert_invalid(&[pointer]);
        }
        assert_eq!(app.count_rows("clients").await, 0);
        let created = app.create_client("acme", base).await;
        let path = format!("/clients/{}", created["id"].as_str().unwrap());
        // A patch is refused where it holds the NUL, before it is applied.
        for (op, pointer) in [
            (json!({"op": "replace", "path": "/name", "value": "a\u{0}"}), "/0/value"),
            (json!({"op": "add", "path": "/trustedMetadata/x", "value": {"y": "\u{0}"}}), "/0/value/y"),
            (json!({"op": "add", "path": "/owners/-", "value": "\u{0}"}), "/0/value"),
        ] {
            app.patch(&path, PATCH_JSON, None, json!([op])).await.assert_invalid(&[pointer]);
        }
        let credential = app.admin()
            .post(&format!("{path}/credentials"), json!({"credential_type": "cert_subject_dn", "name": "n\u{0}", "subject_dn": "CN=a\u{0}b"}))
            .await;
        credential.assert_invalid_fields(&["/name", "/subject_dn"]);
        for list in ["/tenants", "/tenants/acme/clients", "/tokens"] {
            app.admin().get(&format!("{list}?cursor=%00")).await.assert_problem(400, "bad-request");
        }
    }

    async fn nul_anywhere_in_a_patch_is_refused_even_when_undone(app) {
        let (path, before) = client(&app).await;
        for (ops, pointer) in [
            (json!([{"op": "replace", "path": "/name", "value": "a\u{0}"}, {"op": "replace", "path": "/name", "value": "ok"}]), "/0/value"),
            (json!([{"op": "add", "path": "/trustedMetadata/a\u{0}b", "value": 1}, {"op": "remove", "path": "/trustedMetadata/a\u{0}b"}]), "/0/path"),
            (json!([{"op": "test", "path": "/name", "value": {"k": ["\u{0}"]}}]), "/0/value/k/0"),
        ] {
            app.patch(&path, PATCH_JSON, None, ops).await.assert_invalid(&[pointer]);
        }
        assert_eq!(app.admin().get(&path).await.json, before);
    }

    async fn replacing_a_large_value_with_another_counts_only_the_difference(app) {
        let (path, _) = client(&app).await;
        // Twenty 9 KB values in turn, then a small one: the document never holds more than
        // one of them, so the patch is well under the cap however many it sends.
        let mut ops: Vec<Value> = (0..20)
            .map(|i| json!({"op": "replace", "path": "/trustedMetadata", "value": {"big": format!("{i:02}").repeat(4500)}}))
            .collect();
        ops.push(json!({"op": "replace", "path": "/trustedMetadata", "value": {"small": true}}));
        let patched = app.patch(&path, PATCH_JSON, None, Value::Array(ops)).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.json["trustedMetadata"], json!({"small": true}));
    }

    async fn control_characters_stay_out_of_names_but_not_descriptions(app) {
        app.create_tenant("acme").await;
        app.admin().post("/tenants", json!({"id": "tab", "name": "a\tb"})).await.assert_invalid(&["/name"]);
        let kept = app.create_client("acme", json!({
            "name": "Portal", "app_type": "spa", "description": "first line\nsecond\tline",
        })).await;
        assert_eq!(kept["description"], "first line\nsecond\tline");
        app.admin().post("/tenants/acme/clients", json!({"name": "bell\u{7}", "app_type": "spa"}))
            .await
            .assert_invalid(&["/name"]);
    }

    async fn each_list_item_and_mobile_string_has_a_length_cap(app) {
        app.create_tenant("acme").await;
        let long = |n: usize| "a".repeat(n);
        for (change, pointer) in [
            (json!({"callbacks": [format!("https://a.example/{}", long(2100))]}), "/callbacks/0"),
            (json!({"web_origins": [format!("https://{}.example", long(300))]}), "/web_origins/0"),
            (json!({"scope": [long(201)]}), "/scope/0"),
            (json!({"client_metadata": {"owners": long(201)}}), "/client_metadata/owners"),
            (json!({"mobile": {"android": {"keystore_hash": long(201), "app_package_name": "com.x"}}}), "/mobile/android/keystore_hash"),
        ] {
            let mut body = json!({"name": "Portal", "app_type": "native"});
            body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
            app.admin().post("/tenants/acme/clients", body).await.assert_invalid(&[pointer]);
        }
        let created = app.create_client("acme", json!({"name": "Portal", "app_type": "regular_web"})).await;
        let dn = format!("CN={}", long(1100));
        app.admin()
            .post(&format!("/clients/{}/credentials", created["id"].as_str().unwrap()),
                json!({"credential_type": "cert_subject_dn", "subject_dn": dn}))
            .await
            .assert_invalid(&["/subject_dn"]);
    }

    async fn redirect_uris_take_only_web_and_reverse_domain_schemes(app) {
        app.create_tenant("acme").await;
        for bad in ["vbscript:msgbox(1)", "customscheme:/cb", "javascript:alert(1)", "ftp://a.example/cb"] {
            app.admin()
                .post("/tenants/acme/clients", json!({"name": "App", "app_type": "native", "callbacks": [bad]}))
                .await
                .assert_invalid(&["/callbacks/0"]);
        }
        let native = app.create_client("acme", json!({
            "name": "App", "app_type": "native",
            "callbacks": ["com.example.app:/oauth2redirect", "http://127.0.0.1:8400/cb", "https://a.example/cb"],
        })).await;
        assert_eq!(native["redirectUris"].as_array().unwrap().len(), 3);
    }

    async fn an_rsa_key_with_a_small_exponent_is_refused(app) {
        app.create_tenant("acme").await;
        let created = app.create_client("acme", json!({"name": "Job", "app_type": "non_interactive"})).await;
        let response = app.admin()
            .post(&format!("/clients/{}/credentials", created["id"].as_str().unwrap()),
                json!({"credential_type": "public_key", "pem": fixture("rsa2048-e3-public.pem")}))
            .await;
        response.assert_invalid(&["/pem"]);
        assert!(response.text.contains("exponent 3"), "{}", response.text);
        assert_eq!(app.count_rows("client_credentials").await, 0);
    }

    async fn an_overlong_request_id_is_replaced(app) {
        let long = "r".repeat(500);
        let request = app.anonymous().raw(reqwest::Method::GET, "/healthz").header("x-request-id", &long);
        let response = app.anonymous().send_raw(request).await;
        assert_eq!(response.header("x-request-id").unwrap().len(), 36);
        let request = app.anonymous().raw(reqwest::Method::GET, "/healthz").header("x-request-id", "ok-id-1");
        assert_eq!(app.anonymous().send_raw(request).await.header("x-request-id"), Some("ok-id-1"));
    }
}

/// wrk hangs up with requests in flight at the end of every run; sqlx then drops the
/// connection, and an in-memory database with it, unless the store holds one of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_survives_abandoned_requests() {
    let database = crate::helpers::TestDatabase::in_memory();
    let app = TestApp::spawn_on(database).await;
    app.create_tenant("acme").await;
    let impatient = crate::helpers::http_client()
        .timeout(std::time::Duration::from_micros(300))
        .build()
        .unwrap();
    for i in 0..300 {
        let _ = impatient
            .post(app.url("/tenants/acme/clients"))
            .bearer_auth(&app.admin_token)
            .json(&json!({"name": format!("c{i}"), "app_type": "non_interactive"}))
            .send()
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let listed = app.admin().get("/tenants/acme/clients").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    app.create_client("acme", json!({"name": "after", "app_type": "spa"}))
        .await;
}
