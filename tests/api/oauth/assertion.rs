//! `private_key_jwt`: client assertions (RFC 7523, RFC 10070) signed with a registered key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::RsaKeyPair;
use serde_json::{Value, json};

use super::*;
use crate::helpers::{TestApp, fixture};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client that authenticates with private_key_jwt, holding rsa2048-a; returns its id and
/// the key's kid.
async fn keyed_client(app: &TestApp) -> (String, String) {
    let (client, kid, _) = keyed_client_with_secret(app).await;
    (client, kid)
}

async fn keyed_client_with_secret(app: &TestApp) -> (String, String, String) {
    let client = machine(app, "acme", json!({})).await;
    let credential = app.admin().post(&format!("/clients/{}/credentials", client.id), json!({
        "credential_type": "public_key", "name": "signer", "pem": fixture("rsa2048-a-public.pem"),
    })).await;
    assert_eq!(credential.status, 201, "{}", credential.text);
    let patched = app
        .patch(
            &format!("/clients/{}", client.id),
            "application/json-patch+json",
            None,
            json!([{"op": "replace", "path": "/clientAuthMethod", "value": "private_key_jwt"}]),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let kid = credential.json["kid"].as_str().unwrap().to_owned();
    (client.id, kid, client.secret)
}

fn private_key() -> RsaKeyPair {
    let pem = fixture("rsa2048-a-private.pem");
    let base64: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .unwrap();
    RsaKeyPair::from_pkcs8(&der).unwrap()
}

/// A JWT of `header` and `claims` signed RS256 with rsa2048-a.
fn signed(header: &Value, claims: &Value) -> String {
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let input = format!("{}.{}", encode(header), encode(claims));
    let key = private_key();
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn claims(app: &TestApp, client: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": client, "sub": client, "aud": app.url("/tenants/acme"),
        "iat": now, "exp": now + 120, "jti": uuid::Uuid::new_v4().to_string(),
    })
}

async fn token_by_assertion(app: &TestApp, assertion: &str) -> TestResponse {
    post_form(
        app,
        "/tenants/acme/oauth2/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

on_both_stores! {
    async fn a_signed_assertion_gets_a_token_once(app) {
        let (client, kid) = keyed_client(&app).await;
        let assertion = signed(&json!({"alg": "RS256", "kid": kid, "typ": "JWT"}), &claims(&app, &client));
        let answer = token_by_assertion(&app, &assertion).await;
        let (_, issued) = verified(&access_token(&answer), &jwks(&app, "acme").await);
        assert_eq!(issued["client_id"], client.as_str());
        // The same assertion again is a replay.
        let why = assert_oauth_error(&token_by_assertion(&app, &assertion).await, 401, "invalid_client");
        assert!(why.contains("jti"), "{why}");
        // Without kid, each live key is tried; an array audience of the issuer alone is fine.
        let mut no_kid = claims(&app, &client);
        no_kid["aud"] = json!([app.url("/tenants/acme")]);
        let answer = token_by_assertion(&app, &signed(&json!({"alg": "RS256"}), &no_kid)).await;
        access_token(&answer);
    }

    async fn a_client_that_moved_to_its_key_no_longer_authenticates_with_its_secret(app) {
        let (client, _, secret) = keyed_client_with_secret(&app).await;
        let leftover = Machine { id: client.clone(), secret };
        let why = assert_oauth_error(&token_for(&app, "acme", &leftover, &[]).await, 401, "invalid_client");
        assert!(why.contains("private_key_jwt"), "{why}");
        assert_oauth_error(&introspect(&app, "acme", &leftover, "x.y.z").await, 401, "invalid_client");
    }

    async fn of_two_requests_with_one_assertion_at_once_one_gets_a_token(app) {
        let (client, kid) = keyed_client(&app).await;
        let assertion = signed(&json!({"alg": "RS256", "kid": kid}), &claims(&app, &client));
        let (first, second) = tokio::join!(token_by_assertion(&app, &assertion), token_by_assertion(&app, &assertion));
        let mut statuses = [first.status, second.status];
        statuses.sort();
        assert_eq!(statuses, [200, 401], "{} / {}", first.text, second.text);
    }

    async fn assertions_that_break_a_rule_are_refused(app) {
        let (client, kid) = keyed_client(&app).await;
        let header = json!({"alg": "RS256", "kid": kid});
        let now = chrono::Utc::now().timestamp();
        let with = |name: &str, value: Value| {
            let mut claims = claims(&app, &client);
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value;
            }
            signed(&header, &claims)
        };
        let token_endpoint = app.url("/tenants/acme/oauth2/token");
        for (assertion, expected) in [
            (with("aud", json!(token_endpoint)), "aud"),
            (with("aud", json!([app.url("/tenants/acme"), "https://other.example"])), "aud"),
            (with("aud", json!("https://other.example")), "aud"),
            (with("exp", Value::Null), "exp"),
            (with("exp", json!(now - 120)), "expired"),
            (with("exp", json!(now + 3600)), "300 seconds"),
            (with("nbf", json!(now + 600)), "nbf"),
            (with("jti", Value::Null), "jti"),
            (with("sub", json!("someone-else")), "iss and sub"),
            (with("iss", json!("someone-else")), "no such client"),
            (signed(&json!({"alg": "RS256", "kid": "unknown-kid-1"}), &claims(&app, &client)), "kid"),
            (signed(&json!({"alg": "RS256", "kid": kid, "typ": "at+jwt"}), &claims(&app, &client)), "typ"),
            (signed(&json!({"alg": "RS384", "kid": kid}), &claims(&app, &client)), "signature"),
        ] {
            let why = assert_oauth_error(&token_by_assertion(&app, &assertion).await, 401, "invalid_client");
            assert!(why.contains(expected), "{expected}: {why}");
        }
        // `none` and HMAC are never taken, whatever the signature says.
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let claims = claims(&app, &client);
        for alg in ["none", "HS256"] {
            let unsigned = format!("{}.{}.", encode(&json!({"alg": alg})), encode(&claims));
            let why = assert_oauth_error(&token_by_assertion(&app, &unsigned).await, 401, "invalid_client");
            assert!(why.contains("none and HMAC"), "{why}");
        }
    }
}

mod endpoint_audience {
    use super::*;

    on_both_stores! {
        with |s: &mut clientd::config::Settings| s.accept_token_endpoint_audience = true;

        async fn the_token_endpoint_as_audience_is_taken_when_configured(app) {
            let (client, kid) = keyed_client(&app).await;
            let mut claims = claims(&app, &client);
            claims["aud"] = json!(app.url("/tenants/acme/oauth2/token"));
            let answer = token_by_assertion(&app, &signed(&json!({"alg": "RS256", "kid": kid}), &claims)).await;
            access_token(&answer);
        }
    }
}
