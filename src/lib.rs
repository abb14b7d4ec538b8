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
pub mod store;
pub mod telemetry;
pub mod token_flags;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use config::{Cli, Command, Settings, TokenCommand};
use domain::change::{Actor, ChangeContext};
use domain::time;
use domain::token::{ApiToken, TokenText};
use http::{AppState, Limits};
use store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {address} (CLIENTD_LISTEN): {source}")]
    Listen {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot reach the database at {url} (DATABASE_URL) after {waited:?}: {source}")]
    DatabaseUnreachable {
        url: String,
        waited: Duration,
        source: StoreError,
    },
    #[error("cannot use the database at {url} (DATABASE_URL): {source}")]
    Database { url: String, source: StoreError },
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
    #[error("cannot issue the first admin token: {0}")]
    FirstToken(String),
    #[error("{0}")]
    Command(String),
}

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
    let store = open(&settings)?;
    // Before anything is written: on SQLite a second server on the file is refused here.
    (store.claim_sole_server()).map_err(|source| database_error(&settings, source))?;
    tokio::select! {
        ready = ready(store.as_ref(), &settings) => ready?,
        () = until_stopped(stopped.clone()) => {
            tracing::info!("stopped before serving");
            return Ok(());
        }
    }
    if settings.bootstrap_token.is_none() {
        announce_first_token(store.as_ref()).await?;
    }
    let changes = (store.changes().await).map_err(|source| database_error(&settings, source))?;
    let state = AppState::new(store.clone(), &settings)?;
    let use_cases = state.app.clone();
    let coherence = tokio::spawn({
        let app = use_cases.clone();
        async move { app.cache.follow(app.store.as_ref(), changes).await }
    });
    let uses = tokio::spawn(app::uses::record_every_second(
        use_cases.clone(),
        stopped.clone(),
    ));
    let limits = Limits {
        request_timeout: settings.request_timeout(),
        body_limit_bytes: settings.body_limit_bytes,
    };
    let retention = chrono::TimeDelta::days(i64::from(settings.audit_retention_days));
    let housekeeping = tokio::spawn(http::housekeeping(state.clone(), retention));
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
    let _ = uses.await;
    // What the last requests noted is written before the database is let go.
    app::uses::record(&use_cases).await;
    coherence.abort();
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the store, waits for the database with backoff, and brings its schema up to date.
pub async fn connect(settings: &Settings) -> Result<Arc<dyn Store>, StartError> {
    let store = open(settings)?;
    ready(store.as_ref(), settings).await?;
    Ok(store)
}

fn database_error(settings: &Settings, source: StoreError) -> StartError {
    StartError::Database {
        url: telemetry::redact_url(&settings.database_url),
        source,
    }
}

/// The store the settings name; no connection is made yet.
fn open(settings: &Settings) -> Result<Arc<dyn Store>, StartError> {
    store::open(&settings.database_url, &settings.pool())
        .map_err(|source| database_error(settings, source))
}

/// Waits for the database with backoff, then brings its schema up to date.
async fn ready(store: &dyn Store, settings: &Settings) -> Result<(), StartError> {
    let url = telemetry::redact_url(&settings.database_url);
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    while let Err(source) = probe(store, settings.db_wait()).await {
        if started.elapsed() + delay > settings.db_wait() {
            return Err(StartError::DatabaseUnreachable {
                url,
                waited: started.elapsed(),
                source,
            });
        }
        tracing::warn!(%url, attempt, retry_in = ?delay, error = %source, "database not reachable yet");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
        attempt += 1;
    }
    store
        .migrate()
        .await
        .map_err(|source| database_error(settings, source))
}

/// One connection attempt, bounded so that a host that drops packets cannot stall the start.
async fn probe(store: &dyn Store, limit: Duration) -> Result<(), StoreError> {
    let limit = limit.clamp(Duration::from_secs(1), Duration::from_secs(10));
    match tokio::time::timeout(limit, store.probe()).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
    }
}

/// With no bootstrap token configured, a new installation prints one admin token, once.
/// It goes to standard output, apart from the logs on standard error.
async fn announce_first_token(store: &dyn Store) -> Result<(), StartError> {
    let token = ApiToken::new(
        "first admin token",
        &["admin".to_owned()],
        &[],
        None,
        time::now(),
    )
    .map_err(|invalid| StartError::FirstToken(invalid.to_string()))?;
    let (text, hash) =
        TokenText::issue(token.id).map_err(|e| StartError::FirstToken(e.to_string()))?;
    let change = ChangeContext::without_request(Actor::Bootstrap);
    let event = app::tokens::event(&change, domain::audit::Action::TokenCreate, &token);
    let issued = (store.create_first_token(&token, &hash, &event).await)
        .map_err(|e| StartError::FirstToken(e.to_string()))?;
    if issued {
        println!(
            "First admin token (shown once, keep it safe): {}",
            text.expose()
        );
    }
    Ok(())
}
