//! JWS compact serialization (RFC 7515): three base64url parts, a JSON header, JSON claims
//! and a signature over the first two. Only what access tokens and client assertions need.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Longer than any assertion or access token clientd issues or accepts; a longer one is
/// refused before anything is decoded.
pub const MAX_BYTES: usize = 16 * 1024;

/// A JWS header, as far as clientd reads one.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: Option<String>,
    /// Extensions the signer says must be understood (RFC 7515 4.1.11): clientd
    /// understands none, so a token naming any is refused.
    pub crit: Option<Value>,
}

/// A decoded, not yet verified, JWS.
#[derive(Debug)]
pub struct Jws<'a> {
    pub header: Header,
    pub claims: Map<String, Value>,
    /// The first two parts as sent, which the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// Why a text is not a JWS this server reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("is longer than {MAX_BYTES} bytes")]
    TooLong,
    #[error("is not a JWS in compact form (three base64url parts joined by '.')")]
    NotCompact,
    #[error("has a header that is not a JSON object with alg")]
    Header,
    #[error("has claims that are not a JSON object")]
    Claims,
    #[error("names critical header extensions (crit), which this server does not understand")]
    Critical,
}

pub fn decode(token: &str) -> Result<Jws<'_>, Malformed> {
    if token.len() > MAX_BYTES {
        return Err(Malformed::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed::NotCompact);
    };
    let bytes = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| Malformed::NotCompact)
    };
    let header: Header = serde_json::from_slice(&bytes(header)?).map_err(|_| Malformed::Header)?;
    if header.crit.is_some() {
        return Err(Malformed::Critical);
    }
    let claims = serde_json::from_slice(&bytes(claims)?).map_err(|_| Malformed::Claims)?;
    Ok(Jws {
        header,
        claims,
        signing_input: &token[..token.len() - signature.len() - 1],
        signature: bytes(signature)?,
    })
}

/// The signing input of a header and claims: what `sign` signs, and `finish` completes.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}", part(header), part(claims))
}

/// The compact JWS of a signing input and its signature.
pub fn finish(signing_input: String, signature: &[u8]) -> String {
    let mut token = signing_input;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_reads_back_as_written() {
        let input = signing_input(&json!({"alg": "ES256", "kid": "k1"}), &json!({"sub": "c"}));
        let token = finish(input.clone(), b"sig");
        let jws = decode(&token).unwrap();
        assert_eq!(jws.header.alg, "ES256");
        assert_eq!(jws.header.kid.as_deref(), Some("k1"));
        assert_eq!(jws.claims["sub"], "c");
        assert_eq!(jws.signing_input, input);
        assert_eq!(jws.signature, b"sig");
    }

    #[test]
    fn refuses_what_is_not_a_compact_jws() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"c"}"#);
        let crit = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","crit":["b64"]}"#);
        for (token, why) in [
            ("a.b".to_owned(), Malformed::NotCompact),
            (format!("{header}.{claims}.x.y"), Malformed::NotCompact),
            (format!("{header}.{claims}.!!"), Malformed::NotCompact),
            (format!("{claims}.{claims}."), Malformed::Header),
            (format!("{header}.{header}x."), Malformed::NotCompact),
            (
                format!("{header}.{}.", URL_SAFE_NO_PAD.encode("[1]")),
                Malformed::Claims,
            ),
            (format!("{crit}.{claims}."), Malformed::Critical),
            ("a".repeat(MAX_BYTES + 1), Malformed::TooLong),
        ] {
            assert_eq!(decode(&token).unwrap_err(), why, "{token}");
        }
    }
}
