//! Access tokens as RFC 9068 JWTs: signed by the tenant's current key, read back (for
//! introspection) only when a published key of the tenant signed them.

use serde_json::json;

use super::grant::AccessClaims;
use super::jws;
use super::signing::{KeyError, KeyPair};
use crate::domain::time::Timestamp;

/// RFC 9068's `typ`.
pub const TYP: &str = "at+jwt";

pub fn sign(claims: &AccessClaims, key: &KeyPair, kid: &str) -> Result<String, KeyError> {
    let header = json!({"typ": TYP, "alg": key.alg().as_str(), "kid": kid});
    let claims = serde_json::to_value(claims).map_err(|_| KeyError::Signing)?;
    let input = jws::signing_input(&header, &claims);
    let signature = key.sign(input.as_bytes())?;
    Ok(jws::finish(input, &signature))
}

/// The claims of a token that one of `keys` signed for `issuer`, unexpired at `now`; None
/// for anything else (malformed, foreign, expired, signed by a key not published).
pub fn read<'k>(
    token: &str,
    issuer: &str,
    key: impl Fn(&str) -> Option<&'k KeyPair>,
    now: Timestamp,
) -> Option<AccessClaims> {
    let jws = jws::decode(token).ok()?;
    if jws.header.typ.as_deref() != Some(TYP) {
        return None;
    }
    let pair = key(jws.header.kid.as_deref()?)?;
    if pair.alg().as_str() != jws.header.alg
        || !pair.verifies(jws.signing_input.as_bytes(), &jws.signature)
    {
        return None;
    }
    let claims: AccessClaims = serde_json::from_value(jws.claims.into()).ok()?;
    (claims.iss == issuer && claims.exp > now.timestamp()).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::oauth::signing::SigningAlg;
    use serde_json::Value;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: "http://127.0.0.1/tenants/acme".to_owned(),
            sub: "c1".to_owned(),
            client_id: "c1".to_owned(),
            aud: Value::from("http://127.0.0.1/tenants/acme"),
            iat: exp - 60,
            exp,
            jti: uuid::Uuid::now_v7().to_string(),
            scope: "read".to_owned(),
            tenant: "acme".to_owned(),
        }
    }

    #[test]
    fn a_token_reads_back_only_with_its_key_issuer_and_time() {
        let now = crate::domain::time::now();
        let key = KeyPair::generate(SigningAlg::ES256).unwrap().pair;
        let other = KeyPair::generate(SigningAlg::ES256).unwrap().pair;
        let issued = claims(now.timestamp() + 60);
        let token = sign(&issued, &key, "k1").unwrap();
        let by_kid = |kid: &str| (kid == "k1").then_some(&key);
        assert_eq!(read(&token, &issued.iss, by_kid, now), Some(issued.clone()));
        assert_eq!(read(&token, "http://elsewhere", by_kid, now), None);
        assert_eq!(read(&token, &issued.iss, |_| Some(&other), now), None);
        assert_eq!(read(&token, &issued.iss, |_| None, now), None);
        let later = now + chrono::TimeDelta::seconds(61);
        assert_eq!(read(&token, &issued.iss, by_kid, later), None);
        let tampered = token.replacen('.', ".e", 1);
        assert_eq!(read(&tampered, &issued.iss, by_kid, now), None);
        assert!(
            issued
                .issued_at()
                .is_some_and(|at| (at - now).num_seconds().abs() < 2)
        );
    }
}
