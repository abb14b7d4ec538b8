//! The API commands' arguments, as `clientd <resource> <verb> --help` shows them.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use url::Url;

use crate::domain::secret::SecretString;

mod clients;
mod credentials;
mod events;
mod oauth;
mod secrets;
mod signing_keys;
mod tenants;
mod tokens;

pub use clients::{ClientsCommand, CreateClient, PatchClient};
pub use credentials::{AddCredential, CredentialsCommand};
pub use events::EventsQuery;
pub use oauth::{AssertionAlg, OauthCommand, SecretMethod, TokenRequest};
pub use secrets::{PolicyDuration, SecretsCommand};
pub use signing_keys::SigningKeysCommand;
pub use tenants::TenantsCommand;
pub use tokens::{TokenFlags, TokensCommand};

#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Tenants, the walls between teams' clients: list, get, create, delete (admin).
    Tenants {
        #[command(flatten)]
        server: Server,
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// OAuth clients: list and find, get, create, patch, delete.
    Clients {
        #[command(flatten)]
        server: Server,
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// A client's public keys and certificates: list, get, add, expire, delete.
    Credentials {
        #[command(flatten)]
        server: Server,
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// Rotate a client's secret without downtime, and check presented secrets.
    Secrets {
        #[command(flatten)]
        server: Server,
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Admin API tokens, through the API: list, get, create, revoke (admin).
    Tokens {
        #[command(flatten)]
        server: Server,
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// A tenant's token signing keys: list them, rotate them (planned, or at once).
    SigningKeys {
        #[command(flatten)]
        server: Server,
        #[command(subcommand)]
        command: SigningKeysCommand,
    },
    /// Be one of a tenant's machine clients: get an access token from its token endpoint.
    Oauth {
        #[command(flatten, next_help_heading = "Server")]
        endpoint: Endpoint,
        #[command(subcommand)]
        command: OauthCommand,
    },
    /// The audit trail, newest first: every change, who made it and from where.
    Events {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        query: EventsQuery,
    },
    /// Print a shell completion script, e.g. `clientd completions bash >
    /// ~/.local/share/bash-completion/completions/clientd`.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Which server to call, as whom, and how to print its answers.
#[derive(Debug, Args)]
pub struct Server {
    #[command(flatten, next_help_heading = "Server and output")]
    pub endpoint: Endpoint,

    /// An admin API token. Prefer CLIENTD_TOKEN or --token-file: other users of this machine
    /// can read a command line.
    #[arg(long, env = "CLIENTD_TOKEN", hide_env_values = true, global = true, value_parser = secret)]
    pub token: Option<SecretString>,

    /// A file holding the token (its first line); wins over --token and CLIENTD_TOKEN.
    #[arg(long, value_name = "PATH", global = true)]
    pub token_file: Option<PathBuf>,

    /// table for people, json for scripts. Default: table on a terminal, json otherwise.
    #[arg(long, short, value_enum, global = true)]
    pub output: Option<Output>,

    /// Print only this field of the answer (of each item, for lists), raw: strings without
    /// quotes, one line per item, several fields separated by tabs. Repeat for several; a dot
    /// goes into an object (current.last_used). `etag` also names the answer's ETag.
    #[arg(long, value_name = "NAME", global = true)]
    pub field: Vec<String>,
}

/// The server to call and whether credentials may go to it over plain http: every API
/// command's, the admin API's and the token endpoint's alike.
#[derive(Debug, Args)]
pub struct Endpoint {
    /// The clientd server to call.
    #[arg(
        long,
        env = "CLIENTD_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: Url,

    /// Send credentials (a token, a client secret) over plain http:// to a host that is not
    /// this machine. Without it, such a --url is refused (exit 2): anyone on the way could
    /// read them. Loopback (localhost, 127.0.0.0/8, [::1]) needs no flag; certificates are
    /// checked either way.
    #[arg(
        long,
        env = "CLIENTD_INSECURE_HTTP",
        global = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub insecure_http: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// Paging of a list: one page by default, every page with --all.
#[derive(Debug, Args)]
pub struct Paging {
    /// Follow every page to the end, printing items as they arrive.
    #[arg(long, conflicts_with = "cursor")]
    pub all: bool,
    /// Items per page (1 to 200; the server's default is 50).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,
    /// Start at this page: the next_cursor a previous list printed.
    #[arg(long)]
    pub cursor: Option<String>,
}

/// A write's preview and retry options.
#[derive(Debug, Args)]
pub struct WriteOptions {
    /// Run every check, the database's included, and print the answer; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send an Idempotency-Key: a retry with the same key and body gives the first answer
    /// again instead of a second write (a retried create shows no secret).
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

impl WriteOptions {
    /// A write that is never a dry run, with an Idempotency-Key when one is given.
    pub fn keyed(idempotency_key: Option<String>) -> Self {
        Self {
            dry_run: false,
            idempotency_key,
        }
    }
}

/// The value parser of every secret flag: the text is a `SecretString` from the start, so the
/// parsed arguments' `Debug` never shows it.
fn secret(text: &str) -> Result<SecretString, String> {
    Ok(SecretString::new(text.to_owned()))
}
