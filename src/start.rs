//! Starting on a database: open the store the settings name, wait for the database with
//! backoff, bring its schema up to date, and on a new installation announce the first token.
//! The command line's local commands begin here; `serve` is the server's whole life, from
//! that start to letting the database go.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{self, App};
use crate::config::Settings;
use crate::http::{self, AppState, Limits};
use crate::server;
use crate::store::{self, Store, StoreError};
use crate::telemetry;

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
    FirstToken(#[source] app::Error),
}

/// Connects to the database the settings name, ready for the use cases; `App::close` lets
/// the database go.
pub async fn app(settings: &Settings) -> Result<App, StartError> {
    Ok(App::new(connect(settings).await?, settings))
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
pub(crate) fn open(settings: &Settings) -> Result<Arc<dyn Store>, StartError> {
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
async fn announce_first_token(app: &App) -> Result<(), StartError> {
    let first = (app::tokens::create_first(app).await).map_err(StartError::FirstToken)?;
    if let Some(text) = first {
        println!(
            "First admin token (shown once, keep it safe): {}",
            text.expose()
        );
    }
    Ok(())
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
    let app = App::new(store, &settings);
    if settings.bootstrap_token.is_none() {
        announce_first_token(&app).await?;
    }
    let state = AppState::new(app.clone(), &settings)?;
    let background = (app.start_background(stopped.clone()).await)
        .map_err(|source| database_error(&settings, source))?;
    let limits = Limits {
        request_timeout: settings.request_timeout(),
        body_limit_bytes: settings.body_limit_bytes,
    };
    let upkeep = tokio::spawn(http::upkeep(state.clone()));
    let router = http::router(state, limits);
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "serving");
    }
    server::serve(
        listener,
        router,
        settings.connections(),
        until_stopped(stopped),
    )
    .await;
    upkeep.abort();
    background.stop().await;
    app.close().await;
    tracing::info!("stopped");
    Ok(())
}
