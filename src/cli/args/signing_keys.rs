//! `clientd signing-keys <verb>`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SigningKeysCommand {
    /// List the tenant's keys that sign access tokens: the next, current and previous ones
    /// (and those retired), never their private half.
    List {
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
    },
    /// Rotate now: the next key (already published) starts signing, the current one stays
    /// published until the tokens it signed expire, and a new next key is made.
    Rotate {
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// For a compromised key: retire the current key at once; it leaves JWKS and the
        /// tokens it signed stop being valid.
        #[arg(long)]
        immediate: bool,
    },
}
