//! A clientd spawned on a test database, and the shortcuts tests take through its API.

use std::net::SocketAddr;

use clientd::config::Settings;
use clientd::domain::secret::SecretString;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{Backend, Client, TestDatabase, TestResponse, http_client};

/// The key-encryption key of servers on Postgres, the same for every replica of a test.
pub const TEST_KEK: &str = "test key-encryption key of at least 32 characters";

/// A clientd serving on 127.0.0.1 on a free port, stopped when dropped (before its database
/// is: fields drop in order).
pub struct TestApp {
    _shutdown: oneshot::Sender<()>,
    pub address: SocketAddr,
    pub admin_token: String,
    pub(super) http: reqwest::Client,
    pub database: TestDatabase,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_on(TestDatabase::create(backend).await.unwrap()).await
    }

    pub async fn spawn_on(database: TestDatabase) -> Self {
        Self::spawn_with(database, |_| {}).await
    }

    /// Spawns with settings changed by `configure` (a smaller body limit, say).
    pub async fn spawn_with(database: TestDatabase, configure: impl FnOnce(&mut Settings)) -> Self {
        let admin_token = format!("test-bootstrap-{}", uuid::Uuid::new_v4().simple());
        let mut settings = Settings::for_database(&database.url);
        settings.bootstrap_token = Some(SecretString::new(admin_token.clone()));
        settings.db_wait_secs = 5;
        // Postgres has no key file to fall back on: its token routes need this set.
        if database.url.starts_with("postgres") {
            settings.key_encryption_keys = vec![SecretString::new(TEST_KEK.to_owned())];
        }
        configure(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(clientd::serve(settings, listener, async {
            let _ = stopped.await;
        }));
        let app = Self {
            address,
            database,
            admin_token,
            http: http_client().build().unwrap(),
            _shutdown: shutdown,
        };
        // The listener is bound already, so requests simply wait for migrations to finish;
        // this loop only turns a failed start into a clear panic instead of a hang.
        loop {
            if server.is_finished() {
                panic!("clientd failed to start: {:?}", server.await);
            }
            if app.anonymous().get("/healthz").await.status == 200 {
                break app;
            }
        }
    }

    /// Stops the server and hands back its database, still there.
    pub fn stop(self) -> TestDatabase {
        self.database
    }

    /// A second server on this one's database, with the same admin token: another replica.
    pub async fn replica(&self) -> Self {
        let token = self.admin_token.clone();
        let shared = token.clone();
        let mut replica = Self::spawn_with(TestDatabase::shared(&self.database.url), move |s| {
            s.bootstrap_token = Some(SecretString::new(shared));
        })
        .await;
        replica.admin_token = token;
        replica
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub fn admin(&self) -> Client<'_> {
        self.with_token(&self.admin_token)
    }

    pub fn with_token(&self, token: &str) -> Client<'_> {
        Client {
            app: self,
            authorization: Some(format!("Bearer {token}")),
        }
    }

    pub fn with_authorization(&self, authorization: &str) -> Client<'_> {
        Client {
            app: self,
            authorization: Some(authorization.to_owned()),
        }
    }

    pub fn anonymous(&self) -> Client<'_> {
        Client {
            app: self,
            authorization: None,
        }
    }

    pub async fn create_tenant(&self, id: &str) {
        let response = (self.admin())
            .post(
                "/tenants",
                json!({"id": id, "name": format!("Tenant {id}")}),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text);
    }

    /// Creates a token and returns its text.
    pub async fn create_token(&self, permissions: &[&str], tenants: &[&str]) -> String {
        let response = (self.admin())
            .post(
                "/tokens",
                json!({"name": "test", "permissions": permissions, "tenants": tenants}),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text);
        response.json["token"].as_str().unwrap().to_owned()
    }

    /// Creates a client in `tenant` from a create request and returns the 201 document.
    pub async fn create_client(&self, tenant: &str, request: Value) -> Value {
        let response = self
            .admin()
            .post(&format!("/tenants/{tenant}/clients"), request)
            .await;
        assert_eq!(response.status, 201, "{}", response.text);
        response.json
    }

    /// Waits until the server trusts what it holds in memory (on Postgres, once it hears the
    /// feed of changes), as its metrics say.
    pub async fn until_memory_is_trusted(&self) {
        for _ in 0..500 {
            let metrics = self.anonymous().get("/metrics").await.text;
            if metrics
                .lines()
                .any(|line| line == "clientd_cache_trusted 1")
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the server never trusted its memory");
    }

    /// Sends a JSON Patch with this content type and optional If-Match, as the admin.
    pub async fn patch(
        &self,
        path: &str,
        content_type: &str,
        if_match: Option<&str>,
        body: Value,
    ) -> TestResponse {
        let mut request = self
            .admin()
            .raw(reqwest::Method::PATCH, path)
            .header("content-type", content_type)
            .body(body.to_string());
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        self.admin().send_raw(request).await
    }
}
