//! Client credentials (Auth0): RSA public keys and X.509 certificates, parsed with RustCrypto's
//! X.509, SPKI and PKCS#1 decoders, and certificate subject DNs (RFC 4514).

mod parse;

use serde::{Deserialize, Deserializer, Serialize};

use parse::{ParsedPem, credential_id, parse_pem, rsa_public_key_der, subject_dn};

use super::text::{multi_line, single_line};
use super::time::{Timestamp, rfc3339_millis};
use super::{Invalid, Violations};

const MAX_NAME: usize = 128;
/// RFC 4514 names of real certificates stay far below this.
const MAX_SUBJECT_DN: usize = 1_024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    PublicKey,
    X509Cert,
    CertSubjectDn,
}

impl CredentialType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PublicKey => "public_key",
            Self::X509Cert => "x509_cert",
            Self::CertSubjectDn => "cert_subject_dn",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_value(text.into()).map_err(|_| format!("unknown credential type {text:?}"))
    }
}

/// The JWS algorithms a credential's key may sign with: all RSA, as at Auth0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alg {
    RS256,
    RS384,
    PS256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::PS256 => "PS256",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_value(text.into()).map_err(|_| format!("unknown alg {text:?}"))
    }
}

/// A credential as stored. `key_fingerprint` (the key's RFC 7638 thumbprint, or the normalised
/// subject DN) finds the same key twice; `pem` keeps the public material for verifiers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Credential {
    pub id: String,
    pub name: String,
    pub kid: Option<String>,
    pub alg: Option<Alg>,
    pub credential_type: CredentialType,
    pub subject_dn: Option<String>,
    pub thumbprint_sha256: Option<String>,
    #[serde(with = "rfc3339_millis")]
    pub created_at: Timestamp,
    #[serde(with = "rfc3339_millis")]
    pub updated_at: Timestamp,
    #[serde(with = "rfc3339_millis::option")]
    pub expires_at: Option<Timestamp>,
    #[serde(skip)]
    pub key_fingerprint: String,
    #[serde(skip)]
    pub pem: Option<String>,
    #[serde(skip)]
    pub certificate_expires_at: Option<Timestamp>,
}

impl Credential {
    /// Listed until deleted, but no longer valid past `expires_at`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    /// The RSA public key it holds, as PKCS#1 DER; None for a subject DN.
    pub fn public_key_der(&self) -> Option<Result<Vec<u8>, String>> {
        self.pem.as_deref().map(rsa_public_key_der)
    }
}

/// The Auth0 create request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    pub credential_type: CredentialType,
    pub name: Option<String>,
    pub pem: Option<String>,
    pub subject_dn: Option<String>,
    pub alg: Option<Alg>,
    pub kid: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub parse_expiry_from_cert: Option<bool>,
}

/// The PATCH body: `expires_at` alone, a date-time or null.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeExpiry {
    #[serde(default, deserialize_with = "present")]
    pub expires_at: Option<Option<Timestamp>>,
}

/// Tells a field sent as null (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl CreateCredential {
    /// The credential this request describes, or every broken rule.
    pub fn into_credential(self, now: Timestamp) -> Result<Credential, Invalid> {
        let mut v = Violations::default();
        let name = self.name.clone().unwrap_or_default();
        if name.chars().count() > MAX_NAME {
            v.add("/name", format!("must be at most {MAX_NAME} characters"));
        } else {
            v.check("/name", single_line(&name));
        }
        if let Some(kid) = &self.kid {
            let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if !(10..=64).contains(&kid.len()) || !kid.chars().all(allowed) {
                v.add("/kid", "must be 10 to 64 letters, digits, '_' or '-'");
            }
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            v.add("/expires_at", "must be in the future");
        }
        if self.parse_expiry() && self.expires_at.is_some() {
            v.add(
                "/parse_expiry_from_cert",
                "send either expires_at or parse_expiry_from_cert, not both",
            );
        }
        let id = credential_id().map_err(|e| Invalid::one("/", format!("no randomness: {e}")))?;
        let new = CommonFields { id, name, now };
        let credential = match self.credential_type {
            CredentialType::CertSubjectDn => self.subject_dn_credential(new, &mut v),
            CredentialType::PublicKey | CredentialType::X509Cert => {
                self.key_credential(new, &mut v)
            }
        };
        match credential {
            Some(credential) if v.is_empty() => Ok(credential),
            _ => Err(v.into_invalid()),
        }
    }

    fn parse_expiry(&self) -> bool {
        self.parse_expiry_from_cert.unwrap_or(false)
    }

    /// `cert_subject_dn`: the DN alone, normalised; nothing of a key applies.
    fn subject_dn_credential(self, new: CommonFields, v: &mut Violations) -> Option<Credential> {
        for (pointer, given) in [
            ("/pem", self.pem.is_some()),
            ("/alg", self.alg.is_some()),
            ("/kid", self.kid.is_some()),
            ("/parse_expiry_from_cert", self.parse_expiry()),
        ] {
            if given {
                v.add(
                    pointer,
                    "does not apply to cert_subject_dn, which takes subject_dn alone",
                );
            }
        }
        let dn = match self.subject_dn.as_deref() {
            None => {
                v.add("/subject_dn", "is required for cert_subject_dn");
                None
            }
            Some(dn) if dn.chars().count() > MAX_SUBJECT_DN => {
                v.add(
                    "/subject_dn",
                    format!("must be at most {MAX_SUBJECT_DN} characters"),
                );
                None
            }
            Some(dn) => v.field("/subject_dn", single_line(dn).and_then(|()| subject_dn(dn))),
        }?;
        Some(Credential {
            id: new.id,
            name: new.name,
            kid: None,
            alg: None,
            credential_type: self.credential_type,
            key_fingerprint: format!("dn:{dn}"),
            subject_dn: Some(dn),
            thumbprint_sha256: None,
            created_at: new.now,
            updated_at: new.now,
            expires_at: self.expires_at,
            pem: None,
            certificate_expires_at: None,
        })
    }

    /// `public_key` and `x509_cert`: an RSA key, bare or in a certificate.
    fn key_credential(self, new: CommonFields, v: &mut Violations) -> Option<Credential> {
        if self.subject_dn.is_some() {
            v.add(
                "/subject_dn",
                "comes from the certificate: send either pem or subject_dn, not both",
            );
        }
        let parsed: ParsedPem = match self.pem.as_deref() {
            None => {
                v.add(
                    "/pem",
                    format!("is required for {}", self.credential_type.as_str()),
                );
                None
            }
            Some(text) => v.field(
                "/pem",
                multi_line(text).and_then(|()| parse_pem(text, self.credential_type)),
            ),
        }?;
        let alg = self.alg.unwrap_or(if parsed.key.pss_only {
            Alg::PS256
        } else {
            Alg::RS256
        });
        if parsed.key.pss_only && alg != Alg::PS256 {
            v.add(
                "/alg",
                "does not fit the key: an RSASSA-PSS key signs only with PS256",
            );
        }
        let certificate = parsed.certificate;
        let not_after = certificate.as_ref().map(|c| c.not_after);
        if let Some(not_after) = not_after {
            if not_after <= new.now {
                v.add(
                    "/pem",
                    format!("the certificate expired at {}", not_after.to_rfc3339()),
                );
            }
            if self.expires_at.is_some_and(|at| at > not_after) {
                v.add(
                    "/expires_at",
                    "must not be later than the certificate's notAfter",
                );
            }
        } else if self.parse_expiry() {
            v.add(
                "/parse_expiry_from_cert",
                "needs a certificate in pem, not a bare key",
            );
        }
        let expires_at = if self.parse_expiry() {
            not_after
        } else {
            self.expires_at
        };
        Some(Credential {
            id: new.id,
            name: new.name,
            kid: Some(
                self.kid
                    .unwrap_or_else(|| parsed.key.jwk_thumbprint.clone()),
            ),
            alg: Some(alg),
            credential_type: self.credential_type,
            key_fingerprint: parsed.key.jwk_thumbprint,
            subject_dn: certificate.as_ref().map(|c| c.subject_dn.clone()),
            thumbprint_sha256: certificate.as_ref().map(|c| c.thumbprint_sha256.clone()),
            created_at: new.now,
            updated_at: new.now,
            expires_at,
            pem: self.pem.map(|pem| pem.trim().to_owned()),
            certificate_expires_at: not_after,
        })
    }
}

/// What every new credential has, whatever its type.
struct CommonFields {
    id: String,
    name: String,
    now: Timestamp,
}

#[cfg(test)]
mod tests;
