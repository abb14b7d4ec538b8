//! `clientd clients <verb>`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Paging, WriteOptions};

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List clients of a tenant (--tenant), or of every tenant the token can read.
    List {
        /// List this tenant's clients only.
        #[arg(long)]
        tenant: Option<String>,
        /// A filter in SailPoint's grammar, e.g. 'enabled eq false' or
        /// 'type eq "CONFIDENTIAL" and lastUsed isnull' (openapi.yaml lists every field).
        #[arg(long, value_name = "EXPRESSION")]
        filter: Option<String>,
        /// Sort by id (the default), name, created, modified or lastUsed; a leading '-' sorts
        /// descending (-created: the newest first).
        #[arg(long, value_name = "FIELD", allow_hyphen_values = true)]
        sort: Option<String>,
        /// Also print how many clients match (on standard error).
        #[arg(long)]
        count: bool,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one client: its whole document.
    Get {
        /// The client's id.
        id: String,
    },
    /// Create a client from flags, or from a Nexus create request in a file (--file).
    ///
    /// A confidential client's answer holds its secret: it is shown this once.
    Create(Box<CreateClient>),
    /// Change a client with a JSON Patch from a file, or with --set/--add/--remove.
    ///
    /// Fields are the client document's (camelCase): `clientd clients get ID` shows them.
    /// Examples: --set enabled=false, --set 'owners=["alice@acme.example"]',
    /// --add redirectUris=https://portal.acme.example/cb2, --remove logoUrl.
    Patch(Box<PatchClient>),
    /// Delete a client with its credentials and secrets.
    Delete {
        /// The client's id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateClient {
    /// The tenant to create the client in.
    #[arg(long)]
    pub tenant: String,
    /// A Nexus create request (JSON, snake_case) to start from; '-' reads standard input.
    /// Flags given beside it override its fields.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Its name.
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    /// regular_web or non_interactive (confidential: they get a secret), spa or native.
    #[arg(long, value_name = "TYPE", required_unless_present = "file")]
    pub app_type: Option<String>,
    /// Its id (32 characters); generated when absent.
    #[arg(long)]
    pub id: Option<String>,
    /// A description for people.
    #[arg(long)]
    pub description: Option<String>,
    /// A redirect URI. Repeat for several.
    #[arg(long = "callback", value_name = "URI")]
    pub callbacks: Vec<String>,
    /// An allowed web origin. Repeat for several.
    #[arg(long = "web-origin", value_name = "ORIGIN")]
    pub web_origins: Vec<String>,
    /// An allowed logout URL. Repeat for several.
    #[arg(long = "logout-url", value_name = "URL")]
    pub logout_urls: Vec<String>,
    /// A grant type: client_credentials, authorization_code, refresh_token, ... Repeat for
    /// several.
    #[arg(long = "grant-type", value_name = "GRANT")]
    pub grant_types: Vec<String>,
    /// An owner, as an email address. Repeat for several.
    #[arg(long = "owner", value_name = "EMAIL")]
    pub owners: Vec<String>,
    #[command(flatten)]
    pub write: WriteOptions,
}

#[derive(Debug, Args)]
pub struct PatchClient {
    /// The client's id.
    pub id: String,
    /// A JSON Patch (an array of operations) in a file; '-' reads standard input.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["set", "add", "remove"])]
    pub file: Option<PathBuf>,
    /// Set a field: FIELD=VALUE. VALUE is JSON when it parses as JSON (false, 3600,
    /// ["a","b"], null), else text; quote it ('name="123"') to force text.
    #[arg(long, value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// Append VALUE to the list FIELD: FIELD=VALUE.
    #[arg(long, value_name = "FIELD=VALUE")]
    pub add: Vec<String>,
    /// Remove a field, or a list item by its index (redirectUris/0).
    #[arg(long, value_name = "FIELD")]
    pub remove: Vec<String>,
    /// Change the client only if its ETag is still this one (see `clients get ID --field
    /// etag`); otherwise the server refuses with 412.
    #[arg(long, value_name = "ETAG")]
    pub if_match: Option<String>,
    /// Run every check, the database's included, and print the result; store nothing.
    #[arg(long)]
    pub dry_run: bool,
}
