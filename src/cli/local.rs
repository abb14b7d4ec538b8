//! Commands beside the server that need no API: `clientd token create` (straight into the
//! database) and `clientd healthcheck`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::app::tokens::{self, CreateToken};
use crate::app::{self, Caller};
use crate::config::Settings;
use crate::start::{self, StartError};

/// Why a command beside the server failed, as `clientd: ...` tells it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{}", describe(.0))]
    TokenNotCreated(app::Error),
    #[error("{address} is not ready")]
    NotReady { address: SocketAddr },
    #[error("{address} did not answer: {source}")]
    NoAnswer {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("{address} did not answer within 5 s")]
    Silent { address: SocketAddr },
}

pub async fn token(settings: &Settings, request: CreateToken) -> Result<(), Error> {
    let app = start::app(settings).await?;
    let issued = tokens::create(&app, &Caller::command_line(), request).await;
    app.close().await;
    let (token, text) = issued.map_err(Error::TokenNotCreated)?;
    eprintln!(
        "Created token {} ({}); it is shown once:",
        token.id, token.name
    );
    println!("{}", text.expose());
    Ok(())
}

fn describe(error: &app::Error) -> String {
    match error {
        app::Error::Invalid(crate::domain::Invalid(errors)) => {
            let lines: Vec<_> = (errors.iter())
                .map(|e| format!("  {}: {}", e.pointer.trim_start_matches('/'), e.message))
                .collect();
            format!("the token was not created:\n{}", lines.join("\n"))
        }
        error => format!("the token was not created: {error}"),
    }
}

/// Asks the local server's `/readyz`. Plain HTTP/1.1 over TCP: the runtime image has no curl,
/// and one GET does not justify an HTTP client.
pub async fn healthcheck(listen: SocketAddr) -> Result<(), Error> {
    let mut address = listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    let check = async {
        let mut stream = TcpStream::connect(address).await?;
        let request =
            format!("GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut status_line = [0u8; 12];
        stream.read_exact(&mut status_line).await?;
        Ok::<_, std::io::Error>(status_line.ends_with(b" 200"))
    };
    match tokio::time::timeout(Duration::from_secs(5), check).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(Error::NotReady { address }),
        Ok(Err(source)) => Err(Error::NoAnswer { address, source }),
        Err(_) => Err(Error::Silent { address }),
    }
}
