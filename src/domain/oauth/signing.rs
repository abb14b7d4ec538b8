//! Token signing keys: generated, held and used with ring (constant time; RSA keys are
//! generated with the `rsa` crate, which ring cannot do, and signed with ring alone), and
//! published as JWKs named by their RFC 7638 thumbprint.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pkcs1::der::Decode;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The JWS algorithms clientd signs access tokens with (`CLIENTD_TOKEN_SIGNING_ALG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    ES256,
    EdDSA,
    RS256,
}

impl SigningAlg {
    pub const ALL: [Self; 3] = [Self::ES256, Self::EdDSA, Self::RS256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        (Self::ALL.into_iter())
            .find(|alg| alg.as_str() == text)
            .ok_or_else(|| format!("unknown signing algorithm {text:?}; use ES256, EdDSA or RS256"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the system's random number generator failed")]
    Random,
    #[error("a stored signing key could not be read: {0}")]
    Unreadable(String),
    #[error("signing failed")]
    Signing,
}

/// A private signing key, ready to sign. Never printed.
pub struct KeyPair {
    alg: SigningAlg,
    inner: Inner,
    rng: SystemRandom,
}

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.alg.as_str())
    }
}

/// A key just made: its PKCS#8 document (to be sealed before it is stored) and its pair.
pub struct GeneratedKey {
    pub pkcs8: Vec<u8>,
    pub pair: KeyPair,
}

impl KeyPair {
    pub fn generate(alg: SigningAlg) -> Result<GeneratedKey, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            SigningAlg::ES256 => {
                let ecdsa = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                EcdsaKeyPair::generate_pkcs8(ecdsa, &rng)
                    .map_err(|_| KeyError::Random)?
                    .as_ref()
                    .to_vec()
            }
            SigningAlg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| KeyError::Random)?
                .as_ref()
                .to_vec(),
            SigningAlg::RS256 => {
                use rsa::Generate as _;
                use rsa::pkcs8::EncodePrivateKey as _;
                let key = rsa::PrivateKey::try_generate().map_err(|_| KeyError::Random)?;
                let document = key.to_pkcs8_der().map_err(|_| KeyError::Random)?;
                document.as_bytes().to_vec()
            }
        };
        let pair = Self::from_pkcs8(alg, &pkcs8)?;
        Ok(GeneratedKey { pkcs8, pair })
    }

    pub fn from_pkcs8(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let unreadable = |e: ring::error::KeyRejected| KeyError::Unreadable(e.to_string());
        let inner = match alg {
            SigningAlg::ES256 => Inner::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
                    .map_err(unreadable)?,
            ),
            SigningAlg::EdDSA => {
                Inner::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(unreadable)?)
            }
            SigningAlg::RS256 => Inner::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(unreadable)?),
        };
        Ok(Self { alg, inner, rng })
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            Inner::Ecdsa(pair) => pair
                .sign(&self.rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            Inner::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Inner::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    message,
                    &mut signature,
                )
                .map_err(|_| KeyError::Signing)?;
                Ok(signature)
            }
        }
    }

    /// Whether `signature` over `message` is this key's.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let (algorithm, public): (&dyn signature::VerificationAlgorithm, &[u8]) = match &self.inner
        {
            Inner::Ecdsa(pair) => (
                &signature::ECDSA_P256_SHA256_FIXED,
                pair.public_key().as_ref(),
            ),
            Inner::Ed25519(pair) => (&signature::ED25519, pair.public_key().as_ref()),
            Inner::Rsa(pair) => (
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref(),
            ),
        };
        signature::UnparsedPublicKey::new(algorithm, public)
            .verify(message, signature)
            .is_ok()
    }

    /// The public half as a JWK (RFC 7517) with its `kid` (the RFC 7638 thumbprint), `alg`
    /// and `use: sig`.
    pub fn public_jwk(&self) -> Result<Value, KeyError> {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        // The thumbprint's input: the required members only, in lexicographic order.
        let (mut jwk, thumbprint_input) = match &self.inner {
            Inner::Ecdsa(pair) => {
                // An uncompressed SEC1 point: 0x04, then x and y of 32 bytes each.
                let point = pair.public_key().as_ref();
                let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
                let input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                (json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}), input)
            }
            Inner::Ed25519(pair) => {
                let x = b64(pair.public_key().as_ref());
                let input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                (json!({"kty": "OKP", "crv": "Ed25519", "x": x}), input)
            }
            Inner::Rsa(pair) => {
                let der = pair.public_key().as_ref();
                let key = pkcs1::RsaPublicKey::<pkcs1::der::asn1::UintRef<'_>>::from_der(der)
                    .map_err(|e| KeyError::Unreadable(e.to_string()))?;
                let n = b64(key.modulus.as_bytes());
                let e = b64(key.public_exponent.as_bytes());
                let input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                (json!({"kty": "RSA", "n": n, "e": e}), input)
            }
        };
        jwk["kid"] = Value::from(b64(&Sha256::digest(thumbprint_input)));
        jwk["alg"] = Value::from(self.alg.as_str());
        jwk["use"] = Value::from("sig");
        Ok(jwk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signature of each algorithm verifies with the published key, as a resource server
    /// would check it.
    #[test]
    fn each_algorithm_signs_what_its_jwk_verifies() {
        for alg in SigningAlg::ALL {
            let GeneratedKey { pkcs8, pair } = KeyPair::generate(alg).unwrap();
            let again = KeyPair::from_pkcs8(alg, &pkcs8).unwrap();
            let jwk = again.public_jwk().unwrap();
            assert_eq!(jwk, pair.public_jwk().unwrap());
            assert_eq!(jwk["kid"].as_str().unwrap().len(), 43, "{jwk}");
            let signature = pair.sign(b"message").unwrap();
            let b = |member: &str| {
                URL_SAFE_NO_PAD
                    .decode(jwk[member].as_str().unwrap())
                    .unwrap()
            };
            let verified = match alg {
                SigningAlg::ES256 => {
                    let point = [vec![4], b("x"), b("y")].concat();
                    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                        .verify(b"message", &signature)
                }
                SigningAlg::EdDSA => signature::UnparsedPublicKey::new(&signature::ED25519, b("x"))
                    .verify(b"message", &signature),
                SigningAlg::RS256 => signature::RsaPublicKeyComponents {
                    n: b("n"),
                    e: b("e"),
                }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    b"message",
                    &signature,
                ),
            };
            assert!(verified.is_ok(), "{alg:?}");
        }
    }
}
