//! A client assertion for `private_key_jwt` (RFC 7523), built and signed here with ring: the
//! client's private key never leaves this machine, only a JWT that is good for a minute.

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{self, RsaEncoding, RsaKeyPair};
use serde_json::json;
use x509_cert::der::pem;

use super::api::Failure;
use super::args::AssertionAlg;
use super::input;
use crate::domain::oauth::jws;

/// How long an assertion is good for: enough to reach the server, and far below the five
/// minutes it accepts.
const LIFETIME_SECS: i64 = 60;

/// Who is asking whom: the claims a client assertion makes.
pub struct Claims<'a> {
    pub client_id: &'a str,
    /// The tenant's issuer, as its metadata names it: the assertion's sole audience.
    pub issuer: &'a str,
    /// Seconds since the epoch.
    pub now: i64,
}

/// A client's RSA private key, read from a PEM file, and the algorithm it signs with.
/// ring's key pair shows only its public half in `Debug`.
pub struct PrivateKey {
    pair: RsaKeyPair,
    alg: AssertionAlg,
}

impl PrivateKey {
    /// The key in a PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY") PEM file.
    pub fn read(path: &Path, alg: AssertionAlg) -> Result<Self, Failure> {
        Self::from_pem(&input::text(path)?, alg)
            .map_err(|why| Failure::Usage(format!("{}: {why}", path.display())))
    }

    fn from_pem(text: &str, alg: AssertionAlg) -> Result<Self, String> {
        let (label, der) = pem::decode_vec(text.trim().as_bytes())
            .map_err(|_| "is not a PEM file with one private key".to_owned())?;
        let pair = match label {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "ENCRYPTED PRIVATE KEY" => {
                return Err("holds an encrypted key: decrypt it first \
                     (openssl pkey -in KEY.pem -out PLAIN.pem)"
                    .to_owned());
            }
            other => {
                return Err(format!(
                    "holds a {other}, not a PRIVATE KEY or an RSA PRIVATE KEY"
                ));
            }
        };
        let pair = pair.map_err(|rejected| {
            format!("is not an RSA private key of 2048 to 4096 bits ({rejected})")
        })?;
        Ok(Self { pair, alg })
    }

    /// A signed assertion of `claims`, with `kid` in its header when given (without it, the
    /// server tries each of the client's keys), and a `jti` of its own so it is used once.
    pub fn assertion(&self, claims: &Claims, kid: Option<&str>) -> Result<String, Failure> {
        let mut header = json!({"alg": alg_name(self.alg), "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        let body = json!({
            "iss": claims.client_id,
            "sub": claims.client_id,
            "aud": claims.issuer,
            "iat": claims.now,
            "exp": claims.now + LIFETIME_SECS,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let input = jws::signing_input(&header, &body);
        let mut signature = vec![0; self.pair.public().modulus_len()];
        (self.pair)
            .sign(
                padding(self.alg),
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Failure::Local("cannot sign the client assertion".to_owned()))?;
        Ok(jws::finish(input, &signature))
    }
}

fn alg_name(alg: AssertionAlg) -> &'static str {
    match alg {
        AssertionAlg::Rs256 => "RS256",
        AssertionAlg::Rs384 => "RS384",
        AssertionAlg::Ps256 => "PS256",
    }
}

fn padding(alg: AssertionAlg) -> &'static dyn RsaEncoding {
    match alg {
        AssertionAlg::Rs256 => &signature::RSA_PKCS1_SHA256,
        AssertionAlg::Rs384 => &signature::RSA_PKCS1_SHA384,
        AssertionAlg::Ps256 => &signature::RSA_PSS_SHA256,
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ring::signature::{KeyPair, UnparsedPublicKey};
    use serde_json::Value;

    use super::*;

    fn fixture(name: &str) -> String {
        let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");
        std::fs::read_to_string(format!("{keys}{name}")).unwrap()
    }

    fn decoded(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn an_assertion_says_who_asks_whom_and_verifies_with_each_alg() {
        let claims = Claims {
            client_id: "c1",
            issuer: "https://auth.example/tenants/acme",
            now: 1_800_000_000,
        };
        let verifiers: [(AssertionAlg, &dyn signature::VerificationAlgorithm); 3] = [
            (AssertionAlg::Rs256, &signature::RSA_PKCS1_2048_8192_SHA256),
            (AssertionAlg::Rs384, &signature::RSA_PKCS1_2048_8192_SHA384),
            (AssertionAlg::Ps256, &signature::RSA_PSS_2048_8192_SHA256),
        ];
        for (alg, verifier) in verifiers {
            let key = PrivateKey::from_pem(&fixture("rsa2048-a-private.pem"), alg).unwrap();
            let token = key.assertion(&claims, Some("k1")).unwrap();
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = decoded(parts[0]);
            assert_eq!(
                header,
                json!({"alg": alg_name(alg), "typ": "JWT", "kid": "k1"})
            );
            let body = decoded(parts[1]);
            assert_eq!(body["iss"], "c1");
            assert_eq!(body["sub"], "c1");
            assert_eq!(body["aud"], "https://auth.example/tenants/acme");
            assert_eq!(body["iat"], 1_800_000_000);
            assert_eq!(body["exp"], 1_800_000_060);
            assert!(uuid::Uuid::parse_str(body["jti"].as_str().unwrap()).is_ok());
            let public = UnparsedPublicKey::new(verifier, key.pair.public_key().as_ref());
            let signed = format!("{}.{}", parts[0], parts[1]);
            let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            assert!(
                public.verify(signed.as_bytes(), &signature).is_ok(),
                "{alg:?}"
            );
        }
        let key =
            PrivateKey::from_pem(&fixture("rsa2048-a-private.pem"), AssertionAlg::Rs256).unwrap();
        let (first, second) = (key.assertion(&claims, None), key.assertion(&claims, None));
        let jti = |token: String| decoded(token.split('.').nth(1).unwrap())["jti"].clone();
        assert_ne!(
            jti(first.unwrap()),
            jti(second.unwrap()),
            "each is used once"
        );
    }

    #[test]
    fn a_pkcs1_key_is_the_same_key() {
        let pkcs8 =
            PrivateKey::from_pem(&fixture("rsa2048-a-private.pem"), AssertionAlg::Rs256).unwrap();
        let pkcs1 =
            PrivateKey::from_pem(&fixture("rsa2048-a-private-pkcs1.pem"), AssertionAlg::Rs256)
                .unwrap();
        assert_eq!(
            pkcs8.pair.public_key().as_ref(),
            pkcs1.pair.public_key().as_ref()
        );
    }

    #[test]
    fn what_is_not_an_rsa_private_key_is_named() {
        let public = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keys/rsa2048-a-public.pem"
        );
        let public = std::fs::read_to_string(public).unwrap();
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        for (text, why) in [
            (public.as_str(), "PUBLIC KEY, not a PRIVATE KEY"),
            (encrypted, "decrypt it first"),
            ("not a pem", "not a PEM file"),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "2048 to 4096",
            ),
        ] {
            let refused = PrivateKey::from_pem(text, AssertionAlg::Rs256)
                .err()
                .unwrap();
            assert!(refused.contains(why), "{why}: {refused}");
        }
    }
}
