//! Parsing what a credential request carries: PEM blocks, RSA keys, X.509 certificates and
//! RFC 4514 names, with RustCrypto's decoders; and the values derived from them.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pkcs1::RsaPublicKey;
use pkcs1::der::asn1::UintRef;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode, pem};
use x509_cert::name::Name;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoOwned};

use super::CredentialType;
use crate::domain::time::Timestamp;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const MAX_PEM: usize = 4096;

/// What a PEM held, once parsed.
pub(super) struct ParsedPem {
    pub key: RsaKey,
    pub certificate: Option<ParsedCertificate>,
}

pub(super) struct RsaKey {
    pub jwk_thumbprint: String,
    pub pss_only: bool,
}

pub(super) struct ParsedCertificate {
    pub subject_dn: String,
    pub thumbprint_sha256: String,
    pub not_after: Timestamp,
}

pub(super) fn parse_pem(text: &str, credential_type: CredentialType) -> Result<ParsedPem, String> {
    if text.len() > MAX_PEM {
        return Err(format!("must be at most {MAX_PEM} characters"));
    }
    let (label, der) = pem::decode_vec(text.trim().as_bytes()).map_err(|_| {
        "is not a whole PEM block (-----BEGIN ...----- base64 -----END ...-----); is it truncated?".to_owned()
    })?;
    if label.contains("PRIVATE KEY") {
        return Err(format!(
            "holds a private key ({label}): send only the public key or certificate; never share the private key, and treat this one as exposed"
        ));
    }
    if credential_type == CredentialType::X509Cert && label != "CERTIFICATE" {
        return Err(format!("holds a {label}; x509_cert needs a CERTIFICATE"));
    }
    match label {
        "CERTIFICATE" => {
            let certificate = Certificate::from_der(&der)
                .map_err(|_| "is not a valid X.509 certificate".to_owned())?;
            let key = rsa_key(certificate.tbs_certificate().subject_public_key_info())?;
            let not_after = certificate
                .tbs_certificate()
                .validity()
                .not_after
                .to_unix_duration();
            let not_after = chrono::DateTime::from_timestamp(not_after.as_secs() as i64, 0)
                .ok_or_else(|| "has a notAfter this server cannot represent".to_owned())?;
            Ok(ParsedPem {
                key,
                certificate: Some(ParsedCertificate {
                    subject_dn: certificate.tbs_certificate().subject().to_string(),
                    thumbprint_sha256: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
                    not_after,
                }),
            })
        }
        "PUBLIC KEY" => {
            let spki = SubjectPublicKeyInfoOwned::from_der(&der)
                .map_err(|_| "is not a valid SubjectPublicKeyInfo (PUBLIC KEY)".to_owned())?;
            Ok(ParsedPem {
                key: rsa_key(&spki)?,
                certificate: None,
            })
        }
        "RSA PUBLIC KEY" => Ok(ParsedPem {
            key: rsa_components(&der, false)?,
            certificate: None,
        }),
        other => Err(format!(
            "holds a {other}; send a PUBLIC KEY, an RSA PUBLIC KEY or a CERTIFICATE"
        )),
    }
}

/// The RSA public key a stored PEM holds, as PKCS#1 DER (what a signature check takes).
pub(super) fn rsa_public_key_der(text: &str) -> Result<Vec<u8>, String> {
    let (label, der) =
        pem::decode_vec(text.trim().as_bytes()).map_err(|_| "is not a PEM block".to_owned())?;
    let spki = match label {
        "RSA PUBLIC KEY" => return Ok(der),
        "CERTIFICATE" => Certificate::from_der(&der)
            .map_err(|_| "is not a valid X.509 certificate".to_owned())?
            .tbs_certificate()
            .subject_public_key_info()
            .clone(),
        "PUBLIC KEY" => SubjectPublicKeyInfoOwned::from_der(&der)
            .map_err(|_| "is not a valid SubjectPublicKeyInfo".to_owned())?,
        other => return Err(format!("holds a {other}")),
    };
    (spki.subject_public_key.as_bytes())
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "has a malformed key".to_owned())
}

fn rsa_key(spki: &SubjectPublicKeyInfoOwned) -> Result<RsaKey, String> {
    let oid = spki.algorithm.oid;
    if oid != RSA_ENCRYPTION && oid != RSASSA_PSS {
        return Err(format!(
            "holds a key of algorithm {oid}; RS256, RS384 and PS256 need an RSA key"
        ));
    }
    let bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| "has a malformed key".to_owned())?;
    rsa_components(bytes, oid == RSASSA_PSS)
}

/// The key's size check and RFC 7638 thumbprint, from its PKCS#1 DER.
fn rsa_components(der: &[u8], pss_only: bool) -> Result<RsaKey, String> {
    let key = RsaPublicKey::<UintRef<'_>>::from_der(der)
        .map_err(|_| "is not a valid RSA public key".to_owned())?;
    let modulus = key.modulus.as_bytes();
    let bits = modulus.first().map_or(0, |first| {
        (modulus.len() - 1) * 8 + (8 - first.leading_zeros() as usize)
    });
    if !(2048..=4096).contains(&bits) {
        return Err(format!("holds a {bits}-bit RSA key; use 2048 to 4096 bits"));
    }
    check_exponent(key.public_exponent.as_bytes())?;
    // RFC 7638: the required members in lexicographic order, no white space.
    let jwk = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.public_exponent.as_bytes()),
        URL_SAFE_NO_PAD.encode(modulus)
    );
    Ok(RsaKey {
        jwk_thumbprint: URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes())),
        pss_only,
    })
}

/// FIPS 186-5 (appendix A.1.1): an odd public exponent from 65537 to 2^256 - 1. An even one
/// makes no valid key, and small ones such as 3 open the door to known attacks on RSA
/// signatures with weak padding checks.
fn check_exponent(exponent: &[u8]) -> Result<(), String> {
    let exponent = match exponent.iter().position(|&b| b != 0) {
        Some(first) => &exponent[first..],
        None => &[],
    };
    let odd = exponent.last().is_some_and(|last| last % 2 == 1);
    let value_if_small = (exponent.len() <= 8).then(|| {
        exponent
            .iter()
            .fold(0u64, |value, &byte| (value << 8) | u64::from(byte))
    });
    if !odd || value_if_small.is_some_and(|e| e < 65_537) || exponent.len() > 32 {
        let shown = value_if_small.map_or_else(|| "a huge one".to_owned(), |e| e.to_string());
        return Err(format!(
            "holds an RSA key with public exponent {shown}; it must be odd, from 65537 to 2^256 - 1 (65537 is the usual one)"
        ));
    }
    Ok(())
}

/// An RFC 4514 distinguished name, normalised by parsing and printing it again.
pub(super) fn subject_dn(text: &str) -> Result<String, String> {
    let name = Name::from_str(text.trim())
        .ok()
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            "is not an RFC 4514 distinguished name, like CN=client.acme.example,O=Acme,C=US"
                .to_owned()
        })?;
    let _ = name
        .to_der()
        .map_err(|_| "is not an encodable distinguished name".to_owned())?;
    Ok(name.to_string())
}

/// `cred_` and 22 base62 characters (about 131 random bits), as Auth0 ids look.
pub(super) fn credential_id() -> Result<String, getrandom::Error> {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = String::from("cred_");
    while id.len() < 5 + 22 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        // Rejection sampling keeps every character equally likely.
        id.extend(
            bytes
                .iter()
                .filter(|&&b| b < 248)
                .map(|&b| BASE62[(b % 62) as usize] as char)
                .take(27 - id.len()),
        );
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_exponents_must_be_odd_and_at_least_65537() {
        assert!(check_exponent(&[0x01, 0x00, 0x01]).is_ok());
        assert!(check_exponent(&[0x00, 0x01, 0x00, 0x01]).is_ok());
        for bad in [
            &[0x03][..],
            &[0x01, 0x00, 0x00],
            &[],
            &[0x00],
            &[0xff, 0xff],
        ] {
            assert!(check_exponent(bad).is_err(), "{bad:?}");
        }
        assert!(check_exponent(&[0x01; 33]).is_err());
    }
}
