use std::process::ExitCode;

use clap::Parser;
use clientd::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    clientd::cli::run(Cli::parse()).await
}
