//! `POST /tenants/{id}/oauth2/token`: client credentials with a secret, and its refusals.

use serde_json::json;

use super::*;
use crate::helpers::TestApp;

on_both_stores! {
    with |s: &mut clientd::config::Settings| s.max_access_token_secs = 600;

    async fn a_secret_gets_an_rfc_9068_token_that_the_published_keys_verify(app) {
        let client = machine(&app, "acme", json!({"audiences": ["https://api.acme.example"]})).await;
        let answer = token_for(&app, "acme", &client, &[]).await;
        let token = access_token(&answer);
        assert_eq!(answer.header("pragma"), Some("no-cache"));
        assert_eq!(answer.json["scope"], "invoices:read invoices:write");
        // accessTokenValiditySeconds (3600 by default) is capped by the server's 600.
        assert_eq!(answer.json["expires_in"], 600);
        let (header, claims) = verified(&token, &jwks(&app, "acme").await);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], "ES256");
        let issuer = app.url("/tenants/acme");
        assert_eq!(claims["iss"], issuer.as_str());
        assert_eq!(claims["sub"], client.id.as_str());
        assert_eq!(claims["client_id"], client.id.as_str());
        assert_eq!(claims["aud"], "https://api.acme.example");
        assert_eq!(claims["tenant"], "acme");
        assert_eq!(claims["scope"], "invoices:read invoices:write");
        let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
        assert_eq!(exp - iat, 600);
        assert!((iat - chrono::Utc::now().timestamp()).abs() < 5);
        assert!(claims["jti"].as_str().is_some_and(|jti| uuid::Uuid::parse_str(jti).is_ok()));

        // The same under /v1, and by client_secret_post once the client says so.
        let patched = app.patch(&format!("/clients/{}", client.id), "application/json-patch+json", None,
            json!([{"op": "replace", "path": "/clientAuthMethod", "value": "client_secret_post"}])).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        let answer = post_form(&app, "/v1/tenants/acme/oauth2/token", None, &[
            ("grant_type", "client_credentials"), ("client_id", &client.id),
            ("client_secret", &client.secret), ("scope", "invoices:read"),
        ]).await;
        let (_, claims) = verified(&access_token(&answer), &jwks(&app, "acme").await);
        assert_eq!(claims["scope"], "invoices:read");
        // A client that authenticates by post may not use Basic.
        let by_basic = token_for(&app, "acme", &client, &[]).await;
        let why = assert_oauth_error(&by_basic, 401, "invalid_client");
        assert!(why.contains("client_secret_post"), "{why}");
        assert_eq!(by_basic.header("www-authenticate"), Some("Basic realm=\"clientd\""));
    }

    async fn audience_and_scope_are_what_the_client_may_ask_for(app) {
        let client = machine(&app, "acme", json!({
            "audiences": ["https://api.acme.example", "https://billing.acme.example"],
        })).await;
        let token = |form: &'static [(&'static str, &'static str)]| token_for(&app, "acme", &client, form);
        const BOTH: [(&str, &str); 2] = [("audience", "https://api.acme.example"), ("resource", "https://api.acme.example")];
        let (_, claims) = verified(&access_token(&token(&[]).await), &jwks(&app, "acme").await);
        assert_eq!(claims["aud"], json!(["https://api.acme.example", "https://billing.acme.example"]));
        for form in [&[("audience", "https://billing.acme.example")][..], &[("resource", "https://billing.acme.example")]] {
            let (_, claims) = verified(&access_token(&token(form).await), &jwks(&app, "acme").await);
            assert_eq!(claims["aud"], "https://billing.acme.example");
        }
        assert_oauth_error(&token(&[("audience", "https://evil.example")]).await, 400, "invalid_target");
        assert_oauth_error(&token(&BOTH).await, 400, "invalid_target");
        let why = assert_oauth_error(&token(&[("scope", "invoices:read admin")]).await, 400, "invalid_scope");
        assert!(why.contains("\"admin\""), "{why}");

        // Without audiences, the token is for the issuer.
        let plain = machine_in(&app, "acme", json!({})).await;
        let (_, claims) = verified(&access_token(&token_for(&app, "acme", &plain, &[]).await), &jwks(&app, "acme").await);
        assert_eq!(claims["aud"], app.url("/tenants/acme").as_str());
    }

    async fn during_a_rotation_both_secrets_get_tokens_until_it_completes(app) {
        let client = machine(&app, "acme", json!({})).await;
        let path = format!("/clients/{}/secrets", client.id);
        let started = app.admin().post(&format!("{path}/rotate/start"), json!({})).await;
        let next = Machine { id: client.id.clone(), secret: started.json["next_client_secret"].as_str().unwrap().to_owned() };
        access_token(&token_for(&app, "acme", &client, &[]).await);
        access_token(&token_for(&app, "acme", &next, &[]).await);
        // The telemetry shows the next secret in use.
        app.admin().get_until(&path, |s| !s["next"]["last_used"].is_null()).await;
        let completed = app.admin().post(&format!("{path}/rotate"), json!({})).await;
        assert_eq!(completed.status, 200, "{}", completed.text);
        assert_oauth_error(&token_for(&app, "acme", &client, &[]).await, 401, "invalid_client");
        access_token(&token_for(&app, "acme", &next, &[]).await);
    }

    async fn clients_that_may_not_get_tokens_are_refused_as_oauth_says(app) {
        let client = machine(&app, "acme", json!({})).await;
        let wrong = Machine { id: client.id.clone(), secret: "not-the-secret".to_owned() };
        let refused = token_for(&app, "acme", &wrong, &[]).await;
        assert_oauth_error(&refused, 401, "invalid_client");
        assert_eq!(refused.header("www-authenticate"), Some("Basic realm=\"clientd\""));
        // Another tenant's issuer does not know the client.
        app.create_tenant("other").await;
        assert_oauth_error(&token_for(&app, "other", &client, &[]).await, 401, "invalid_client");

        let web = machine_in(&app, "acme", json!({"app_type": "regular_web"})).await;
        assert_oauth_error(&token_for(&app, "acme", &web, &[]).await, 400, "unauthorized_client");

        let disabled = machine_in(&app, "acme", json!({"enabled": false})).await;
        let why = assert_oauth_error(&token_for(&app, "acme", &disabled, &[]).await, 401, "invalid_client");
        assert!(why.contains("disabled"), "{why}");

        let spa = app.create_client("acme", json!({"name": "Web", "app_type": "spa"})).await;
        let public = post_form(&app, "/tenants/acme/oauth2/token", None, &[
            ("grant_type", "client_credentials"), ("client_id", spa["id"].as_str().unwrap()),
        ]).await;
        let why = assert_oauth_error(&public, 401, "invalid_client");
        assert!(why.contains("PUBLIC"), "{why}");

        let jwt = machine_in(&app, "acme", json!({"client_auth_method": "client_secret_jwt"})).await;
        let why = assert_oauth_error(&token_for(&app, "acme", &jwt, &[]).await, 401, "invalid_client");
        assert!(why.contains("not supported"), "{why}");
    }

    async fn malformed_requests_are_invalid_requests(app) {
        let client = machine(&app, "acme", json!({})).await;
        let path = "/tenants/acme/oauth2/token";
        let auth = basic(&client.id, &client.secret);
        let unsupported = post_form(&app, path, Some(&auth), &[("grant_type", "password")]).await;
        assert_oauth_error(&unsupported, 400, "unsupported_grant_type");
        assert_oauth_error(&post_form(&app, path, Some(&auth), &[]).await, 400, "invalid_request");
        let repeated = post_form(&app, path, Some(&auth), &[("grant_type", "client_credentials"), ("scope", "a"), ("scope", "b")]).await;
        let why = assert_oauth_error(&repeated, 400, "invalid_request");
        assert!(why.contains("repeated"), "{why}");
        let two_ways = post_form(&app, path, Some(&auth), &[
            ("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", &client.secret),
        ]).await;
        assert_oauth_error(&two_ways, 400, "invalid_request");
        // JSON is not a form body.
        let json_body = app.with_authorization(&auth)
            .post(path, json!({"grant_type": "client_credentials"})).await;
        assert_oauth_error(&json_body, 400, "invalid_request");
        // An admin token is no client credential here.
        let bearer = post_form(&app, path, Some(&format!("Bearer {}", app.admin_token)), &[("grant_type", "client_credentials")]).await;
        assert_oauth_error(&bearer, 401, "invalid_client");
        // An unknown tenant is a problem that OAuth libraries can read too.
        let unknown = token_for(&app, "nope", &client, &[]).await;
        let problem = unknown.assert_problem(404, "not-found");
        assert_eq!(problem["error"], "invalid_request");
        assert!(problem["error_description"].as_str().is_some());
    }
}

mod limited {
    use super::*;

    on_both_stores! {
        with |s: &mut clientd::config::Settings| s.verify_failures_per_minute = 3;

        async fn failed_client_authentications_stop_only_that_client_from_that_address(app) {
            let client = machine(&app, "acme", json!({})).await;
            let other = machine_in(&app, "acme", json!({})).await;
            let wrong = Machine { id: client.id.clone(), secret: "guess".to_owned() };
            for _ in 0..3 {
                assert_oauth_error(&token_for(&app, "acme", &wrong, &[]).await, 401, "invalid_client");
            }
            token_for(&app, "acme", &wrong, &[]).await.assert_problem(429, "too-many-requests");
            // Past the limit even the right secret is refused, so the limit is no oracle.
            let limited = token_for(&app, "acme", &client, &[]).await;
            let problem = limited.assert_problem(429, "too-many-requests");
            assert_eq!(problem["error"], "temporarily_unavailable");
            assert!(limited.header("retry-after").is_some());
            // Another client from the same address is served.
            access_token(&token_for(&app, "acme", &other, &[]).await);
        }
    }
}

mod eddsa {
    use super::*;

    on_both_stores! {
        with |s: &mut clientd::config::Settings| s.token_signing_alg = clientd::domain::oauth::signing::SigningAlg::EdDSA;

        async fn tokens_are_signed_with_the_configured_algorithm(app) {
            let client = machine(&app, "acme", json!({})).await;
            let (header, _) = verified(&access_token(&token_for(&app, "acme", &client, &[]).await), &jwks(&app, "acme").await);
            assert_eq!(header["alg"], "EdDSA");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_verify_with_the_published_modulus() {
    let database = crate::helpers::TestDatabase::in_memory();
    let app = TestApp::spawn_with(database, |s| {
        s.token_signing_alg = clientd::domain::oauth::signing::SigningAlg::RS256;
    })
    .await;
    let client = machine(&app, "acme", json!({})).await;
    let token = access_token(&token_for(&app, "acme", &client, &[]).await);
    let (header, _) = verified(&token, &jwks(&app, "acme").await);
    assert_eq!(header["alg"], "RS256");
}
