//! `clientd tokens <verb>`, and the flags of a new admin API token: defined once for the
//! server's `clientd token create` (straight into the database) and `clientd tokens create`
//! (through the API), so both take and check them alike.

use clap::{Args, Subcommand};

use super::Paging;
use crate::app::tokens::CreateToken;
use crate::domain::time::{self, Timestamp};

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List admin API tokens (never their text).
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one token.
    Get {
        /// The token's id.
        id: String,
    },
    /// Create a token and print it once.
    Create {
        #[command(flatten)]
        token: TokenFlags,
        #[arg(long, value_name = "KEY")]
        /// Send an Idempotency-Key, so a retry cannot create twice.
        idempotency_key: Option<String>,
    },
    /// Revoke a token: it stops working at once, on every replica.
    Revoke {
        /// The token's id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct TokenFlags {
    /// What the token is for, shown when tokens are listed.
    #[arg(long)]
    pub name: String,
    /// client.read, client.write, secret.verify, audit.read (these four with --tenant),
    /// client.read.all, client.write.all or admin. Repeat for several.
    #[arg(long = "permission", required = true, value_name = "PERMISSION")]
    pub permissions: Vec<String>,
    /// A tenant that client.read, client.write, secret.verify and audit.read reach. Repeat
    /// for several.
    #[arg(long = "tenant", value_name = "ID")]
    pub tenants: Vec<String>,
    /// When it stops working (RFC 3339), e.g. 2027-01-31T00:00:00Z.
    #[arg(long, value_name = "TIME", value_parser = time::parse_rfc3339)]
    pub expires_at: Option<Timestamp>,
}

impl From<TokenFlags> for CreateToken {
    fn from(flags: TokenFlags) -> Self {
        Self {
            name: flags.name,
            permissions: flags.permissions,
            tenants: flags.tenants,
            expires_at: flags.expires_at,
        }
    }
}
