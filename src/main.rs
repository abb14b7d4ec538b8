use std::process::ExitCode;

use clap::Parser;
use clientd::config::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    clientd::telemetry::init(cli.settings.log_format);
    match clientd::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("clientd: {error}");
            ExitCode::FAILURE
        }
    }
}
