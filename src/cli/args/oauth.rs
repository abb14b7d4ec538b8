//! `clientd oauth <verb>`: the command line as one of a tenant's machine clients.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::Output;

#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// Get an access token by client credentials and print only it, for
    /// TOKEN=$(clientd oauth token ...); --output json prints the whole answer.
    ///
    /// The client proves who it is with its secret (from --client-secret-file, or else piped
    /// in on standard input) or, with --private-key-file, with a client assertion
    /// (private_key_jwt) signed here. No admin token is needed, and none is sent.
    Token(Box<TokenRequest>),
}

#[derive(Debug, Args)]
pub struct TokenRequest {
    /// The tenant whose token endpoint to ask.
    #[arg(long)]
    pub tenant: String,
    /// The client's id.
    #[arg(long)]
    pub client_id: String,
    /// A scope to ask for; repeat (or separate by spaces) for several. Default: every scope
    /// of the client.
    #[arg(long)]
    pub scope: Vec<String>,
    /// The API the token is for: one of the client's audiences. Default: all of them.
    #[arg(long)]
    pub audience: Option<String>,
    /// A file holding the client's secret (its first line). Without it, and without
    /// --private-key-file, the secret is read from standard input.
    #[arg(long, value_name = "PATH", conflicts_with = "private_key_file")]
    pub client_secret_file: Option<PathBuf>,
    /// How the secret is sent: basic (Authorization: Basic) or post (in the form body), as
    /// the client's clientAuthMethod says.
    #[arg(
        long,
        value_enum,
        default_value_t = SecretMethod::Basic,
        conflicts_with = "private_key_file"
    )]
    pub client_auth: SecretMethod,
    /// Authenticate with private_key_jwt: a PEM file with the client's RSA private key
    /// (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY") whose public key is registered as
    /// one of its credentials. The key never leaves this machine; a signed assertion does.
    #[arg(long, value_name = "PEM")]
    pub private_key_file: Option<PathBuf>,
    /// The registered credential's kid, put in the assertion's header. Without it, the
    /// server tries each of the client's keys.
    #[arg(long, requires = "private_key_file")]
    pub kid: Option<String>,
    /// The algorithm to sign the assertion with: the registered credential's.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value_t = AssertionAlg::Rs256,
        requires = "private_key_file"
    )]
    pub alg: AssertionAlg,
    /// Print the whole answer (access_token, token_type, expires_in, scope) as json, or as a
    /// table. Default: only the access token, on a line of its own.
    #[arg(long, short, value_enum)]
    pub output: Option<Output>,
}

/// How a client secret goes to the token endpoint (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretMethod {
    /// client_secret_basic.
    Basic,
    /// client_secret_post.
    Post,
}

/// The algorithms a registered RSA key may sign a client assertion with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AssertionAlg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "RS384")]
    Rs384,
    #[value(name = "PS256")]
    Ps256,
}
