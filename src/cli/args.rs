//! The API commands' arguments, as `clientd <resource> <verb> --help` shows them.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use url::Url;

use crate::domain::secret::SecretString;
use crate::token_flags::TokenFlags;

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
#[command(next_help_heading = "Server and output")]
pub struct Server {
    /// The clientd server to call.
    #[arg(
        long,
        env = "CLIENTD_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: Url,

    /// An admin API token. Prefer CLIENTD_TOKEN or --token-file: other users of this machine
    /// can read a command line.
    #[arg(long, env = "CLIENTD_TOKEN", hide_env_values = true, global = true, value_parser = secret)]
    pub token: Option<SecretString>,

    /// A file holding the token (its first line); wins over --token and CLIENTD_TOKEN.
    #[arg(long, value_name = "PATH", global = true)]
    pub token_file: Option<PathBuf>,

    /// Send the token over plain http:// to a host that is not this machine. Without it, such
    /// a --url is refused (exit 2): anyone on the way could read the token. Loopback
    /// (localhost, 127.0.0.0/8, [::1]) needs no flag; certificates are checked either way.
    #[arg(
        long,
        env = "CLIENTD_INSECURE_HTTP",
        global = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub insecure_http: bool,

    /// table for people, json for scripts. Default: table on a terminal, json otherwise.
    #[arg(long, short, value_enum, global = true)]
    pub output: Option<Output>,

    /// Print only this field of the answer (of each item, for lists), raw: strings without
    /// quotes, one line per item, several fields separated by tabs. Repeat for several; a dot
    /// goes into an object (current.last_used). `etag` also names the answer's ETag.
    #[arg(long, value_name = "NAME", global = true)]
    pub field: Vec<String>,
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

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Show the current (and next) secret's last four characters, creation and last use.
    Status {
        /// The client's id.
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
        /// The client's id.
        client_id: String,
    },
    /// Cancel a rotation: the next secret stops verifying.
    RotateCancel {
        /// The client's id.
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
#[command(next_help_heading = "Which events")]
pub struct EventsQuery {
    /// Only this client's events (its credentials' and rotations' too), also once deleted.
    #[arg(long, value_name = "ID", conflicts_with = "tenant")]
    pub client: Option<String>,
    /// Only this tenant's events.
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Only this action, e.g. client.patch or secret.rotate.complete.
    #[arg(long)]
    pub action: Option<String>,
    /// Only this kind of resource: tenant, client, credential, secret, token.
    #[arg(long, value_name = "TYPE")]
    pub resource_type: Option<String>,
    /// Only changes made with this token (its id).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    #[command(flatten)]
    pub paging: Paging,
}

fn secret(text: &str) -> Result<SecretString, String> {
    Ok(SecretString::new(text.to_owned()))
}
