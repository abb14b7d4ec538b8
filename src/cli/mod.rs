//! `clientd` as a client of a clientd server's API (`clientd clients list`, `clientd secrets
//! rotate-start ID`, ...), and the commands beside the server that need no API (`local`).
//! Exit codes: 0 done, 1 the server refused, 2 usage, 3 the server cannot be reached.

mod api;
mod args;
pub mod local;
mod output;
mod patch;

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use reqwest::Method;
use serde_json::{Map, Value, json};

pub use args::RemoteCommand;
use args::{
    ClientsCommand, CreateClient, CredentialsCommand, EventsQuery, Output, Paging, PatchClient,
    SecretsCommand, Server, TenantsCommand, TokensCommand, WriteOptions,
};
use output::{Kind, Printer};

use api::Api;
pub use api::{Answer, Failure};

use crate::domain::secret::SecretString;

/// Runs one API command and tells how it went as the process's exit code.
pub async fn run(command: RemoteCommand) -> ExitCode {
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
        RemoteCommand::Completions { shell } => return completions(shell),
        RemoteCommand::Tenants { server, command } => (server, Call::Tenants(command)),
        RemoteCommand::Clients { server, command } => (server, Call::Clients(command)),
        RemoteCommand::Credentials { server, command } => (server, Call::Credentials(command)),
        RemoteCommand::Secrets { server, command } => (server, Call::Secrets(command)),
        RemoteCommand::Tokens { server, command } => (server, Call::Tokens(command)),
        RemoteCommand::Events { server, query } => (server, Call::Events(query)),
    };
    let session = Session::new(server)?;
    match call {
        Call::Tenants(command) => session.tenants(command).await,
        Call::Clients(command) => session.clients(command).await,
        Call::Credentials(command) => session.credentials(command).await,
        Call::Secrets(command) => session.secrets(command).await,
        Call::Tokens(command) => session.tokens(command).await,
        Call::Events(query) => session.events(query).await,
    }
}

enum Call {
    Tenants(TenantsCommand),
    Clients(ClientsCommand),
    Credentials(CredentialsCommand),
    Secrets(SecretsCommand),
    Tokens(TokensCommand),
    Events(EventsQuery),
}

fn completions(shell: args::Shell) -> Result<(), Failure> {
    use clap::CommandFactory;
    let shell = match shell {
        args::Shell::Bash => clap_complete::Shell::Bash,
        args::Shell::Zsh => clap_complete::Shell::Zsh,
        args::Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = crate::config::Cli::command();
    clap_complete::generate(shell, &mut command, "clientd", &mut std::io::stdout());
    Ok(())
}

/// A server to call and a way to print what it answers.
struct Session {
    api: Api,
    printer: Printer,
}

impl Session {
    fn new(server: Server) -> Result<Self, Failure> {
        let token = match (&server.token_file, server.token) {
            (Some(path), _) => first_line(path)?,
            (None, Some(token)) => token,
            (None, None) => {
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
        Ok(Self {
            api: Api::new(server.url, &token)?,
            printer: Printer {
                output,
                fields: server.field,
            },
        })
    }

    async fn tenants(&self, command: TenantsCommand) -> Result<(), Failure> {
        match command {
            TenantsCommand::List { paging } => {
                self.list(&output::TENANT, &["tenants"], Vec::new(), paging)
                    .await
            }
            TenantsCommand::Get { id } => self.show(Method::GET, &["tenants", &id]).await,
            TenantsCommand::Create {
                id,
                name,
                idempotency_key,
            } => {
                let write = WriteOptions {
                    dry_run: false,
                    idempotency_key,
                };
                let body = json!({"id": id, "name": name});
                self.write(Method::POST, &["tenants"], &write, Some(body))
                    .await
            }
            TenantsCommand::Delete { id } => {
                self.delete(&["tenants", &id], &format!("Deleted tenant {id}."))
                    .await
            }
        }
    }

    async fn clients(&self, command: ClientsCommand) -> Result<(), Failure> {
        match command {
            ClientsCommand::List {
                tenant,
                filter,
                sort,
                count,
                paging,
            } => {
                let query = [("filters", filter), ("sorters", sort)]
                    .into_iter()
                    .filter_map(|(name, value)| Some((name, value?)))
                    .chain(count.then(|| ("count", "true".to_owned())))
                    .collect();
                match tenant {
                    Some(tenant) => {
                        let path = ["tenants", tenant.as_str(), "clients"];
                        self.list(&output::CLIENT, &path, query, paging).await
                    }
                    None => {
                        self.list(&output::CLIENT, &["clients"], query, paging)
                            .await
                    }
                }
            }
            ClientsCommand::Get { id } => self.show(Method::GET, &["clients", &id]).await,
            ClientsCommand::Create(create) => self.create_client(*create).await,
            ClientsCommand::Patch(patch) => self.patch_client(*patch).await,
            ClientsCommand::Delete { id } => {
                self.delete(&["clients", &id], &format!("Deleted client {id}."))
                    .await
            }
        }
    }

    async fn create_client(&self, create: CreateClient) -> Result<(), Failure> {
        let mut body = match &create.file {
            Some(path) => match serde_json::from_slice(&read_input(path)?) {
                Ok(Value::Object(body)) => body,
                _ => {
                    return Err(Failure::Usage(format!(
                        "{}: not a JSON object",
                        path.display()
                    )));
                }
            },
            None => Map::new(),
        };
        let text = [
            ("name", create.name),
            ("app_type", create.app_type),
            ("id", create.id),
            ("description", create.description),
        ];
        for (field, value) in text {
            if let Some(value) = value {
                body.insert(field.to_owned(), Value::String(value));
            }
        }
        let lists = [
            ("callbacks", create.callbacks),
            ("web_origins", create.web_origins),
            ("allowed_logout_urls", create.logout_urls),
            ("grant_types", create.grant_types),
        ];
        for (field, values) in lists.into_iter().filter(|(_, values)| !values.is_empty()) {
            body.insert(field.to_owned(), json!(values));
        }
        if !create.owners.is_empty() {
            let metadata = body.entry("client_metadata").or_insert_with(|| json!({}));
            if let Some(metadata) = metadata.as_object_mut() {
                metadata.insert("owners".to_owned(), json!(create.owners.join(", ")));
            }
        }
        let path = ["tenants", create.tenant.as_str(), "clients"];
        let body = Some(Value::Object(body));
        self.write(Method::POST, &path, &create.write, body).await
    }

    async fn patch_client(&self, patch: PatchClient) -> Result<(), Failure> {
        let body = match &patch.file {
            Some(path) => read_input(path)?,
            None if patch.set.is_empty() && patch.add.is_empty() && patch.remove.is_empty() => {
                return Err(Failure::Usage(
                    "nothing to change: give --file PATH, or --set, --add or --remove".into(),
                ));
            }
            None => patch::from_shorthands(&patch.set, &patch.add, &patch.remove)?
                .to_string()
                .into_bytes(),
        };
        let mut url = self.api.url(&["clients", &patch.id]);
        if patch.dry_run {
            url.query_pairs_mut().append_pair("dry_run", "true");
        }
        let mut request = (self.api.request(Method::PATCH, url))
            .header("content-type", "application/json-patch+json")
            .body(body);
        if let Some(etag) = &patch.if_match {
            request = request.header("if-match", quoted(etag));
        }
        let answer = self.api.send(request).await?;
        notes(&answer);
        self.print(&answer)
    }

    async fn credentials(&self, command: CredentialsCommand) -> Result<(), Failure> {
        match command {
            CredentialsCommand::List {
                client_id,
                expires_before,
                credential_type,
                paging,
            } => {
                let filtered = expires_before.is_some() || credential_type.is_some();
                match client_id {
                    Some(id) if !filtered && !paging.all && paging.limit.is_none() => {
                        let path = ["clients", id.as_str(), "credentials"];
                        self.list(&output::CREDENTIAL, &path, Vec::new(), paging)
                            .await
                    }
                    client_id => {
                        let query = [
                            ("client_id", client_id),
                            ("expires_before", expires_before),
                            ("credential_type", credential_type),
                        ];
                        let query = (query.into_iter())
                            .filter_map(|(name, value)| Some((name, value?)))
                            .collect();
                        self.list(&output::CREDENTIAL, &["credentials"], query, paging)
                            .await
                    }
                }
            }
            CredentialsCommand::Get {
                client_id,
                credential_id,
            } => {
                let path = ["clients", &client_id, "credentials", &credential_id];
                self.show(Method::GET, &path).await
            }
            CredentialsCommand::Add {
                client_id,
                pem,
                subject_dn,
                credential_type,
                name,
                kid,
                alg,
                expires_at,
                expiry_from_cert,
                write,
            } => {
                let pem = match &pem {
                    Some(path) => Some(String::from_utf8(read_input(path)?).map_err(|_| {
                        Failure::Usage(format!("{}: not a PEM text file", path.display()))
                    })?),
                    None => None,
                };
                let credential_type = credential_type.unwrap_or_else(|| {
                    match (&pem, &subject_dn) {
                        (Some(pem), _) if pem.contains("BEGIN CERTIFICATE") => "x509_cert",
                        (None, Some(_)) => "cert_subject_dn",
                        _ => "public_key",
                    }
                    .to_owned()
                });
                let mut body = json!({"credential_type": credential_type});
                let optional = [
                    ("pem", pem.map(Value::String)),
                    ("subject_dn", subject_dn.map(Value::String)),
                    ("name", name.map(Value::String)),
                    ("kid", kid.map(Value::String)),
                    ("alg", alg.map(Value::String)),
                    ("expires_at", expires_at.map(Value::String)),
                    (
                        "parse_expiry_from_cert",
                        expiry_from_cert.then_some(Value::Bool(true)),
                    ),
                ];
                for (field, value) in optional {
                    if let (Some(value), Some(body)) = (value, body.as_object_mut()) {
                        body.insert(field.to_owned(), value);
                    }
                }
                let path = ["clients", client_id.as_str(), "credentials"];
                self.write(Method::POST, &path, &write, Some(body)).await
            }
            CredentialsCommand::Expire {
                client_id,
                credential_id,
                at,
                never,
            } => {
                let expires_at = match at {
                    Some(at) if !never => Value::String(at),
                    _ => Value::Null,
                };
                let url = self
                    .api
                    .url(&["clients", &client_id, "credentials", &credential_id]);
                let request =
                    (self.api.request(Method::PATCH, url)).json(&json!({"expires_at": expires_at}));
                let answer = self.api.send(request).await?;
                self.print(&answer)
            }
            CredentialsCommand::Delete {
                client_id,
                credential_id,
            } => {
                let path = ["clients", &client_id, "credentials", &credential_id];
                self.delete(&path, &format!("Deleted credential {credential_id}."))
                    .await
            }
        }
    }

    async fn secrets(&self, command: SecretsCommand) -> Result<(), Failure> {
        let write = |idempotency_key| WriteOptions {
            dry_run: false,
            idempotency_key,
        };
        match command {
            SecretsCommand::Status { client_id } => {
                self.show(Method::GET, &["clients", &client_id, "secrets"])
                    .await
            }
            SecretsCommand::RotateStart {
                client_id,
                idempotency_key,
            } => {
                let path = ["clients", client_id.as_str(), "secrets", "rotate", "start"];
                self.write(Method::POST, &path, &write(idempotency_key), None)
                    .await
            }
            SecretsCommand::Rotate { client_id } => {
                let path = ["clients", client_id.as_str(), "secrets", "rotate"];
                self.write(Method::POST, &path, &write(None), None).await
            }
            SecretsCommand::RotateCancel { client_id } => {
                let path = ["clients", client_id.as_str(), "secrets", "rotate", "cancel"];
                self.write(Method::POST, &path, &write(None), None).await
            }
            SecretsCommand::Verify {
                client_id,
                secret_file,
            } => {
                let secret = match &secret_file {
                    Some(path) => first_line(path)?,
                    None => first_line(Path::new("-"))?,
                };
                let path = ["clients", client_id.as_str(), "secrets", "verify"];
                let body = json!({"client_secret": secret.expose()});
                self.write(Method::POST, &path, &write(None), Some(body))
                    .await
            }
        }
    }

    async fn tokens(&self, command: TokensCommand) -> Result<(), Failure> {
        match command {
            TokensCommand::List { paging } => {
                self.list(&output::TOKEN, &["tokens"], Vec::new(), paging)
                    .await
            }
            TokensCommand::Get { id } => self.show(Method::GET, &["tokens", &id]).await,
            TokensCommand::Create {
                name,
                permissions,
                tenants,
                expires_at,
                idempotency_key,
            } => {
                let mut body = json!({"name": name, "permissions": permissions});
                if !tenants.is_empty() {
                    body["tenants"] = json!(tenants);
                }
                if let Some(expires_at) = expires_at {
                    body["expires_at"] = json!(expires_at);
                }
                let write = WriteOptions {
                    dry_run: false,
                    idempotency_key,
                };
                self.write(Method::POST, &["tokens"], &write, Some(body))
                    .await
            }
            TokensCommand::Revoke { id } => {
                self.delete(&["tokens", &id], &format!("Revoked token {id}."))
                    .await
            }
        }
    }

    async fn events(&self, query: EventsQuery) -> Result<(), Failure> {
        let filters = [
            ("action", query.action),
            ("resource_type", query.resource_type),
            ("actor", query.actor),
            ("since", query.since),
            ("until", query.until),
        ];
        let filters = (filters.into_iter())
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
        let path: Vec<&str> = match (&query.client, &query.tenant) {
            (Some(client), _) => vec!["clients", client, "events"],
            (None, Some(tenant)) => vec!["tenants", tenant, "events"],
            (None, None) => vec!["events"],
        };
        self.list(&output::EVENT, &path, filters, query.paging)
            .await
    }

    async fn show(&self, method: Method, path: &[&str]) -> Result<(), Failure> {
        let answer = self
            .api
            .send(self.api.request(method, self.api.url(path)))
            .await?;
        self.print(&answer)
    }

    /// A POST: its body as JSON, with a dry run or an idempotency key when asked.
    async fn write(
        &self,
        method: Method,
        path: &[&str],
        options: &WriteOptions,
        body: Option<Value>,
    ) -> Result<(), Failure> {
        let mut url = self.api.url(path);
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
        let answer = self.api.send(request).await?;
        notes(&answer);
        self.print(&answer)
    }

    async fn delete(&self, path: &[&str], done: &str) -> Result<(), Failure> {
        let request = self.api.request(Method::DELETE, self.api.url(path));
        self.api.send(request).await?;
        self.printer.done(done);
        Ok(())
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
        loop {
            let mut url = self.api.url(path);
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
            if let Some(total) = answer
                .header("x-total-count")
                .filter(|_| cursor.is_none() || !paging.all)
            {
                eprintln!("clientd: {total} {}s match", kind.noun);
            }
            // A client's credentials come as one array; every other list in pages.
            let (items, next) = match &answer.body {
                Value::Array(items) => (items.as_slice(), None),
                page => (
                    page.get("items")
                        .and_then(Value::as_array)
                        .map_or(&[][..], Vec::as_slice),
                    page.get("next_cursor")
                        .and_then(Value::as_str)
                        .filter(|c| !c.is_empty()),
                ),
            };
            list.page(items).map_err(broken_pipe)?;
            match next {
                Some(next) if paging.all => cursor = Some(next.to_owned()),
                next => return list.finish(next).map_err(broken_pipe),
            }
        }
    }

    fn print(&self, answer: &Answer) -> Result<(), Failure> {
        self.printer.one(answer).map_err(broken_pipe)
    }
}

/// What a person should know about an answer beyond its body, on standard error.
fn notes(answer: &Answer) {
    if answer.header("dry-run") == Some("true") {
        eprintln!("clientd: dry run: nothing was stored");
    }
    if answer.header("idempotent-replayed") == Some("true") {
        eprintln!("clientd: replayed: the answer to the first request with this Idempotency-Key");
    }
}

/// An ETag as If-Match wants it: quoted, as `clients get --field etag` prints it.
fn quoted(etag: &str) -> String {
    if etag.starts_with('"') || etag.starts_with("W/") || etag == "*" {
        etag.to_owned()
    } else {
        format!("\"{etag}\"")
    }
}

/// Standard output closed early (`| head`) is not a failure worth a message.
fn broken_pipe(error: std::io::Error) -> Failure {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    Failure::Usage(format!("cannot write the answer: {error}"))
}

/// A file's bytes, or standard input's for '-', within what a server would accept.
fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    const LIMIT: u64 = 8 * 1024 * 1024;
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().take(LIMIT + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|file| file.take(LIMIT + 1).read_to_end(&mut bytes))
    };
    let name = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    match read {
        Err(error) => Err(Failure::Usage(format!("cannot read {name}: {error}"))),
        Ok(_) if bytes.len() as u64 > LIMIT => {
            Err(Failure::Usage(format!("{name} is larger than 8 MiB")))
        }
        Ok(_) => Ok(bytes),
    }
}

/// A secret kept in a file or piped in: its first line.
fn first_line(path: &Path) -> Result<SecretString, Failure> {
    let bytes = read_input(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::Usage(format!("{}: not UTF-8 text", path.display())))?;
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        let name = if path == Path::new("-") {
            "standard input"
        } else {
            "the file"
        };
        return Err(Failure::Usage(format!(
            "{name} holds no secret: its first line is empty"
        )));
    }
    Ok(SecretString::new(line.to_owned()))
}
