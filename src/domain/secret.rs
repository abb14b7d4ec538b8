//! High-entropy secrets: generation from the OS CSPRNG, hashing for storage, and comparison
//! in constant time. Secrets never implement `Debug` or `Display` in clear.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Secret text that must never reach a log: `Debug` prints a placeholder.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// 256 bits from the OS CSPRNG as 43 URL-safe characters.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The clear text, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// A client secret as issued: the text is shown once, only the hash and last four are kept.
pub struct IssuedSecret {
    pub text: SecretString,
    pub hash: SecretHash,
    pub last_four: String,
}

impl IssuedSecret {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let text = SecretString::generate()?;
        let hash = text.hash();
        let last_four = text.expose()[text.expose().len() - 4..].to_owned();
        Ok(Self {
            text,
            hash,
            last_four,
        })
    }
}

/// SHA-256 of a secret. A fast hash is enough: every secret clientd hashes carries at least
/// 256 random bits (or, for the bootstrap token, at least 32 characters chosen by an operator),
/// so there is nothing for a slow, salted hash to protect against. `Eq` and `Hash` are for
/// stored hashes only (a noted use is keyed by one): a presented secret is compared with
/// `matches`, in constant time.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Compares in constant time, so response timing says nothing about how much matched.
    pub fn matches(&self, presented: &SecretString) -> bool {
        self.0.ct_eq(&presented.hash().0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_unique_and_url_safe() {
        let a = SecretString::generate().unwrap();
        let b = SecretString::generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, b);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn a_hash_matches_only_its_own_secret() {
        let secret = SecretString::new("correct horse battery staple".into());
        let hash = secret.hash();
        assert!(hash.matches(&secret));
        assert!(!hash.matches(&SecretString::new("correct horse battery stapler".into())));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = SecretString::new("do-not-print-me".into());
        assert!(!format!("{secret:?}").contains("do-not-print-me"));
    }
}
