//! `clientd credentials <verb>`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Paging, WriteOptions};

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// List a client's credentials, or (without CLIENT_ID, or with filters) every credential
    /// the token can read.
    List {
        /// The client's id; without it, every client the token can read.
        client_id: Option<String>,
        /// Only those that expire before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        expires_before: Option<String>,
        /// Only this type: public_key, x509_cert, cert_subject_dn.
        #[arg(long = "type", value_name = "TYPE")]
        credential_type: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one credential.
    Get {
        /// The client's id.
        client_id: String,
        /// The credential's id.
        credential_id: String,
    },
    /// Add a public key or certificate (PEM) to a client.
    Add(Box<AddCredential>),
    /// Set when a credential stops being accepted (--at TIME, in the future), or clear it
    /// (--never). To stop accepting it at once, delete it.
    Expire {
        /// The client's id.
        client_id: String,
        /// The credential's id.
        credential_id: String,
        /// The new expiry (RFC 3339), e.g. 2027-06-30T00:00:00Z.
        #[arg(
            long,
            value_name = "TIME",
            required_unless_present = "never",
            conflicts_with = "never"
        )]
        at: Option<String>,
        /// Clear the expiry: the credential never expires.
        #[arg(long)]
        never: bool,
    },
    /// Delete a credential.
    Delete {
        /// The client's id.
        client_id: String,
        /// The credential's id.
        credential_id: String,
    },
}

#[derive(Debug, Args)]
pub struct AddCredential {
    /// The client's id.
    pub client_id: String,
    /// The PEM file ('-' reads standard input): a public key (SPKI or PKCS#1) or an X.509
    /// certificate.
    #[arg(long, value_name = "PATH", required_unless_present = "subject_dn")]
    pub pem: Option<PathBuf>,
    /// A certificate subject DN instead of a PEM (for mTLS by subject).
    #[arg(long, value_name = "DN", conflicts_with = "pem")]
    pub subject_dn: Option<String>,
    /// public_key, x509_cert or cert_subject_dn. Default: told from the PEM.
    #[arg(long = "type", value_name = "TYPE")]
    pub credential_type: Option<String>,
    /// A name for people.
    #[arg(long)]
    pub name: Option<String>,
    /// Its key id; the RFC 7638 thumbprint when absent.
    #[arg(long)]
    pub kid: Option<String>,
    /// Its signing algorithm: RS256 (the default), RS384 or PS256.
    #[arg(long)]
    pub alg: Option<String>,
    /// When it stops being accepted (RFC 3339).
    #[arg(long, value_name = "TIME", conflicts_with = "expiry_from_cert")]
    pub expires_at: Option<String>,
    /// Take the expiry from the certificate's notAfter.
    #[arg(long)]
    pub expiry_from_cert: bool,
    #[command(flatten)]
    pub write: WriteOptions,
}
