//! `clientd secrets <verb>`.

use std::path::PathBuf;

use clap::Subcommand;

use super::secret;
use crate::domain::secret::SecretString;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Show the current (and next) secret's last four characters, creation and last use.
    Status {
        /// The client's id.
        client_id: String,
    },
    /// Start a rotation: prints the next secret once; from now on both secrets verify.
    RotateStart {
        /// The client's id.
        client_id: String,
        #[arg(long, value_name = "KEY")]
        /// Send an Idempotency-Key, so a retry cannot start twice.
        idempotency_key: Option<String>,
    },
    /// Complete a rotation: the next secret becomes the only one.
    Rotate {
        /// The client's id.
        client_id: String,
    },
    /// Cancel a rotation: the next secret stops verifying.
    RotateCancel {
        /// The client's id.
        client_id: String,
    },
    /// Check a presented secret, piped in on standard input (or --secret-file, --secret):
    /// exit 0 and print which secret it is when it verifies, exit 1 when it does not.
    Verify {
        /// The client's id.
        client_id: String,
        /// A file holding the secret (its first line) instead of standard input.
        #[arg(long, value_name = "PATH")]
        secret_file: Option<PathBuf>,
        /// The secret itself. Prefer standard input or --secret-file: other users of this
        /// machine can read a command line.
        #[arg(long, conflicts_with = "secret_file", value_parser = secret)]
        secret: Option<SecretString>,
    },
}
