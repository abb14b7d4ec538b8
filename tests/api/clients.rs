//! Clients: the Nexus create request onto the canonical document, defaults and rules, read,
//! keyset-paged lists, delete, and the tenant walls.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

/// The six lifetimes, in the create request's names and the document's.
const LIFETIMES: [(&str, &str); 6] = [
    (
        "access_token_validity_seconds",
        "accessTokenValiditySeconds",
    ),
    (
        "refresh_token_validity_seconds",
        "refreshTokenValiditySeconds",
    ),
    ("id_token_expiration", "idTokenExpiration"),
    ("refresh_token_reuse_interval", "refreshTokenReuseInterval"),
    (
        "refresh_token_absolute_lifetime",
        "refreshTokenAbsoluteLifetime",
    ),
    (
        "refresh_token_inactivity_lifetime",
        "refreshTokenInactivityLifetime",
    ),
];

/// POSTs `body` as JSON text, so numbers reach the server spelt as the test writes them
/// (`1e3`, `-0.0`), not as serde_json would print them.
async fn post_text(app: &TestApp, path: &str, body: &str) -> TestResponse {
    let request = (app.admin().raw(Method::POST, path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    app.admin().send_raw(request).await
}

/// A Nexus create request in the seed's shape (seeds/003), every field filled.
fn nexus_request() -> Value {
    json!({
        "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "name": "Acme Portal",
        "mobile": {
            "ios": {"team_id": "9JA89QQLNQ", "app_bundle_identifier": "com.acme.portal"},
            "android": {"keystore_hash": "AB:CD:EF", "app_package_name": "com.acme.portal"}
        },
        "app_type": "regular_web",
        "logo_uri": "https://cdn.acme.example/logo.png",
        "callbacks": ["https://portal.acme.example/callback"],
        "description": "Customer portal",
        "grant_types": ["authorization_code", "refresh_token"],
        "web_origins": ["https://portal.acme.example"],
        "allowed_origins": ["https://app.acme.example"],
        "client_metadata": {
            "owners": "alice@acme.example, bob@acme.example",
            "productName": "Portal",
            "client_upn_key": "upn",
            "applicationName": "acme-portal",
            "manuallyCreated": true
        },
        "initiate_login_uri": "https://portal.acme.example/login",
        "allowed_logout_urls": ["https://portal.acme.example/bye"]
    })
}

on_both_stores! {
    async fn a_nexus_create_request_maps_onto_the_canonical_document(app) {
        app.create_tenant("acme").await;
        let created = app.admin().post("/tenants/acme/clients", nexus_request()).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.header("location"), Some("/clients/a1b2c3d4e5f60718293a4b5c6d7e8f90"));
        assert!(created.header("etag").unwrap().starts_with('"'));
        let c = &created.json;
        assert_eq!(c["id"], "a1b2c3d4e5f60718293a4b5c6d7e8f90");
        assert_eq!(c["tenant"], "acme");
        assert_eq!(c["name"], "Acme Portal");
        assert_eq!(c["description"], "Customer portal");
        assert_eq!(c["appType"], "regular_web");
        assert_eq!(c["type"], "CONFIDENTIAL");
        assert_eq!(c["mobile"], nexus_request()["mobile"]);
        assert_eq!(c["logoUrl"], "https://cdn.acme.example/logo.png");
        assert_eq!(c["redirectUris"], json!(["https://portal.acme.example/callback"]));
        assert_eq!(c["callbackUrls"], c["redirectUris"]);
        assert_eq!(c["grantTypes"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(c["allowedWebOrigins"], json!(["https://portal.acme.example"]));
        assert_eq!(c["allowedCorsOrigins"], json!(["https://app.acme.example"]));
        assert_eq!(c["owners"], json!(["alice@acme.example", "bob@acme.example"]));
        assert_eq!(c["productName"], "Portal");
        assert_eq!(c["client_upn_key"], "upn");
        assert_eq!(c["applicationName"], "acme-portal");
        assert_eq!(c["manuallyCreated"], true);
        assert_eq!(c["initiateLoginUri"], "https://portal.acme.example/login");
        assert_eq!(c["allowedLogoutUrls"], json!(["https://portal.acme.example/bye"]));
        assert_eq!(c["internal"], false);
        assert_eq!(c["lastUsed"], json!(null));
        assert_eq!(c["created"], c["modified"]);
        assert!(c["created"].as_str().unwrap().ends_with('Z'));
        let secret = c["secret"].as_str().unwrap();
        assert!(secret.len() >= 43, "a secret must carry at least 256 bits");
    }

    async fn every_optional_field_has_a_documented_default(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "Minimal", "app_type": "regular_web"})).await;
        let expected = json!({
            "description": null, "businessName": null, "homepageUrl": null, "logoUrl": null,
            "initiateLoginUri": null, "mobile": null, "productName": null, "applicationName": null,
            "client_upn_key": null, "clientAuthMethod": "client_secret_basic",
            "grantTypes": ["authorization_code", "refresh_token"], "redirectUris": [],
            "callbackUrls": [], "allowedLogoutUrls": [], "allowedWebOrigins": [],
            "allowedCorsOrigins": [], "owners": [], "manuallyCreated": false,
            "accessTokenValiditySeconds": 3600, "refreshTokenValiditySeconds": 2592000,
            "idTokenExpiration": 36000, "refreshTokenReuseInterval": 0,
            "refreshTokenAbsoluteLifetime": 2592000, "refreshTokenInactivityLifetime": 1296000,
            "isRefreshTokenRotationEnabled": false, "isRefreshTokenAbsoluteExpirationEnabled": false,
            "isRefreshTokenInactivityLifetimeEnabled": false, "allowCrossOriginAuthentication": false,
            "enabled": true, "strongAuthSupported": false, "claimsSupported": false,
            "accessType": "OFFLINE", "scope": [], "trustedMetadata": {}, "internal": false,
        });
        for (field, value) in expected.as_object().unwrap() {
            assert_eq!(&c[field], value, "{field}");
        }
        assert_eq!(c["id"].as_str().unwrap().len(), 32);
        assert!(c["id"].as_str().unwrap().chars().all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase()));
    }

    async fn every_other_patchable_field_can_be_set_at_creation(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({
            "name": "Full", "app_type": "non_interactive",
            "business_name": "Acme Inc", "homepage_url": "https://acme.example",
            "client_auth_method": "client_secret_post",
            "access_token_validity_seconds": 600, "refresh_token_validity_seconds": 7200,
            "id_token_expiration": 300, "refresh_token_reuse_interval": 10,
            "refresh_token_absolute_lifetime": 86400, "refresh_token_inactivity_lifetime": 3600,
            "is_refresh_token_rotation_enabled": true,
            "is_refresh_token_absolute_expiration_enabled": true,
            "is_refresh_token_inactivity_lifetime_enabled": true,
            "allow_cross_origin_authentication": true, "enabled": false,
            "strong_auth_supported": true, "claims_supported": true,
            "access_type": "OFFLINE", "scope": ["clients:read", "clients:write"],
            "trusted_metadata": {"team": "platform", "tier": 1},
        })).await;
        let expected = json!({
            "businessName": "Acme Inc", "homepageUrl": "https://acme.example",
            "clientAuthMethod": "client_secret_post", "grantTypes": ["client_credentials"],
            "accessTokenValiditySeconds": 600, "refreshTokenValiditySeconds": 7200,
            "idTokenExpiration": 300, "refreshTokenReuseInterval": 10,
            "refreshTokenAbsoluteLifetime": 86400, "refreshTokenInactivityLifetime": 3600,
            "isRefreshTokenRotationEnabled": true, "isRefreshTokenAbsoluteExpirationEnabled": true,
            "isRefreshTokenInactivityLifetimeEnabled": true, "allowCrossOriginAuthentication": true,
            "enabled": false, "strongAuthSupported": true, "claimsSupported": true,
            "accessType": "OFFLINE", "scope": ["clients:read", "clients:write"],
            "trustedMetadata": {"team": "platform", "tier": 1}, "type": "CONFIDENTIAL",
        });
        for (field, value) in expected.as_object().unwrap() {
            assert_eq!(&c[field], value, "{field}");
        }
    }

    async fn a_public_client_gets_no_secret_and_no_client_authentication(app) {
        app.create_tenant("acme").await;
        for app_type in ["spa", "native"] {
            let c = app.create_client("acme", json!({"name": "App", "app_type": app_type})).await;
            assert_eq!(c["type"], "PUBLIC");
            assert_eq!(c["clientAuthMethod"], "none");
            assert!(c.get("secret").is_none(), "{c}");
        }
        assert_eq!(app.count_rows("client_secrets").await, 0);
    }

    async fn a_machine_client_defaults_to_client_credentials_and_online_access(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "Job", "app_type": "non_interactive"})).await;
        assert_eq!(c["grantTypes"], json!(["client_credentials"]));
        assert_eq!(c["accessType"], "ONLINE");
        assert_eq!(c["type"], "CONFIDENTIAL");
    }

    async fn sailpoint_grant_type_names_are_stored_as_rfc_names(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({
            "name": "Job", "app_type": "regular_web",
            "grant_types": ["AUTHORIZATION_CODE", "REFRESH_TOKEN", "CLIENT_CREDENTIALS"],
        })).await;
        assert_eq!(c["grantTypes"], json!(["authorization_code", "refresh_token", "client_credentials"]));
    }

    async fn broken_rules_are_422_with_one_error_per_field_and_nothing_stored(app) {
        app.create_tenant("acme").await;
        let response = app.admin().post("/tenants/acme/clients", json!({
            "name": " ", "app_type": "spa",
            "grant_types": ["client_credentials"],
            "client_auth_method": "client_secret_basic",
            "is_refresh_token_rotation_enabled": true,
            "callbacks": ["/relative", "https://portal.example/cb#fragment"],
            "web_origins": ["https://portal.example/path"],
            "allowed_origins": ["ftp://files.example"],
            "allowed_logout_urls": ["not a url"],
            "logo_uri": "http://insecure.example/logo.png",
            "initiate_login_uri": "https://portal.example/login#x",
            "homepage_url": "mailto:team@example.com",
            "access_token_validity_seconds": 0,
            "refresh_token_reuse_interval": -1,
            "scope": ["two words"],
            "client_metadata": {"owners": "a,a"},
        })).await;
        response.assert_invalid_fields(&[
            "/name", "/grant_types/0", "/client_auth_method", "/is_refresh_token_rotation_enabled",
            "/callbacks/0", "/callbacks/1", "/web_origins/0", "/allowed_origins/0",
            "/allowed_logout_urls/0", "/logo_uri", "/initiate_login_uri", "/homepage_url",
            "/access_token_validity_seconds", "/refresh_token_reuse_interval", "/scope/0",
            "/client_metadata/owners",
        ]);
        assert_eq!(app.count_rows("clients").await, 0);
    }

    async fn a_confidential_client_must_authenticate(app) {
        app.create_tenant("acme").await;
        let response = app.admin().post("/tenants/acme/clients", json!({
            "name": "Web", "app_type": "regular_web", "client_auth_method": "none",
        })).await;
        response.assert_invalid_fields(&["/client_auth_method"]);
    }

    async fn inactivity_may_not_outlive_the_absolute_lifetime(app) {
        app.create_tenant("acme").await;
        let response = app.admin().post("/tenants/acme/clients", json!({
            "name": "Web", "app_type": "regular_web",
            "is_refresh_token_absolute_expiration_enabled": true,
            "is_refresh_token_inactivity_lifetime_enabled": true,
            "refresh_token_absolute_lifetime": 60, "refresh_token_inactivity_lifetime": 120,
        })).await;
        response.assert_invalid_fields(&["/refresh_token_inactivity_lifetime"]);
    }

    async fn missing_or_mistyped_required_fields_are_422(app) {
        app.create_tenant("acme").await;
        let path = "/tenants/acme/clients";
        app.admin().post(path, json!({"app_type": "spa"})).await.assert_invalid_fields(&["/name"]);
        app.admin().post(path, json!({"name": "x"})).await.assert_invalid_fields(&["/app_type"]);
        app.admin().post(path, json!({"name": "x", "app_type": "desktop"})).await.assert_invalid_fields(&["/app_type"]);
        app.admin().post(path, json!({"name": "x", "app_type": "spa", "callbacks": "https://a.example"})).await.assert_invalid_fields(&["/callbacks"]);
        app.admin().post(path, json!({"name": "x", "app_type": "spa", "grant_types": ["magic"]})).await.assert_invalid_fields(&["/grant_types/0"]);
        // Objects must be objects: serde alone would take an array of the fields in order.
        app.admin().post(path, json!({"name": "x", "app_type": "spa", "mobile": {"android": [null, null]}})).await.assert_invalid_fields(&["/mobile/android"]);
        app.admin().post(path, json!({"name": "x", "app_type": "spa", "mobile": [null, null]})).await.assert_invalid_fields(&["/mobile"]);
        app.admin().post(path, json!({"name": "x", "app_type": "spa", "client_metadata": ["a"]})).await.assert_invalid_fields(&["/client_metadata"]);
        app.admin().post(path, json!({"name": "x", "app_type": "spa", "mobile": {"ios": {"team_id": 7}}})).await.assert_invalid_fields(&["/mobile/ios/team_id"]);
    }

    async fn integer_fields_take_integer_valued_numbers_and_store_integers(app) {
        app.create_tenant("acme").await;
        let created = post_text(&app, "/tenants/acme/clients", r#"{
            "name": "Web", "app_type": "regular_web",
            "access_token_validity_seconds": 3600.0, "refresh_token_validity_seconds": 1e3,
            "id_token_expiration": 3.6E3, "refresh_token_reuse_interval": -0.0,
            "refresh_token_absolute_lifetime": 2592000, "refresh_token_inactivity_lifetime": 12960e2
        }"#).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.json["id"].as_str().unwrap();
        let read = app.admin().get(&format!("/clients/{id}")).await;
        assert_eq!(read.header("etag"), created.header("etag"));
        let stored = app.stored_settings(id).await;
        let want = [3600, 1000, 3600, 0, 2592000, 1296000];
        for document in [&created.json, &read.json, &stored] {
            for ((_, field), want) in LIFETIMES.iter().zip(want) {
                // An integer, not 3600.0: a parsed `3600.0` is a float and is not equal to it.
                assert!(document[field].is_u64(), "{field} is {}", document[field]);
                assert_eq!(document[field], want, "{field}");
            }
        }
    }

    async fn integer_fields_refuse_fractions_strings_and_out_of_range_naming_the_field(app) {
        app.create_tenant("acme").await;
        let create = |field: &str, value: &str| {
            format!(r#"{{"name": "Web", "app_type": "regular_web", "{field}": {value}}}"#)
        };
        for value in ["3600.5", "0.1", r#""3600""#, "true", "[3600]", "1e300", "-1e19",
                      "9223372036854775808", "9007199254740993.0"] {
            let response = post_text(&app, "/tenants/acme/clients", &create("access_token_validity_seconds", value)).await;
            response.assert_invalid(&["/access_token_validity_seconds"]);
        }
        let fraction = post_text(&app, "/tenants/acme/clients", &create("access_token_validity_seconds", "3600.5")).await;
        let message = fraction.json["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("3600.5") && message.contains("integer"), "{message}");
        for (field, _) in LIFETIMES {
            post_text(&app, "/tenants/acme/clients", &create(field, "60.5")).await
                .assert_invalid(&[format!("/{field}").as_str()]);
        }
        // A whole number past the rule's range is the rule's to refuse, with its message.
        let too_long = post_text(&app, "/tenants/acme/clients", &create("access_token_validity_seconds", "3e9")).await;
        too_long.assert_invalid(&["/access_token_validity_seconds"]);
        assert!(too_long.text.contains("2147483647"), "{}", too_long.text);
        assert_eq!(app.count_rows("clients").await, 0);
    }

    async fn unknown_fields_are_400_naming_them(app) {
        app.create_tenant("acme").await;
        let top = app.admin().post("/tenants/acme/clients", json!({"name": "x", "app_type": "spa", "colour": "red"})).await;
        assert!(top.assert_problem(400, "bad-request")["detail"].as_str().unwrap().contains("colour"));
        let nested = app.admin().post("/tenants/acme/clients", json!({"name": "x", "app_type": "spa", "client_metadata": {"team": "a"}})).await;
        let detail = nested.assert_problem(400, "bad-request")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("team") && detail.contains("/client_metadata"), "{detail}");
    }

    async fn creating_in_an_unknown_tenant_is_404(app) {
        let response = app.admin().post("/tenants/ghost/clients", json!({"name": "x", "app_type": "spa"})).await;
        response.assert_problem(404, "not-found");
    }

    async fn a_given_id_that_exists_is_409(app) {
        app.create_tenant("acme").await;
        app.create_client("acme", json!({"id": "fixed-id", "name": "First", "app_type": "spa"})).await;
        let again = app.admin().post("/tenants/acme/clients", json!({"id": "fixed-id", "name": "Second", "app_type": "spa"})).await;
        again.assert_problem(409, "conflict");
        assert_eq!(app.admin().get("/clients/fixed-id").await.json["name"], "First");
    }

    async fn the_secret_is_shown_once_and_never_again(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "Web", "app_type": "regular_web"})).await;
        let secret = c["secret"].as_str().unwrap();
        let id = c["id"].as_str().unwrap();
        let read = app.admin().get(&format!("/clients/{id}")).await;
        let listed = app.admin().get("/tenants/acme/clients").await;
        for response in [&read, &listed] {
            assert_eq!(response.status, 200);
            assert!(!response.text.contains(secret) && !response.text.contains("\"secret\""), "{}", response.text);
        }
        assert_eq!(app.count_rows("client_secrets").await, 1);
    }

    async fn a_read_answers_the_document_with_a_strong_etag(app) {
        app.create_tenant("acme").await;
        let mut created = app.create_client("acme", json!({"name": "Web", "app_type": "regular_web"})).await;
        created.as_object_mut().unwrap().remove("secret");
        let id = created["id"].as_str().unwrap().to_owned();
        let first = app.admin().get(&format!("/clients/{id}")).await;
        let second = app.admin().get(&format!("/v1/clients/{id}")).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.json, created);
        let etag = first.header("etag").unwrap();
        assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
        assert_eq!(second.header("etag"), Some(etag));
    }

    async fn reading_an_unknown_client_is_404(app) {
        app.admin().get("/clients/nope").await.assert_problem(404, "not-found");
        app.admin().get("/clients/not%20an%20id").await.assert_problem(404, "not-found");
    }

    async fn clients_are_listed_in_pages_by_id(app) {
        app.create_tenant("acme").await;
        app.create_tenant("other").await;
        for i in [3, 1, 5, 2, 4] {
            app.create_client("acme", json!({"id": format!("client-{i}"), "name": "c", "app_type": "spa"})).await;
        }
        app.create_client("other", json!({"id": "client-0", "name": "c", "app_type": "spa"})).await;
        let mut seen = Vec::new();
        let mut path = "/tenants/acme/clients?limit=2".to_owned();
        let mut pages = 0;
        loop {
            let page = app.admin().get(&path).await;
            assert_eq!(page.status, 200, "{}", page.text);
            pages += 1;
            seen.extend(page.json["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
            match page.json["next_cursor"].as_str() {
                Some(cursor) => path = format!("/tenants/acme/clients?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, ["client-1", "client-2", "client-3", "client-4", "client-5"]);
        let first = app.admin().get("/tenants/acme/clients").await;
        assert_eq!(first.json["items"][0]["name"], "c");
        assert!(first.json["items"][0].get("secret").is_none());
    }

    async fn listing_checks_its_limit_and_tenant(app) {
        app.create_tenant("acme").await;
        app.admin().get("/tenants/acme/clients?limit=201").await.assert_problem(400, "bad-request");
        app.admin().get("/tenants/ghost/clients").await.assert_problem(404, "not-found");
        let empty = app.admin().get("/tenants/acme/clients").await;
        assert_eq!((empty.status, &empty.json["items"]), (200, &json!([])));
        let past_the_end = app.admin().get("/tenants/ghost/clients?cursor=zzz").await;
        past_the_end.assert_problem(404, "not-found");
    }

    async fn deleting_a_client_removes_it_with_its_secret(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "Web", "app_type": "regular_web"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let deleted = app.admin().delete(&path).await;
        assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
        app.admin().get(&path).await.assert_problem(404, "not-found");
        app.admin().delete(&path).await.assert_problem(404, "not-found");
        assert_eq!(app.count_rows("client_secrets").await, 0);
    }

    async fn a_tenant_with_clients_cannot_be_deleted(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "Web", "app_type": "spa"})).await;
        let refused = app.admin().delete("/tenants/acme").await;
        let problem = refused.assert_problem(409, "conflict");
        assert!(problem["detail"].as_str().unwrap().contains("clients"));
        assert_eq!(app.admin().get("/tenants/acme").await.status, 200);
        app.admin().delete(&format!("/clients/{}", c["id"].as_str().unwrap())).await;
        assert_eq!(app.admin().delete("/tenants/acme").await.status, 204);
    }

    async fn another_tenants_client_is_404_for_read_patch_and_delete(app) {
        app.create_tenant("a").await;
        app.create_tenant("b").await;
        let c = app.create_client("a", json!({"name": "Secret project", "app_type": "spa"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let outsider = app.create_token(&["client.write"], &["b"]).await;
        let caller = app.with_token(&outsider);
        let missing = caller.get("/clients/does-not-exist").await;
        for response in [
            caller.get(&path).await,
            caller.patch(&path, json!([{"op": "replace", "path": "/name", "value": "pwned"}])).await,
            caller.delete(&path).await,
        ] {
            response.assert_problem(404, "not-found");
            assert_eq!(response.json["detail"], missing.json["detail"]);
        }
        caller.get("/tenants/a/clients").await.assert_problem(404, "not-found");
        assert_eq!(app.admin().get(&path).await.json["name"], "Secret project");
    }

    async fn creating_where_the_token_cannot_write_is_403(app) {
        app.create_tenant("a").await;
        app.create_tenant("b").await;
        let body = json!({"name": "x", "app_type": "spa"});
        let reader = app.create_token(&["client.read"], &["a"]).await;
        let other_writer = app.create_token(&["client.write"], &["b"]).await;
        let global_reader = app.create_token(&["client.read.all"], &[]).await;
        for token in [&reader, &other_writer, &global_reader] {
            app.with_token(token).post("/tenants/a/clients", body.clone()).await.assert_problem(403, "forbidden");
        }
        assert_eq!(app.count_rows("clients").await, 0);
        let writer = app.create_token(&["client.write"], &["a"]).await;
        assert_eq!(app.with_token(&writer).post("/tenants/a/clients", body.clone()).await.status, 201);
        let sailpoint = app.create_token(&["sp:oauth-client:manage"], &[]).await;
        assert_eq!(app.with_token(&sailpoint).post("/tenants/b/clients", body).await.status, 201);
    }

    async fn a_reader_sees_clients_but_cannot_change_them(app) {
        app.create_tenant("a").await;
        let c = app.create_client("a", json!({"name": "Web", "app_type": "spa"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let reader = app.create_token(&["client.read"], &["a"]).await;
        let caller = app.with_token(&reader);
        assert_eq!(caller.get(&path).await.status, 200);
        assert_eq!(caller.get("/tenants/a/clients").await.status, 200);
        caller.patch(&path, json!([{"op": "replace", "path": "/name", "value": "x"}])).await.assert_problem(403, "forbidden");
        caller.delete(&path).await.assert_problem(403, "forbidden");
    }

    async fn moving_a_client_needs_write_on_both_tenants(app) {
        for tenant in ["a", "b"] {
            app.create_tenant(tenant).await;
        }
        let c = app.create_client("a", json!({"name": "Web", "app_type": "spa"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let move_to = |tenant: &str| json!([{"op": "replace", "path": "/tenant", "value": tenant}]);
        let one_side = app.create_token(&["client.write"], &["a"]).await;
        app.with_token(&one_side).patch(&path, move_to("b")).await.assert_problem(403, "forbidden");
        let both = app.create_token(&["client.write"], &["a", "b"]).await;
        let moved = app.with_token(&both).patch(&path, move_to("b")).await;
        assert_eq!(moved.status, 200, "{}", moved.text);
        assert_eq!(moved.json["tenant"], "b");
        assert_eq!(app.admin().get("/tenants/b/clients").await.json["items"][0]["id"], c["id"]);
        assert_eq!(app.admin().get("/tenants/a/clients").await.json["items"], json!([]));
        app.patch(&path, "application/json-patch+json", None, move_to("ghost")).await.assert_invalid_fields(&["/tenant"]);
        app.patch(&path, "application/json-patch+json", None, move_to("Not Valid")).await.assert_invalid_fields(&["/tenant"]);
    }
}
