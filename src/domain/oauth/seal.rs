//! Private signing keys at rest: sealed with AES-256-GCM under a key HKDF-SHA256 derives from
//! each of `CLIENTD_KEY_ENCRYPTION_KEYS`. The first seals; every one opens, so the
//! key-encryption key itself can be rotated (add the new one first, keep the old after it).
//! The associated data binds a sealed key to its tenant and kid: a row copied elsewhere does
//! not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::domain::secret::SecretString;

/// Shortest key-encryption secret taken: as many characters as AES-256 has key bits / 8.
pub const MIN_SECRET_CHARS: usize = 32;
/// The layout's version, first byte of every sealed key, so another can follow.
const VERSION: u8 = 1;
const NONCE_BYTES: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the system's random number generator failed")]
    Random,
    #[error(
        "no key in CLIENTD_KEY_ENCRYPTION_KEYS opens a stored signing key: keep every key that sealed one in the list"
    )]
    NoKeyOpens,
}

pub struct Sealer {
    /// The first seals; all open.
    ciphers: Vec<Aes256Gcm>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({} keys)", self.ciphers.len())
    }
}

impl Sealer {
    /// A sealer over secrets of at least `MIN_SECRET_CHARS` characters; None for no secrets.
    pub fn new(secrets: &[SecretString]) -> Option<Self> {
        let ciphers: Vec<_> = secrets
            .iter()
            .map(|secret| cipher(secret.expose()))
            .collect();
        (!ciphers.is_empty()).then_some(Self { ciphers })
    }

    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let payload = Payload {
            msg: plaintext,
            aad: bound_to.as_bytes(),
        };
        let sealed = (self.ciphers[0])
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| SealError::Random)?;
        Ok([&[VERSION][..], &nonce, &sealed].concat())
    }

    pub fn open(&self, sealed: &[u8], bound_to: &str) -> Result<Vec<u8>, SealError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(SealError::NoKeyOpens);
        };
        if rest.len() < NONCE_BYTES {
            return Err(SealError::NoKeyOpens);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce = Nonce::try_from(nonce).map_err(|_| SealError::NoKeyOpens)?;
        (self.ciphers.iter())
            .find_map(|cipher| {
                let payload = Payload {
                    msg: ciphertext,
                    aad: bound_to.as_bytes(),
                };
                cipher.decrypt(&nonce, payload).ok()
            })
            .ok_or(SealError::NoKeyOpens)
    }
}

fn cipher(secret: &str) -> Aes256Gcm {
    let mut key = [0u8; 32];
    // 32 bytes is well within HKDF-SHA256's limit (255 * 32), so expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(b"clientd key encryption"), secret.as_bytes())
        .expand(b"signing keys at rest, v1", &mut key);
    Aes256Gcm::new(&key.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secrets: &[&str]) -> Sealer {
        let secrets: Vec<_> = secrets
            .iter()
            .map(|s| SecretString::new((*s).to_owned()))
            .collect();
        Sealer::new(&secrets).unwrap()
    }

    const OLD: &str = "an old key-encryption secret of 32+ chars";
    const NEW: &str = "a new key-encryption secret of 32+ chars!";

    #[test]
    fn what_the_first_key_seals_any_list_holding_it_opens() {
        let sealed = sealer(&[OLD]).seal(b"pkcs8", "tenant/kid").unwrap();
        assert_ne!(&sealed[13..], b"pkcs8");
        assert_eq!(
            sealer(&[OLD]).open(&sealed, "tenant/kid").unwrap(),
            b"pkcs8"
        );
        // Rotating the key-encryption key: the new one first, the old one still opens.
        assert_eq!(
            sealer(&[NEW, OLD]).open(&sealed, "tenant/kid").unwrap(),
            b"pkcs8"
        );
        assert_eq!(
            sealer(&[NEW]).open(&sealed, "tenant/kid"),
            Err(SealError::NoKeyOpens)
        );
    }

    #[test]
    fn a_sealed_key_opens_only_where_it_was_sealed() {
        let sealed = sealer(&[OLD]).seal(b"pkcs8", "tenant/kid").unwrap();
        let opener = sealer(&[OLD]);
        assert!(opener.open(&sealed, "other/kid").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(opener.open(&tampered, "tenant/kid").is_err());
        assert!(opener.open(&sealed[..5], "tenant/kid").is_err());
        assert!(opener.open(&[], "tenant/kid").is_err());
    }
}
