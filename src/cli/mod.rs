//! `clientd` as a client of a clientd server's API (`clientd clients list`, `clientd secrets
//! rotate-start ID`, ...), and the commands beside the server that need no API (`local`).
//! `run` dispatches the whole command line, the server's commands included.
//! Exit codes: 0 done, 1 the server refused, 2 usage (a token that would go over plain http
//! to another machine included), 3 the server cannot be reached.

mod api;
mod args;
mod assertion;
mod command_line;
mod commands;
mod input;
pub mod local;
mod oauth;
mod output;
mod patch;

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use reqwest::Method;
use serde_json::Value;
use tokio::net::TcpListener;

pub use args::RemoteCommand;
use args::{
    ClientsCommand, CredentialsCommand, EventsQuery, OauthCommand, Output, Paging, SecretsCommand,
    Server, SigningKeysCommand, TenantsCommand, TokensCommand, WriteOptions,
};
pub use command_line::{Cli, Command, TokenCommand};
use output::{Kind, Printer, unwritten};

use api::{Answer, Api, Credentials, Failure};

use crate::app;
use crate::config::Settings;
use crate::start::{self, StartError};
use crate::telemetry;

/// Runs what the command line asks for: a server command, or a call of a server's API.
pub async fn run(cli: Cli) -> ExitCode {
    let (settings, local) = match cli.command {
        Some(Command::Remote(command)) => return call_api(command).await,
        None => (cli.settings, Local::Serve),
        Some(Command::Serve(settings)) => (settings, Local::Serve),
        Some(Command::Healthcheck(settings)) => (settings, Local::Healthcheck),
        Some(Command::Token(TokenCommand::Create { token, settings })) => {
            (settings, Local::Token(token.into()))
        }
    };
    telemetry::init(settings.log_format);
    let done = match local {
        Local::Serve => serve(settings).await.map_err(local::Error::from),
        Local::Token(request) => local::token(&settings, request).await,
        Local::Healthcheck => local::healthcheck(settings.listen).await,
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("clientd: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The server on the address the settings name, until a shutdown signal.
async fn serve(settings: Settings) -> Result<(), StartError> {
    let shutdown = telemetry::shutdown_signal();
    let address = settings.listen;
    match TcpListener::bind(address).await {
        Ok(listener) => start::serve(settings, listener, shutdown).await,
        Err(source) => Err(StartError::Listen { address, source }),
    }
}

enum Local {
    Serve,
    Token(app::tokens::CreateToken),
    Healthcheck,
}

/// Runs one API command and tells how it went as the process's exit code.
async fn call_api(command: RemoteCommand) -> ExitCode {
    match execute(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("clientd: {failure}");
            failure.exit_code()
        }
    }
}

async fn execute(command: RemoteCommand) -> Result<(), Failure> {
    let (server, call) = match command {
        RemoteCommand::Completions { shell } => return quietly_closed(completions(shell)),
        RemoteCommand::Tenants { server, command } => (server, Call::Tenants(command)),
        RemoteCommand::Clients { server, command } => (server, Call::Clients(command)),
        RemoteCommand::Credentials { server, command } => (server, Call::Credentials(command)),
        RemoteCommand::Secrets { server, command } => (server, Call::Secrets(command)),
        RemoteCommand::Tokens { server, command } => (server, Call::Tokens(command)),
        RemoteCommand::SigningKeys { server, command } => (server, Call::SigningKeys(command)),
        RemoteCommand::Events { server, query } => (server, Call::Events(query)),
        RemoteCommand::Oauth {
            endpoint,
            command: OauthCommand::Token(request),
        } => return oauth::token(endpoint, *request).await,
    };
    let session = Session::new(server)?;
    match call {
        Call::Tenants(command) => session.tenants(command).await,
        Call::Clients(command) => session.clients(command).await,
        Call::Credentials(command) => session.credentials(command).await,
        Call::Secrets(command) => session.secrets(command).await,
        Call::Tokens(command) => session.tokens(command).await,
        Call::SigningKeys(command) => session.signing_keys(command).await,
        Call::Events(query) => session.events(query).await,
    }
}

enum Call {
    Tenants(TenantsCommand),
    Clients(ClientsCommand),
    Credentials(CredentialsCommand),
    Secrets(SecretsCommand),
    Tokens(TokensCommand),
    SigningKeys(SigningKeysCommand),
    Events(EventsQuery),
}

fn completions(shell: args::Shell) -> Result<(), Failure> {
    use clap::CommandFactory;
    let shell = match shell {
        args::Shell::Bash => clap_complete::Shell::Bash,
        args::Shell::Zsh => clap_complete::Shell::Zsh,
        args::Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "clientd", &mut script);
    std::io::stdout().write_all(&script).map_err(unwritten)
}

/// A server to call and a way to print what it answers.
struct Session {
    api: Api,
    printer: Printer,
}

impl Session {
    fn new(server: Server) -> Result<Self, Failure> {
        let token = match (&server.token_file, server.token) {
            (Some(path), _) => input::secret(path)?,
            (None, Some(token)) if !token.expose().trim().is_empty() => token,
            (None, _) => {
                return Err(Failure::Usage(
                    "no token: set CLIENTD_TOKEN, or pass --token-file PATH".to_owned(),
                ));
            }
        };
        let output = server.output.unwrap_or(if std::io::stdout().is_terminal() {
            Output::Table
        } else {
            Output::Json
        });
        let api = Api::new(
            server.endpoint.url,
            Credentials::AdminToken(&token),
            server.endpoint.insecure_http,
        )?;
        Ok(Self {
            api,
            printer: Printer {
                output,
                fields: server.field,
            },
        })
    }

    async fn show(&self, path: &[&str]) -> Result<(), Failure> {
        let answer = self
            .api
            .send(self.api.request(Method::GET, self.api.url(path)?))
            .await?;
        quietly_closed(self.printer.one(&answer))
    }

    /// A write (a POST, or a PATCH of a credential): its body as JSON, with a dry run or an
    /// idempotency key when asked.
    async fn write(
        &self,
        method: Method,
        path: &[&str],
        options: &WriteOptions,
        body: Option<Value>,
    ) -> Result<Answer, Failure> {
        let mut url = self.api.url(path)?;
        if options.dry_run {
            url.query_pairs_mut().append_pair("dry_run", "true");
        }
        let mut request = self.api.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = &options.idempotency_key {
            request = request.header("idempotency-key", key);
        }
        self.api.send(request).await
    }

    /// A write's answer, printed; it may hold a secret shown once, so it must come out whole.
    fn print_written(&self, answer: &Answer) -> Result<(), Failure> {
        if answer.header("dry-run") == Some("true") {
            eprintln!("clientd: dry run: nothing was stored");
        }
        if answer.header("idempotent-replayed") == Some("true") {
            eprintln!(
                "clientd: replayed: the answer to the first request with this Idempotency-Key"
            );
        }
        self.printer.one(answer)
    }

    async fn delete(&self, path: &[&str], done: &str) -> Result<(), Failure> {
        let request = self.api.request(Method::DELETE, self.api.url(path)?);
        self.api.send(request).await?;
        self.printer.done(done).map_err(unwritten)
    }

    /// A list, one page or (with --all) every page, printed as it arrives.
    async fn list(
        &self,
        kind: &Kind,
        path: &[&str],
        query: Vec<(&str, String)>,
        paging: Paging,
    ) -> Result<(), Failure> {
        let mut list = self.printer.list(kind);
        let mut cursor = paging.cursor;
        let mut seen = HashSet::new();
        loop {
            let mut url = self.api.url(path)?;
            {
                let mut pairs = url.query_pairs_mut();
                for (name, value) in &query {
                    pairs.append_pair(name, value);
                }
                if let Some(limit) = paging.limit {
                    pairs.append_pair("limit", &limit.to_string());
                }
                if let Some(cursor) = &cursor {
                    pairs.append_pair("cursor", cursor);
                }
            }
            let answer = self.api.send(self.api.request(Method::GET, url)).await?;
            if let Some(total) = answer.header("x-total-count").filter(|_| seen.is_empty()) {
                let (plural, verb) = if total == "1" {
                    ("", "matches")
                } else {
                    ("s", "match")
                };
                let total = output::printable(total);
                eprintln!("clientd: {total} {}{plural} {verb}", kind.noun);
            }
            // A client's credentials come as one array; every other list in pages.
            let (items, next) = match &answer.body {
                Value::Array(items) => (items.as_slice(), None),
                page => (
                    (page.get("items").and_then(Value::as_array)).map_or(&[][..], Vec::as_slice),
                    (page.get("next_cursor").and_then(Value::as_str)).filter(|c| !c.is_empty()),
                ),
            };
            quietly_closed(list.page(items))?;
            match next {
                Some(next) if paging.all => {
                    if !seen.insert(next.to_owned()) {
                        return Err(self.api.not_clientd("the same page cursor twice"));
                    }
                    cursor = Some(next.to_owned());
                }
                next => return quietly_closed(list.finish(next)),
            }
        }
    }
}

/// A read whose reader left early (`| head`) has done its job.
fn quietly_closed(printed: Result<(), Failure>) -> Result<(), Failure> {
    match printed {
        Err(Failure::OutputClosed) => Ok(()),
        printed => printed,
    }
}

/// The pairs whose values are given.
fn given<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<String>)>) -> Vec<(&'a str, String)> {
    (pairs.into_iter())
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
}
