//! `clientd oauth token`: an access token from a tenant's token endpoint (DESIGN 15), asked
//! for as one of its machine clients. No admin token is sent: the client's secret, or an
//! assertion signed here with its private key, says who asks.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use url::form_urlencoded;

use super::api::{self, Api, Credentials, Failure};
use super::args::{Endpoint, SecretMethod, TokenRequest};
use super::assertion::{Claims, PrivateKey};
use super::input;
use super::output::{Printer, unwritten};
use crate::domain::secret::SecretString;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client proves who it is, one way per request (RFC 6749 2.3).
enum Proof {
    Secret(SecretString, SecretMethod),
    /// A signed client assertion (private_key_jwt).
    Assertion(String),
}

/// Asks for a token and prints it: only the access token, unless --output asks for the whole
/// answer.
pub async fn token(endpoint: Endpoint, request: TokenRequest) -> Result<(), Failure> {
    let api = Api::new(endpoint.url, Credentials::Client, endpoint.insecure_http)?;
    let proof = match &request.private_key_file {
        Some(path) => {
            // The key is read before anything is sent: a wrong file is a usage mistake.
            let key = PrivateKey::read(path, request.alg)?;
            let issuer = issuer(&api, &request.tenant).await?;
            let claims = Claims {
                client_id: &request.client_id,
                issuer: &issuer,
                now: chrono::Utc::now().timestamp(),
            };
            Proof::Assertion(key.assertion(&claims, request.kid.as_deref())?)
        }
        None => {
            let path = (request.client_secret_file.as_deref()).unwrap_or(Path::new("-"));
            Proof::Secret(input::secret(path)?, request.client_auth)
        }
    };
    // A token request changes nothing a second one would trip over: retrying is safe.
    let answer = api
        .send_retryable(token_request(&api, &request, &proof)?)
        .await?;
    let token = (answer.body.get("access_token").and_then(Value::as_str))
        .filter(|token| !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic()));
    let Some(token) = token else {
        return Err(api.not_clientd("a token answer without a printable access_token"));
    };
    match request.output {
        None => {
            let mut out = std::io::stdout().lock();
            (writeln!(out, "{token}").and_then(|()| out.flush())).map_err(unwritten)
        }
        Some(output) => {
            let fields = Vec::new();
            Printer { output, fields }.one(&answer)
        }
    }
}

/// The tenant's issuer, from its RFC 8414 metadata: an assertion's audience must be exactly
/// it, and it follows the server's CLIENTD_PUBLIC_URL, which need not be --url.
async fn issuer(api: &Api, tenant: &str) -> Result<String, Failure> {
    let path = [
        ".well-known",
        "oauth-authorization-server",
        "tenants",
        tenant,
    ];
    let answer = api.send(api.request(Method::GET, api.url(&path)?)).await?;
    match answer.body.get("issuer").and_then(Value::as_str) {
        Some(issuer) if !issuer.is_empty() => Ok(issuer.to_owned()),
        _ => Err(api.not_clientd("authorization server metadata without an issuer")),
    }
}

/// The form a token request posts, with the client's proof where its method puts it.
fn token_request(
    api: &Api,
    request: &TokenRequest,
    proof: &Proof,
) -> Result<RequestBuilder, Failure> {
    let url = api.url(&["tenants", &request.tenant, "oauth2", "token"])?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    let scopes: Vec<&str> = (request.scope.iter())
        .flat_map(|scope| scope.split_whitespace())
        .collect();
    if !scopes.is_empty() {
        form.append_pair("scope", &scopes.join(" "));
    }
    if let Some(audience) = &request.audience {
        form.append_pair("audience", audience);
    }
    let mut http =
        (api.request(Method::POST, url)).header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    match proof {
        Proof::Secret(secret, SecretMethod::Basic) => {
            let basic = basic(&request.client_id, secret);
            http = http.header(AUTHORIZATION, api::sensitive(&basic, "the client secret")?);
        }
        Proof::Secret(secret, SecretMethod::Post) => {
            form.append_pair("client_id", &request.client_id);
            form.append_pair("client_secret", secret.expose());
        }
        Proof::Assertion(assertion) => {
            form.append_pair("client_assertion_type", ASSERTION_TYPE);
            form.append_pair("client_assertion", assertion);
        }
    }
    Ok(http.body(form.finish()))
}

/// `Authorization: Basic` as RFC 6749 2.3.1 builds it: each part form-urlencoded first.
fn basic(client_id: &str, secret: &SecretString) -> String {
    let encode = |part: &str| form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret.expose()));
    format!("Basic {}", STANDARD.encode(pair))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_before_base64() {
        let secret = SecretString::new("s:e cr%t".to_owned());
        let header = basic("client:1", &secret);
        let decoded = STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "client%3A1:s%3Ae+cr%25t"
        );
    }
}
