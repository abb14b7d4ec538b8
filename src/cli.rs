//! Commands other than serving: `clientd token create`.

use crate::StartError;
use crate::config::{Settings, TokenCommand};
use crate::http::error::ApiError;
use crate::http::tokens::{CreateToken, issue_token};

pub async fn token(settings: &Settings, command: TokenCommand) -> Result<(), StartError> {
    match command {
        TokenCommand::Create {
            name,
            permissions,
            tenants,
            expires_at,
        } => {
            let store = crate::connect(settings).await?;
            let request = CreateToken {
                name,
                permissions,
                tenants,
                expires_at,
            };
            let issued = issue_token(store.as_ref(), request).await;
            store.close().await;
            let (token, text) = issued.map_err(|error| StartError::Command(describe(error)))?;
            eprintln!(
                "Created token {} ({}); it is shown once:",
                token.id, token.name
            );
            println!("{}", text.expose());
            Ok(())
        }
    }
}

fn describe(error: ApiError) -> String {
    match error {
        ApiError::Invalid(errors) => {
            let lines: Vec<_> = (errors.iter())
                .map(|e| format!("  {}: {}", e.pointer.trim_start_matches('/'), e.message))
                .collect();
            format!("the token was not created:\n{}", lines.join("\n"))
        }
        error => format!("the token was not created: {error}"),
    }
}
