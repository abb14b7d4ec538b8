//! Logging, shutdown signals, and keeping secrets out of what is logged.

use std::future::Future;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Logs go to standard error, as text or JSON; `RUST_LOG` filters them (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never in files or log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Completes on SIGINT or SIGTERM, so the server can finish what is under way. The handlers
/// are installed here, at once, not when the future is first polled: a signal that arrives
/// while clientd is still starting must stop it gracefully too, not kill it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {},
                    _ = terminate.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests under way");
    }
}

/// A database URL fit for a log: the password, in the user info or as a `password=` query
/// parameter, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (url, None),
    };
    let mut redacted = redact_userinfo(address);
    if let Some(query) = query {
        let parameters: Vec<String> = (query.split('&'))
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => parameter.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&parameters.join("&"));
    }
    redacted
}

fn redact_userinfo(address: &str) -> String {
    let Some((scheme, rest)) = address.split_once("://") else {
        return address.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return address.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            redact_url("postgres://app:s3cr@t@db:5432/clientd"),
            "postgres://app:***@db:5432/clientd"
        );
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_url("sqlite://clientd.db"), "sqlite://clientd.db");
        assert_eq!(
            redact_url("postgres://db/x?sslmode=require&password=hunter2&user=app"),
            "postgres://db/x?sslmode=require&password=***&user=app"
        );
        assert_eq!(
            redact_url("postgres://app:pw@db/x?Password=hunter2"),
            "postgres://app:***@db/x?Password=***"
        );
    }
}
