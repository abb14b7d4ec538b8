//! The token endpoint (DESIGN 15): client credentials with a secret or a signed assertion,
//! access tokens checked against the published JWKS with ring (not clientd's own code),
//! signing keys and their rotation, introspection and revocation.

mod assertion;
mod introspect;
mod keys;
mod token;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, UnparsedPublicKey};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

/// A machine client: its id and secret.
pub struct Machine {
    pub id: String,
    pub secret: String,
}

/// Creates `tenant` and a non_interactive client in it, with two scopes and `extra` fields.
pub async fn machine(app: &TestApp, tenant: &str, extra: Value) -> Machine {
    app.create_tenant(tenant).await;
    machine_in(app, tenant, extra).await
}

/// A non_interactive client in an existing tenant.
pub async fn machine_in(app: &TestApp, tenant: &str, extra: Value) -> Machine {
    let mut request = json!({
        "name": "Billing job", "app_type": "non_interactive",
        "scope": ["invoices:read", "invoices:write"],
    });
    for (name, value) in extra.as_object().unwrap() {
        request[name] = value.clone();
    }
    let created = app.create_client(tenant, request).await;
    Machine {
        id: created["id"].as_str().unwrap().to_owned(),
        secret: created["secret"].as_str().unwrap().to_owned(),
    }
}

/// `Authorization: Basic` as RFC 6749 2.3.1 builds it: each part form-urlencoded first.
pub fn basic(id: &str, secret: &str) -> String {
    let encode =
        |part: &str| url::form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// POSTs a form to one of the tenant's OAuth endpoints, with an `Authorization` if given.
pub async fn post_form(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
    form: &[(&str, &str)],
) -> TestResponse {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let request = (app.anonymous().raw(reqwest::Method::POST, path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    match authorization {
        Some(authorization) => {
            app.with_authorization(authorization)
                .send_raw(request)
                .await
        }
        None => app.anonymous().send_raw(request).await,
    }
}

/// A token for a client by client_secret_basic.
pub async fn token_for(
    app: &TestApp,
    tenant: &str,
    client: &Machine,
    form: &[(&str, &str)],
) -> TestResponse {
    let mut form = form.to_vec();
    form.insert(0, ("grant_type", "client_credentials"));
    let path = format!("/tenants/{tenant}/oauth2/token");
    post_form(app, &path, Some(&basic(&client.id, &client.secret)), &form).await
}

/// The access token of a 200 answer, which must be a whole RFC 6749 5.1 answer.
pub fn access_token(answer: &TestResponse) -> String {
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.json["token_type"], "Bearer");
    assert!(answer.json["expires_in"].as_i64().unwrap() > 0);
    answer.json["access_token"].as_str().unwrap().to_owned()
}

/// Asserts an RFC 6749 5.2 refusal with this status and code; returns its description.
pub fn assert_oauth_error(answer: &TestResponse, status: u16, code: &str) -> String {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{}",
        answer.text
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.json["error"], code, "{}", answer.text);
    let description = answer.json["error_description"].as_str().unwrap();
    assert!(!description.is_empty());
    description.to_owned()
}

pub async fn jwks(app: &TestApp, tenant: &str) -> Value {
    let answer = app
        .anonymous()
        .get(&format!("/tenants/{tenant}/oauth2/jwks.json"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("public, max-age=300"));
    answer.json
}

/// The header and claims of a JWT whose signature one of the JWKS's keys verifies, as a
/// resource server checks it; panics if none does.
pub fn verified(token: &str, jwks: &Value) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let part = |i: usize| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[i]).unwrap()).unwrap()
    };
    let (header, claims) = (part(0), part(1));
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let message = format!("{}.{}", parts[0], parts[1]);
    let key = (jwks["keys"].as_array().unwrap().iter())
        .find(|key| key["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("no key {} in {jwks}", header["kid"]));
    let b = |member: &str| {
        URL_SAFE_NO_PAD
            .decode(key[member].as_str().unwrap())
            .unwrap()
    };
    let checked = match header["alg"].as_str().unwrap() {
        "ES256" => UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            [vec![4], b("x"), b("y")].concat(),
        )
        .verify(message.as_bytes(), &signature),
        "EdDSA" => UnparsedPublicKey::new(&signature::ED25519, b("x"))
            .verify(message.as_bytes(), &signature),
        "RS256" => signature::RsaPublicKeyComponents {
            n: b("n"),
            e: b("e"),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            message.as_bytes(),
            &signature,
        ),
        other => panic!("unexpected alg {other}"),
    };
    assert!(
        checked.is_ok(),
        "the signature of {token} does not verify with {key}"
    );
    assert_eq!(key["alg"], header["alg"]);
    (header, claims)
}

/// Introspects `token` as the client.
pub async fn introspect(
    app: &TestApp,
    tenant: &str,
    client: &Machine,
    token: &str,
) -> TestResponse {
    let path = format!("/tenants/{tenant}/oauth2/introspect");
    post_form(
        app,
        &path,
        Some(&basic(&client.id, &client.secret)),
        &[("token", token)],
    )
    .await
}
