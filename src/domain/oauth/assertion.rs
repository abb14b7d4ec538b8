//! `private_key_jwt` client assertions (RFC 7523, with RFC 10070's audience rule): a JWT the
//! client signs with a key it registered as a credential.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::{Map, Value};

use super::jws;
use crate::domain::client::ClientId;
use crate::domain::credential::{Alg, Credential, CredentialType};
use crate::domain::time::Timestamp;

/// RFC 7521's `client_assertion_type` for a JWT.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
const SKEW: i64 = 60;
/// The furthest ahead an assertion may expire, in seconds.
const MAX_LIFETIME: i64 = 300;
const MAX_JTI: usize = 256;

/// What a verified assertion leaves to be done: its `jti` must not have been used before,
/// and is remembered until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub jti: String,
    pub expires_at: Timestamp,
}

/// The client an assertion says it is from (its `iss`), read before any signature is
/// checked, to find the keys that check it. None when there is no string `iss`.
pub fn claimed_client(assertion: &str) -> Option<String> {
    let jws = jws::decode(assertion).ok()?;
    jws.claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks an assertion from `client`, signed by one of its live keys, for one of
/// `audiences` (the issuer; also the token endpoint when configured so).
pub fn verify(
    assertion: &str,
    client: &ClientId,
    credentials: &[Credential],
    audiences: &[String],
    now: Timestamp,
) -> Result<Verified, String> {
    let jws = jws::decode(assertion).map_err(|why| format!("client_assertion {why}"))?;
    check_header(&jws.header)?;
    let alg = Alg::parse(&jws.header.alg).map_err(|_| {
        format!(
            "client_assertion is signed with {:?}; sign it with the alg of a registered key (RS256, RS384 or PS256); none and HMAC are never accepted",
            jws.header.alg
        )
    })?;
    let candidates: Vec<&Credential> = (credentials.iter())
        .filter(|c| c.credential_type != CredentialType::CertSubjectDn && c.is_live(now))
        // A certificate's key is good until its notAfter, whatever expires_at says.
        .filter(|c| {
            c.certificate_expires_at
                .is_none_or(|not_after| not_after > now)
        })
        .filter(|c| match (&jws.header.kid, &jws.header.x5t_s256) {
            (Some(kid), _) => c.kid.as_ref() == Some(kid),
            (None, Some(x5t)) => c.thumbprint_sha256.as_ref() == Some(x5t),
            (None, None) => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(
            "no live key of this client matches the client_assertion's kid or x5t#S256: register the public key as a credential, or check its expiry".to_owned(),
        );
    }
    let signed = candidates
        .iter()
        .filter(|c| c.alg == Some(alg))
        .any(|c| signature_holds(c, alg, jws.signing_input.as_bytes(), &jws.signature));
    if !signed {
        return Err(format!(
            "the client_assertion's signature does not verify with a live {} key of this client",
            alg.as_str()
        ));
    }
    check_claims(&jws.claims, client, audiences, now)
}

fn check_header(header: &jws::Header) -> Result<(), String> {
    match header.typ.as_deref() {
        None | Some("JWT" | "client-authentication+jwt") => Ok(()),
        Some(other) => Err(format!(
            "client_assertion has typ {other:?}; use JWT or client-authentication+jwt, or leave it out"
        )),
    }
}

fn signature_holds(credential: &Credential, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
    let algorithm: &dyn VerificationAlgorithm = match alg {
        Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
    };
    match credential.public_key_der() {
        Some(Ok(der)) => UnparsedPublicKey::new(algorithm, der)
            .verify(message, signature)
            .is_ok(),
        _ => false,
    }
}

fn check_claims(
    claims: &Map<String, Value>,
    client: &ClientId,
    audiences: &[String],
    now: Timestamp,
) -> Result<Verified, String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client.as_str()) || text("sub") != Some(client.as_str()) {
        return Err("client_assertion must have iss and sub both the client id".to_owned());
    }
    let audience = match claims.get("aud") {
        Some(Value::String(one)) => Some(one.as_str()),
        Some(Value::Array(list)) if list.len() == 1 => list[0].as_str(),
        _ => None,
    };
    if !audience.is_some_and(|aud| audiences.iter().any(|accepted| accepted == aud)) {
        return Err(format!(
            "client_assertion's aud must be the issuer {:?} as its sole value",
            audiences.first().map_or("", String::as_str)
        ));
    }
    let seconds = |name: &str| claims.get(name).map(|value| value.as_i64().ok_or(()));
    let now_secs = now.timestamp();
    let exp = match seconds("exp") {
        None => return Err("client_assertion must have exp".to_owned()),
        Some(Err(_)) => return Err("client_assertion's exp must be an integer".to_owned()),
        Some(Ok(exp)) => exp,
    };
    if exp.saturating_add(SKEW) <= now_secs {
        return Err("client_assertion has expired".to_owned());
    }
    if exp > now_secs + MAX_LIFETIME + SKEW {
        return Err(format!(
            "client_assertion's exp is more than {MAX_LIFETIME} seconds ahead; make assertions short-lived"
        ));
    }
    for name in ["nbf", "iat"] {
        match seconds(name) {
            Some(Err(_)) => return Err(format!("client_assertion's {name} must be an integer")),
            Some(Ok(at)) if at > now_secs + SKEW => {
                return Err(format!("client_assertion's {name} is in the future"));
            }
            _ => {}
        }
    }
    let jti = match text("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI && !jti.contains('\0') => jti,
        _ => {
            return Err(format!(
                "client_assertion must have a jti of 1 to {MAX_JTI} characters, unique per assertion"
            ));
        }
    };
    Ok(Verified {
        jti: jti.to_owned(),
        expires_at: chrono::DateTime::from_timestamp(exp.saturating_add(SKEW), 0).unwrap_or(now),
    })
}
