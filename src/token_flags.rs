//! The flags of a new admin API token, defined once for the server's `clientd token create`
//! (straight into the database) and the command line's `clientd tokens create` (through the
//! API), so both take and check them alike. Neither `config` nor `cli` owns it: `config` may
//! not import `cli`.

use clap::Args;

use crate::app::tokens::CreateToken;
use crate::domain::time::{self, Timestamp};

#[derive(Debug, Args)]
pub struct TokenFlags {
    /// What the token is for, shown when tokens are listed.
    #[arg(long)]
    pub name: String,
    /// client.read, client.write (with --tenant), client.read.all, client.write.all or
    /// admin. Repeat for several.
    #[arg(long = "permission", required = true, value_name = "PERMISSION")]
    pub permissions: Vec<String>,
    /// A tenant that client.read and client.write reach. Repeat for several.
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
