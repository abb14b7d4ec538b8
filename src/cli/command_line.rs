//! The whole command line of `clientd`: a bare `clientd` with the server's settings, one of
//! the commands beside the server (`serve`, `token create`, `healthcheck`), or a call of a
//! server's API. The server's own settings stay in `config`.

use clap::{Parser, Subcommand};

use super::RemoteCommand;
use super::args::TokenFlags;
use crate::config::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "clientd",
    version,
    about = "Self-hosted OAuth client-management service",
    long_about = "Self-hosted OAuth client-management service.\n\n\
        A bare `clientd` (or `clientd serve`) serves the REST API with the settings below. \
        The other commands are a client of that API: `clientd clients list`, \
        `clientd secrets rotate-start ID`, ... Set CLIENTD_URL and CLIENTD_TOKEN first, or \
        give --url and --token-file after the resource: `clientd clients --url URL list`.",
    // `clientd --listen X serve` would leave one of the two settings unused: settings go
    // either to a bare `clientd` or after the command.
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten, next_help_heading = "Server settings")]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start
pub enum Command {
    /// Serve the REST API (what a bare `clientd` does).
    Serve(#[command(flatten, next_help_heading = "Server settings")] Settings),
    /// Manage admin API tokens directly in the database, without a server.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Exit 0 when the clientd at CLIENTD_LISTEN is ready (for container health checks).
    Healthcheck(#[command(flatten, next_help_heading = "Server settings")] Settings),
    #[command(flatten)]
    Remote(RemoteCommand),
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum TokenCommand {
    /// Create an admin API token in the database and print it once (a server need not run).
    Create {
        #[command(flatten)]
        token: TokenFlags,
        #[command(flatten, next_help_heading = "Server settings")]
        settings: Settings,
    },
}
