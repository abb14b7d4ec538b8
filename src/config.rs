//! Every setting of clientd, from flags or environment variables (`clientd --help` lists them).
//! A bad value stops the start with a message that names the setting.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::domain::oauth::seal::MIN_SECRET_CHARS;
use crate::domain::oauth::signing::SigningAlg;
use crate::domain::secret::SecretString;
use crate::store::{Backend, PoolSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Database: sqlite://PATH (created when missing), sqlite::memory: or postgres://USER@HOST/DB.
    /// Its value is never printed: it may hold a password.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://clientd.db", hide_env_values = true, value_parser = parse_database_url)]
    pub database_url: String,

    /// Address to serve on, as host:port.
    #[arg(long, env = "CLIENTD_LISTEN", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    pub listen: SocketAddr,

    /// A token (at least 32 characters) that holds every permission, for CI and compose.
    /// It lives only in configuration: it is neither stored nor listed.
    #[arg(long, env = "CLIENTD_BOOTSTRAP_TOKEN", hide_env_values = true, value_parser = parse_bootstrap_token)]
    pub bootstrap_token: Option<SecretString>,

    /// Log format: text for people, json for log collectors.
    #[arg(long, env = "CLIENTD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Most database connections this replica holds.
    #[arg(long, env = "CLIENTD_DB_POOL_SIZE", value_name = "CLIENTD_DB_POOL_SIZE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// How long to wait at start for the database to answer, in seconds.
    #[arg(long, env = "CLIENTD_DB_WAIT_SECS", value_name = "CLIENTD_DB_WAIT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub db_wait_secs: u64,

    /// Longest a request may take before it is answered 503, in seconds.
    #[arg(long, env = "CLIENTD_REQUEST_TIMEOUT_SECS", value_name = "CLIENTD_REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Most credentials (keys, certificates, subject DNs) one client may hold; Auth0 allows two.
    #[arg(long, env = "CLIENTD_MAX_CREDENTIALS_PER_CLIENT", value_name = "CLIENTD_MAX_CREDENTIALS_PER_CLIENT", default_value_t = 2, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100))]
    pub max_credentials_per_client: usize,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "CLIENTD_BODY_LIMIT_BYTES", value_name = "CLIENTD_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1024..=64 * 1024 * 1024))]
    pub body_limit_bytes: usize,

    /// Failed authentications (bad, revoked or expired tokens) one source address may make in
    /// a minute; past it the address is answered 429 until the limit lets it try again.
    #[arg(long, env = "CLIENTD_AUTH_FAILURES_PER_MINUTE", value_name = "CLIENTD_AUTH_FAILURES_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub auth_failures_per_minute: u32,

    /// Failed secret verifications one client may have in a minute, likewise.
    #[arg(long, env = "CLIENTD_VERIFY_FAILURES_PER_MINUTE", value_name = "CLIENTD_VERIFY_FAILURES_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub verify_failures_per_minute: u32,

    /// Proxies (comma-separated CIDRs or addresses) whose X-Forwarded-For names the source
    /// address; from anyone else the header is ignored.
    #[arg(long, env = "CLIENTD_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Days the audit trail keeps an event; older ones are pruned in the background.
    #[arg(long, env = "CLIENTD_AUDIT_RETENTION_DAYS", value_name = "CLIENTD_AUDIT_RETENTION_DAYS", default_value_t = 400, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub audit_retention_days: u32,

    /// Most connections served at once; further ones wait in the listen queue.
    #[arg(long, env = "CLIENTD_MAX_CONNECTIONS", value_name = "CLIENTD_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,

    /// Seconds a client has to send a request's head (method, path, headers) once it began.
    #[arg(long, env = "CLIENTD_HEADER_READ_TIMEOUT_SECS", value_name = "CLIENTD_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,

    /// Seconds a kept-alive connection may sit idle between requests before it is closed.
    #[arg(long, env = "CLIENTD_KEEP_ALIVE_TIMEOUT_SECS", value_name = "CLIENTD_KEEP_ALIVE_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub keep_alive_timeout_secs: u64,

    /// Mebibytes of memory for clients (with their secrets) and API tokens served without
    /// a database round trip; 0 sends every read to the database.
    #[arg(long, env = "CLIENTD_CACHE_MIB", value_name = "CLIENTD_CACHE_MIB", default_value_t = 48, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub cache_mib: u64,

    /// The URL clients and resource servers reach this server at; each tenant's issuer is it
    /// plus /tenants/{id}. Default: http:// and the listen address (0.0.0.0 and :: as
    /// 127.0.0.1). Use https in production (RFC 8414 wants https issuers).
    #[arg(long, env = "CLIENTD_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Also accept client assertions (private_key_jwt) whose aud is the token endpoint URL,
    /// as older client libraries send; by default only the issuer, as RFC 10070 requires.
    #[arg(long, env = "CLIENTD_ACCEPT_TOKEN_ENDPOINT_AUDIENCE")]
    pub accept_token_endpoint_audience: bool,

    /// The longest an access token lives, in seconds, whatever its client's
    /// accessTokenValiditySeconds; also how long a previous signing key stays published.
    #[arg(long, env = "CLIENTD_MAX_ACCESS_TOKEN_SECS", value_name = "CLIENTD_MAX_ACCESS_TOKEN_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(i64).range(60..=31_536_000))]
    pub max_access_token_secs: i64,

    /// The algorithm of new token signing keys: ES256, EdDSA or RS256.
    #[arg(long, env = "CLIENTD_TOKEN_SIGNING_ALG", value_name = "CLIENTD_TOKEN_SIGNING_ALG", default_value = "ES256", value_parser = parse_signing_alg)]
    pub token_signing_alg: SigningAlg,

    /// Comma-separated secrets (at least 32 characters each) that seal the signing keys at
    /// rest: the first seals, every one opens. On SQLite without it, a key file beside the
    /// database is made; on Postgres without it, the token routes answer 503.
    #[arg(long, env = "CLIENTD_KEY_ENCRYPTION_KEYS", hide_env_values = true, value_delimiter = ',', value_parser = parse_key_encryption_key)]
    pub key_encryption_keys: Vec<SecretString>,

    /// Days a signing key signs before the next one takes over; the next key is published
    /// in JWKS from the previous rotation on.
    #[arg(long, env = "CLIENTD_SIGNING_KEY_ROTATION_DAYS", value_name = "CLIENTD_SIGNING_KEY_ROTATION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub signing_key_rotation_days: u32,

    /// Seconds between two recorded uses of one secret (and of one admin token): a use is
    /// written when the last recorded one is at least this old. The rotation autopilot
    /// waits this long past an old secret's last recorded use before completing.
    #[arg(long, env = "CLIENTD_LAST_USED_GRANULARITY_SECS", value_name = "CLIENTD_LAST_USED_GRANULARITY_SECS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub last_used_granularity_secs: u32,

    /// Seconds between two runs of the rotation autopilot (stale secrets, rotations to
    /// complete or overdue, expiring credentials); every replica runs it.
    #[arg(long, env = "CLIENTD_AUTOPILOT_INTERVAL_SECS", value_name = "CLIENTD_AUTOPILOT_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub autopilot_interval_secs: u32,

    /// Days before a credential's expires_at that its credential.expiring event is written.
    #[arg(long, env = "CLIENTD_EXPIRY_WARNING_DAYS", value_name = "CLIENTD_EXPIRY_WARNING_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub expiry_warning_days: u32,
}

impl Settings {
    /// The settings of a server with defaults but for the database, as tests and tools want them.
    pub fn for_database(database_url: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            bootstrap_token: None,
            log_format: LogFormat::Text,
            db_pool_size: 10,
            db_wait_secs: 60,
            request_timeout_secs: 30,
            body_limit_bytes: 1024 * 1024,
            max_credentials_per_client: 2,
            auth_failures_per_minute: 30,
            audit_retention_days: 400,
            verify_failures_per_minute: 30,
            trusted_proxies: Vec::new(),
            max_connections: 1024,
            header_read_timeout_secs: 10,
            keep_alive_timeout_secs: 30,
            cache_mib: 48,
            public_url: None,
            accept_token_endpoint_audience: false,
            max_access_token_secs: 86_400,
            token_signing_alg: SigningAlg::ES256,
            key_encryption_keys: Vec::new(),
            signing_key_rotation_days: 90,
            last_used_granularity_secs: 60,
            autopilot_interval_secs: 60,
            expiry_warning_days: 14,
        }
    }

    /// The URL this server is reached at: `CLIENTD_PUBLIC_URL`, else http:// and the listen
    /// address, with an any-address (0.0.0.0, ::) as 127.0.0.1.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => Self::default_public_url(self.listen),
        }
    }

    /// http:// and an address served on, with an any-address as 127.0.0.1.
    pub fn default_public_url(mut address: SocketAddr) -> String {
        if address.ip().is_unspecified() {
            address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{address}")
    }

    pub fn pool(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.db_pool_size,
            // A request should fail fast rather than hang while the database is away.
            acquire_timeout: Duration::from_secs(5).min(self.request_timeout()),
            statement_timeout: self.request_timeout(),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn connections(&self) -> crate::server::ConnectionLimits {
        crate::server::ConnectionLimits {
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            keep_alive_timeout: Duration::from_secs(self.keep_alive_timeout_secs),
        }
    }

    pub fn db_wait(&self) -> Duration {
        Duration::from_secs(self.db_wait_secs)
    }
}

fn parse_database_url(text: &str) -> Result<String, String> {
    Backend::of(text)
        .map(|_| text.to_owned())
        .map_err(|why| format!("DATABASE_URL {why}"))
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        "CLIENTD_LISTEN must be an IP address and port, like 127.0.0.1:8080 or 0.0.0.0:8080"
            .to_owned()
    })
}

fn parse_bootstrap_token(text: &str) -> Result<SecretString, String> {
    if text.chars().count() >= 32 && !text.chars().any(char::is_whitespace) {
        Ok(SecretString::new(text.to_owned()))
    } else {
        Err("CLIENTD_BOOTSTRAP_TOKEN must be at least 32 characters without white space (try: openssl rand -hex 32)".to_owned())
    }
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let refused = || {
        format!(
            "CLIENTD_PUBLIC_URL must be an http(s) URL without query or fragment, like https://auth.acme.example; got {text:?}"
        )
    };
    let url = url::Url::parse(text).map_err(|_| refused())?;
    let fits = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !fits {
        return Err(refused());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn parse_signing_alg(text: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(text).map_err(|why| format!("CLIENTD_TOKEN_SIGNING_ALG: {why}"))
}

fn parse_key_encryption_key(text: &str) -> Result<SecretString, String> {
    let text = text.trim();
    if text.chars().count() >= MIN_SECRET_CHARS {
        Ok(SecretString::new(text.to_owned()))
    } else {
        Err(format!(
            "CLIENTD_KEY_ENCRYPTION_KEYS: each key must be at least {MIN_SECRET_CHARS} characters (try: openssl rand -hex 32)"
        ))
    }
}

/// A CIDR (10.0.0.0/8, fd00::/8) or a single address.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    (text.parse::<ipnet::IpNet>())
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            format!("CLIENTD_TRUSTED_PROXIES: {text:?} is not a CIDR (10.0.0.0/8) or an address")
        })
}
