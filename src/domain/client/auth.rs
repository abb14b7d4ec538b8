//! How a client authenticates at the token endpoint, and the credential each way needs.

use serde::{Deserialize, Serialize};

use super::ClientType;
use crate::domain::credential::{Credential, CredentialType};
use crate::domain::time::Timestamp;

/// RFC 7591 `token_endpoint_auth_method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
    TlsClientAuth,
    SelfSignedTlsClientAuth,
}

impl ClientAuthMethod {
    pub fn default_for(client_type: ClientType) -> Self {
        match client_type {
            ClientType::Confidential => Self::ClientSecretBasic,
            ClientType::Public => Self::None,
        }
    }
}

impl ClientAuthMethod {
    /// The credential a client authenticating this way needs at least one live of.
    pub fn needs(self) -> Option<CredentialType> {
        match self {
            Self::PrivateKeyJwt => Some(CredentialType::PublicKey),
            Self::TlsClientAuth => Some(CredentialType::CertSubjectDn),
            Self::SelfSignedTlsClientAuth => Some(CredentialType::X509Cert),
            _ => None,
        }
    }
}

/// Checks that a client's authentication method has the credential it needs.
pub fn check_auth_method(
    method: ClientAuthMethod,
    credentials: &[Credential],
    now: Timestamp,
) -> Result<(), String> {
    // A client assertion may be signed by the key of a registered certificate, too.
    let fits = |kind: CredentialType, held: CredentialType| {
        held == kind
            || (method == ClientAuthMethod::PrivateKeyJwt && held == CredentialType::X509Cert)
    };
    match method.needs() {
        Some(kind)
            if !credentials
                .iter()
                .any(|c| fits(kind, c.credential_type) && c.is_live(now)) =>
        {
            let kinds = match method {
                ClientAuthMethod::PrivateKeyJwt => "public_key or x509_cert",
                _ => kind.as_str(),
            };
            Err(format!(
                "needs at least one live {kinds} credential: add it first, then change clientAuthMethod"
            ))
        }
        _ => Ok(()),
    }
}
