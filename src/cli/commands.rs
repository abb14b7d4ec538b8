//! Each API command as the calls it makes: one function per resource.

use std::path::Path;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::args::{
    AddCredential, ClientsCommand, CreateClient, CredentialsCommand, EventsQuery, Output, Paging,
    PatchClient, PolicyDuration, SecretsCommand, SigningKeysCommand, TenantsCommand, TokensCommand,
    WriteOptions,
};
use super::{Failure, Session, given, input, output, patch, quietly_closed};
use crate::domain::secret::SecretString;
use crate::domain::time;

impl Session {
    pub(super) async fn tenants(&self, command: TenantsCommand) -> Result<(), Failure> {
        match command {
            TenantsCommand::List { paging } => {
                self.list(&output::TENANT, &["tenants"], Vec::new(), paging)
                    .await
            }
            TenantsCommand::Get { id } => self.show(&["tenants", &id]).await,
            TenantsCommand::Create {
                id,
                name,
                idempotency_key,
            } => {
                let body = json!({"id": id, "name": name});
                let write = WriteOptions::keyed(idempotency_key);
                let answer = self
                    .write(Method::POST, &["tenants"], &write, Some(body))
                    .await?;
                self.print_written(&answer)
            }
            TenantsCommand::Delete { id } => {
                self.delete(&["tenants", &id], &format!("Deleted tenant {id}."))
                    .await
            }
        }
    }

    pub(super) async fn clients(&self, command: ClientsCommand) -> Result<(), Failure> {
        match command {
            ClientsCommand::List {
                tenant,
                filter,
                sort,
                count,
                paging,
            } => {
                let count = count.then(|| "true".to_owned());
                let query = given([("filters", filter), ("sorters", sort), ("count", count)]);
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
            ClientsCommand::Get { id } => self.show(&["clients", &id]).await,
            ClientsCommand::Create(create) => self.create_client(*create).await,
            ClientsCommand::Patch(patch) => self.patch_client(*patch).await,
            ClientsCommand::Delete { id } => {
                self.delete(&["clients", &id], &format!("Deleted client {id}."))
                    .await
            }
        }
    }

    /// The Nexus create request: the file's, with the flags' fields over it.
    async fn create_client(&self, create: CreateClient) -> Result<(), Failure> {
        let mut body = match &create.file {
            Some(path) => match serde_json::from_str(&input::text(path)?) {
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
        let answer = self.write(Method::POST, &path, &create.write, body).await?;
        self.print_written(&answer)
    }

    async fn patch_client(&self, patch: PatchClient) -> Result<(), Failure> {
        let body = match &patch.file {
            Some(path) => input::bytes(path)?,
            None if patch.set.is_empty() && patch.add.is_empty() && patch.remove.is_empty() => {
                return Err(Failure::Usage(
                    "nothing to change: give --file PATH, or --set, --add or --remove".into(),
                ));
            }
            None => patch::from_shorthands(&patch.set, &patch.add, &patch.remove)?
                .to_string()
                .into_bytes(),
        };
        let mut url = self.api.url(&["clients", &patch.id])?;
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
        self.print_written(&answer)
    }

    pub(super) async fn credentials(&self, command: CredentialsCommand) -> Result<(), Failure> {
        match command {
            CredentialsCommand::List {
                client_id,
                expires_before,
                credential_type,
                paging,
            } => {
                let filtered = expires_before.is_some() || credential_type.is_some();
                match client_id {
                    // A client's own list is one answer, not pages.
                    Some(id) if !filtered && !paging.all && paging.limit.is_none() => {
                        let path = ["clients", id.as_str(), "credentials"];
                        self.list(&output::CREDENTIAL, &path, Vec::new(), paging)
                            .await
                    }
                    client_id => {
                        let query = given([
                            ("client_id", client_id),
                            ("expires_before", expires_before),
                            ("credential_type", credential_type),
                        ]);
                        self.list(&output::CREDENTIAL, &["credentials"], query, paging)
                            .await
                    }
                }
            }
            CredentialsCommand::Get {
                client_id,
                credential_id,
            } => {
                self.show(&["clients", &client_id, "credentials", &credential_id])
                    .await
            }
            CredentialsCommand::Add(add) => self.add_credential(*add).await,
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
                let path = [
                    "clients",
                    client_id.as_str(),
                    "credentials",
                    credential_id.as_str(),
                ];
                let body = Some(json!({"expires_at": expires_at}));
                let write = WriteOptions::keyed(None);
                let answer = self.write(Method::PATCH, &path, &write, body).await?;
                self.print_written(&answer)
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

    async fn add_credential(&self, add: AddCredential) -> Result<(), Failure> {
        let pem = match &add.pem {
            Some(path) => Some(input::text(path)?),
            None => None,
        };
        if pem
            .as_deref()
            .is_some_and(|pem| pem.contains("PRIVATE KEY"))
        {
            return Err(Failure::Usage(
                "that PEM holds a private key: send only the public key \
                 (openssl pkey -in key.pem -pubout) or the certificate"
                    .to_owned(),
            ));
        }
        let credential_type = add.credential_type.unwrap_or_else(|| {
            match (&pem, &add.subject_dn) {
                (Some(pem), _) if pem.contains("BEGIN CERTIFICATE") => "x509_cert",
                (None, Some(_)) => "cert_subject_dn",
                _ => "public_key",
            }
            .to_owned()
        });
        let mut body = json!({"credential_type": credential_type});
        let optional = [
            ("pem", pem),
            ("subject_dn", add.subject_dn),
            ("name", add.name),
            ("kid", add.kid),
            ("alg", add.alg),
            ("expires_at", add.expires_at),
        ];
        for (field, value) in given(optional) {
            body[field] = Value::String(value);
        }
        if add.expiry_from_cert {
            body["parse_expiry_from_cert"] = Value::Bool(true);
        }
        let path = ["clients", add.client_id.as_str(), "credentials"];
        let answer = self
            .write(Method::POST, &path, &add.write, Some(body))
            .await?;
        self.print_written(&answer)
    }

    pub(super) async fn secrets(&self, command: SecretsCommand) -> Result<(), Failure> {
        let (client_id, step, key) = match command {
            SecretsCommand::Status { client_id } => {
                return self.show(&["clients", &client_id, "secrets"]).await;
            }
            SecretsCommand::Verify {
                client_id,
                secret_file,
                secret,
            } => {
                let secret = match secret {
                    Some(secret) => secret,
                    None => input::secret(secret_file.as_deref().unwrap_or(Path::new("-")))?,
                };
                return self.verify(&client_id, &secret).await;
            }
            SecretsCommand::Policy {
                client_id,
                max_age,
                auto_complete_after,
                rotation_max,
            } => {
                let members = [
                    ("maxAgeSeconds", max_age),
                    ("autoCompleteAfterUnusedSeconds", auto_complete_after),
                    ("rotationMaxSeconds", rotation_max),
                ];
                return self.set_secret_policy(&client_id, members).await;
            }
            SecretsCommand::RotateStart {
                client_id,
                idempotency_key,
            } => (client_id, &["rotate", "start"][..], idempotency_key),
            SecretsCommand::Rotate { client_id } => (client_id, &["rotate"][..], None),
            SecretsCommand::RotateCancel { client_id } => {
                (client_id, &["rotate", "cancel"][..], None)
            }
        };
        let path = [&["clients", client_id.as_str(), "secrets"][..], step].concat();
        let write = WriteOptions::keyed(key);
        let answer = self.write(Method::POST, &path, &write, None).await?;
        self.print_written(&answer)
    }

    /// One JSON Patch that replaces each member given (the document always holds them).
    async fn set_secret_policy(
        &self,
        client_id: &str,
        members: [(&str, Option<PolicyDuration>); 3],
    ) -> Result<(), Failure> {
        let operations: Vec<Value> = (members.into_iter())
            .filter_map(|(member, duration)| Some((member, duration?)))
            .map(|(member, PolicyDuration(seconds))| {
                json!({"op": "replace", "path": format!("/secretPolicy/{member}"), "value": seconds})
            })
            .collect();
        if operations.is_empty() {
            return Err(Failure::Usage(
                "nothing to change: give --max-age, --auto-complete-after or --rotation-max".into(),
            ));
        }
        let url = self.api.url(&["clients", client_id])?;
        let request = (self.api.request(Method::PATCH, url))
            .header("content-type", "application/json-patch+json")
            .body(Value::Array(operations).to_string());
        let answer = self.api.send(request).await?;
        self.print_written(&answer)
    }

    /// Exit 0 only for an answer that says the secret is valid: a script branches on it.
    async fn verify(&self, client_id: &str, secret: &SecretString) -> Result<(), Failure> {
        let path = ["clients", client_id, "secrets", "verify"];
        let body = Some(json!({"client_secret": secret.expose()}));
        let answer = self
            .write(Method::POST, &path, &WriteOptions::keyed(None), body)
            .await?;
        if answer.body.get("valid") != Some(&Value::Bool(true)) {
            return Err(self.api.not_clientd("a 2xx answer without \"valid\": true"));
        }
        self.print_written(&answer)
    }

    pub(super) async fn tokens(&self, command: TokensCommand) -> Result<(), Failure> {
        match command {
            TokensCommand::List { paging } => {
                self.list(&output::TOKEN, &["tokens"], Vec::new(), paging)
                    .await
            }
            TokensCommand::Get { id } => self.show(&["tokens", &id]).await,
            TokensCommand::Create {
                token,
                idempotency_key,
            } => {
                let mut body = json!({"name": token.name, "permissions": token.permissions});
                if !token.tenants.is_empty() {
                    body["tenants"] = json!(token.tenants);
                }
                if let Some(expires_at) = token.expires_at {
                    body["expires_at"] = json!(time::rfc3339(expires_at));
                }
                let write = WriteOptions::keyed(idempotency_key);
                let answer = self
                    .write(Method::POST, &["tokens"], &write, Some(body))
                    .await?;
                self.print_written(&answer)
            }
            TokensCommand::Revoke { id } => {
                self.delete(&["tokens", &id], &format!("Revoked token {id}."))
                    .await
            }
        }
    }

    /// A tenant's signing keys, as they are or after a rotation: one answer, printed as a list.
    pub(super) async fn signing_keys(&self, command: SigningKeysCommand) -> Result<(), Failure> {
        let is_rotation = matches!(command, SigningKeysCommand::Rotate { .. });
        let request = match command {
            SigningKeysCommand::List { tenant } => {
                let url = self.api.url(&["tenants", &tenant, "signing-keys"])?;
                self.api.request(Method::GET, url)
            }
            SigningKeysCommand::Rotate { tenant, immediate } => {
                let mut url = self
                    .api
                    .url(&["tenants", &tenant, "signing-keys", "rotate"])?;
                if immediate {
                    url.query_pairs_mut().append_pair("immediate", "true");
                }
                self.api.request(Method::POST, url).json(&json!({}))
            }
        };
        let answer = self.api.send(request).await?;
        let Some(keys) = answer.body.get("keys").and_then(Value::as_array) else {
            return Err(self.api.not_clientd("signing keys without a \"keys\" list"));
        };
        let mut list = self.printer.list(&output::SIGNING_KEY);
        let printed = list.page(keys).and_then(|()| list.finish(None));
        // A rotation's answer is the only word on what it did: it must come out whole.
        if is_rotation {
            printed
        } else {
            quietly_closed(printed)
        }
    }

    pub(super) async fn events(&self, query: EventsQuery) -> Result<(), Failure> {
        let filters = given([
            ("action", query.action),
            ("resource_type", query.resource_type),
            ("actor", query.actor),
            ("since", query.since),
            ("until", query.until),
        ]);
        let path: Vec<&str> = match (&query.client, &query.tenant) {
            (Some(client), _) => vec!["clients", client, "events"],
            (None, Some(tenant)) => vec!["tenants", tenant, "events"],
            (None, None) => vec!["events"],
        };
        if query.follow {
            return self.follow_events(&path, filters, query.paging).await;
        }
        self.list(&output::EVENT, &path, filters, query.paging)
            .await
    }

    /// The feed: oldest first, each request held by the server (`wait`) until an event
    /// comes, resumed from the last page's cursor; until stopped or the output is closed.
    async fn follow_events(
        &self,
        path: &[&str],
        mut query: Vec<(&str, String)>,
        paging: Paging,
    ) -> Result<(), Failure> {
        query.extend([("order", "asc".to_owned()), ("wait", "25".to_owned())]);
        if let Some(limit) = paging.limit {
            query.push(("limit", limit.to_string()));
        }
        let mut list = self.printer.list(&output::EVENT);
        let mut cursor = paging.cursor;
        loop {
            let mut url = self.api.url(path)?;
            url.query_pairs_mut().extend_pairs(&query);
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let answer = self.api.send(self.api.request(Method::GET, url)).await?;
            let items =
                (answer.body.get("items").and_then(Value::as_array)).map_or(&[][..], Vec::as_slice);
            let printed = match self.printer.output {
                Output::Json if self.printer.fields.is_empty() => output::json_lines(items),
                _ => list.page(items),
            };
            if let Err(Failure::OutputClosed) = printed {
                return Ok(());
            }
            printed?;
            match answer.body.get("next_cursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Err(self.api.not_clientd("a feed page without next_cursor")),
            }
        }
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
