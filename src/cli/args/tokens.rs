//! `clientd tokens <verb>`.

use clap::Subcommand;

use super::Paging;
use crate::token_flags::TokenFlags;

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
