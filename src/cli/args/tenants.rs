//! `clientd tenants <verb>`.

use clap::Subcommand;

use super::Paging;

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// List tenants.
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one tenant.
    Get {
        /// The tenant's id.
        id: String,
    },
    /// Create a tenant: `clientd tenants create acme-prod --name "Acme production"`.
    Create {
        /// Its id: 1 to 64 lowercase letters, digits, '-' and '_'.
        id: String,
        /// A name for people.
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "KEY")]
        /// Send an Idempotency-Key, so a retry cannot create twice.
        idempotency_key: Option<String>,
    },
    /// Delete a tenant; it must hold no clients any more.
    Delete {
        /// The tenant's id.
        id: String,
    },
}
