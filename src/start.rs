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
    #[error("cannot use the key file {path} (for CLIENTD_KEY_ENCRYPTION_KEYS): {why}")]
    KeyFile { path: String, why: String },
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

/// Without `CLIENTD_KEY_ENCRYPTION_KEYS`: on an SQLite file, the secret of a key file beside
/// it (made, mode 0600, on first start); in memory, a secret of this process alone (its keys
/// go with the database); on Postgres none, and the token routes say what to set. With it,
/// a key file already made still opens what it sealed, so moving to the setting loses nothing.
fn key_encryption_keys(settings: &mut Settings, store: &dyn Store) -> Result<(), StartError> {
    use crate::domain::secret::SecretString;
    let key_file_path = store.database_file().map(|database| {
        let mut name = database.as_os_str().to_owned();
        name.push(".key-encryption-key");
        std::path::PathBuf::from(name)
    });
    let postgres = matches!(
        store::Backend::of(&settings.database_url),
        Ok(store::Backend::Postgres)
    );
    match (settings.key_encryption_keys.is_empty(), key_file_path) {
        (false, Some(path)) if path.exists() => {
            let secret = key_file(&path)?;
            settings.key_encryption_keys.push(secret);
        }
        (false, _) => {}
        (true, _) if postgres => {
            tracing::warn!(
                "CLIENTD_KEY_ENCRYPTION_KEYS is not set: the token routes answer 503 until it is"
            );
        }
        (true, Some(path)) => settings.key_encryption_keys = vec![key_file(&path)?],
        (true, None) => {
            let secret = SecretString::generate().map_err(|e| StartError::KeyFile {
                path: "(memory)".to_owned(),
                why: e.to_string(),
            })?;
            settings.key_encryption_keys = vec![secret];
        }
    }
    Ok(())
}

/// The secret of a key file, made on first use: 64 hex digits, readable by this user only,
/// written whole and flushed to disk before it takes the name (so a crash never leaves a
/// half-written file, and of two processes making it at once, one's is kept and read).
fn key_file(path: &std::path::Path) -> Result<crate::domain::secret::SecretString, StartError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |why: String| StartError::KeyFile {
        path: path.display().to_string(),
        why,
    };
    let read = || match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= crate::domain::oauth::seal::MIN_SECRET_CHARS => Ok(Some(
            crate::domain::secret::SecretString::new(text.trim().to_owned()),
        )),
        Ok(_) => Err(failed("it holds fewer than 32 characters".to_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(failed(error.to_string())),
    };
    if let Some(secret) = read()? {
        return Ok(secret);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| failed(e.to_string()))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut draft = path.as_os_str().to_owned();
    draft.push(format!(".{}", std::process::id()));
    let draft = std::path::PathBuf::from(draft);
    let written = (|| {
        let mut file = (std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600))
        .open(&draft)?;
        writeln!(file, "{secret}")?;
        file.sync_all()?;
        // A hard link never replaces a file that is there: the first one made is kept.
        std::fs::hard_link(&draft, path)
    })();
    let _ = std::fs::remove_file(&draft);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "made a key file that seals the token signing keys; back it up with the database (or set CLIENTD_KEY_ENCRYPTION_KEYS)");
            Ok(crate::domain::secret::SecretString::new(secret))
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            read()?.ok_or_else(|| failed("it vanished while it was made".to_owned()))
        }
        Err(error) => Err(failed(error.to_string())),
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
    let mut settings = settings;
    if settings.public_url.is_none()
        && let Ok(address) = listener.local_addr()
    {
        settings.public_url = Some(Settings::default_public_url(address));
    }
    if !settings.public_url().starts_with("https://") {
        tracing::warn!(public_url = %settings.public_url(), "the issuer URL is not https (RFC 8414 wants https issuers): set CLIENTD_PUBLIC_URL to the https URL clients reach this server at");
    }
    key_encryption_keys(&mut settings, store.as_ref())?;
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
