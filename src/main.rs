use std::process::ExitCode;

use clap::Parser;
use clientd::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    clientd::run(Cli::parse()).await
}
