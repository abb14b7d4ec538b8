//! clientd: a self-hosted OAuth client-management service.
//!
//! `run` is the whole program behind `main`; `serve` starts the API on a listener the caller
//! provides and stops when `shutdown` completes, so tests run the real server on port 0.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod server;
pub mod start;
pub mod store;
pub mod telemetry;
pub mod token_flags;

use std::future::Future;

use tokio::net::TcpListener;
use tokio::sync::watch;

use cli::{Cli, Command, TokenCommand};
use config::Settings;
use http::{AppState, Limits};
pub use start::{StartError, connect};

/// Runs what the command line asks for: a server command, or a call of a server's API.
pub async fn run(cli: Cli) -> std::process::ExitCode {
    let (settings, local) = match cli.command {
        Some(Command::Remote(command)) => return cli::run(command).await,
        None => (cli.settings, Local::Serve),
        Some(Command::Serve(settings)) => (settings, Local::Serve),
        Some(Command::Healthcheck(settings)) => (settings, Local::Healthcheck),
        Some(Command::Token(TokenCommand::Create { token, settings })) => {
            (settings, Local::Token(token.into()))
        }
    };
    telemetry::init(settings.log_format);
    let done = match local {
        Local::Serve => {
            let shutdown = telemetry::shutdown_signal();
            let address = settings.listen;
            match TcpListener::bind(address).await {
                Ok(listener) => serve(settings, listener, shutdown).await,
                Err(source) => Err(StartError::Listen { address, source }),
            }
        }
        Local::Token(request) => cli::local::token(&settings, request).await,
        Local::Healthcheck => cli::local::healthcheck(settings.listen).await,
    };
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("clientd: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

enum Local {
    Serve,
    Token(app::tokens::CreateToken),
    Healthcheck,
}

/// Connects, migrates, and serves the API on `listener` until `shutdown` completes; requests
/// under way are finished first.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // One stop signal for both phases: waiting for the database, and serving.
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let store = start::open(&settings)?;
    // Before anything is written: on SQLite a second server on the file is refused here.
    (store.claim_sole_server()).map_err(|source| start::database_error(&settings, source))?;
    tokio::select! {
        ready = start::ready(store.as_ref(), &settings) => ready?,
        () = until_stopped(stopped.clone()) => {
            tracing::info!("stopped before serving");
            return Ok(());
        }
    }
    if settings.bootstrap_token.is_none() {
        start::announce_first_token(store.as_ref()).await?;
    }
    let changes =
        (store.changes().await).map_err(|source| start::database_error(&settings, source))?;
    let state = AppState::new(app::App::new(store.clone(), &settings), &settings)?;
    let use_cases = state.app.clone();
    let coherence = tokio::spawn({
        let app = use_cases.clone();
        async move { app.cache.follow(app.store.as_ref(), changes).await }
    });
    let uses = tokio::spawn(app::secret_uses::record_every_second(
        use_cases.clone(),
        stopped.clone(),
    ));
    let limits = Limits {
        request_timeout: settings.request_timeout(),
        body_limit_bytes: settings.body_limit_bytes,
    };
    let retention = chrono::TimeDelta::days(i64::from(settings.audit_retention_days));
    let housekeeping = tokio::spawn(app::housekeeping::run(use_cases.clone(), retention));
    let upkeep = tokio::spawn(http::upkeep(state.clone()));
    let app = http::router(state, limits);
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "serving");
    }
    server::serve(
        listener,
        app,
        settings.connections(),
        until_stopped(stopped),
    )
    .await;
    housekeeping.abort();
    upkeep.abort();
    let _ = uses.await;
    // What the last requests noted is written before the database is let go.
    app::secret_uses::record(&use_cases).await;
    coherence.abort();
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
