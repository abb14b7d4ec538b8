//! Clients: the Nexus create request onto the canonical document, defaults and rules, read,
//! keyset-paged lists, delete, and the tenant walls. Creation is here; what follows it, from
//! a read to a delete and the walls around each, is in `after_creation`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

mod after_creation;

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
}
