//! Spawning clientd on a store, and a small HTTP client that speaks to it.

use std::net::SocketAddr;

use clientd::config::Settings;
use clientd::domain::secret::SecretString;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines each test once per store: `sqlite::name` and `postgres::name`. A leading
/// `with |settings| ...;` changes the server's settings for every test of the block.
macro_rules! on_both_stores {
    (with $configure:expr; $($(#[$doc:meta])* async fn $name:ident($app:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$doc])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = crate::helpers::TestDatabase::create(crate::helpers::Backend::Sqlite).await.unwrap();
                    let $app = crate::helpers::TestApp::spawn_with(database, $configure).await;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$doc])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(database) = crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await else { return };
                    let $app = crate::helpers::TestApp::spawn_with(database, $configure).await;
                    $body
                }
            )*
        }
    };
    (databases; $(async fn $name:ident($database:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $database = crate::helpers::TestDatabase::create(crate::helpers::Backend::Sqlite).await.unwrap();
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some($database) = crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await else { return };
                    $body
                }
            )*
        }
    };
    ($($(#[$doc:meta])* async fn $name:ident($app:ident) $body:block)*) => {
        on_both_stores! { with |_: &mut clientd::config::Settings| {}; $($(#[$doc])* async fn $name($app) $body)* }
    };
}

/// A file or directory of the repository, wherever the tests run from.
pub fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A file of the repository (README, Dockerfile, openapi.yaml), as text.
pub fn repo_file(relative: &str) -> String {
    std::fs::read_to_string(repo_path(relative)).unwrap()
}

/// The path of a key or certificate of `tests/fixtures/keys`, for commands that read files.
pub fn fixture_path(name: &str) -> String {
    let path = repo_path("tests/fixtures/keys").join(name);
    path.into_os_string().into_string().unwrap()
}

/// A key or certificate of `tests/fixtures/keys`, as text.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap()
}

/// An HTTP client for tests. reqwest leaves the choice of rustls' cryptography to the
/// program; clientd's is ring.
pub fn http_client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A fresh, empty database for one test, removed when the test ends.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// For Postgres: the server's admin URL and the database's name, to drop it.
    postgres: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside a test's runtime, which cannot be blocked on: a thread of its own
        // drops the database (FORCE ends what the stopped server may still hold open).
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        });
        let _ = dropped.join();
    }
}

impl TestDatabase {
    /// Postgres only: makes `value` the database's default for `setting` in every session
    /// opened from now on, as an operator's ALTER DATABASE would, and checks that it took.
    pub async fn set_default(&self, setting: &str, value: &str) {
        use sqlx::Connection;
        let (_, name) = self.postgres.as_ref().expect("a Postgres database");
        let mut db = sqlx::PgConnection::connect(&self.url).await.unwrap();
        let alter = format!("ALTER DATABASE \"{name}\" SET {setting} = '{value}'");
        sqlx::raw_sql(sqlx::AssertSqlSafe(alter))
            .execute(&mut db)
            .await
            .unwrap();
        let mut fresh = sqlx::PgConnection::connect(&self.url).await.unwrap();
        let show = sqlx::AssertSqlSafe(format!("SHOW {setting}"));
        let set: String = sqlx::query_scalar(show)
            .fetch_one(&mut fresh)
            .await
            .unwrap();
        assert_eq!(set, value, "{setting}");
    }

    /// The database of another test's, shared: a second replica's view, not dropped by it.
    pub fn shared(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            _dir: None,
            postgres: None,
        }
    }

    /// An in-memory SQLite database, private to the server that opens it.
    pub fn in_memory() -> Self {
        Self {
            url: "sqlite::memory:".to_owned(),
            _dir: None,
            postgres: None,
        }
    }

    /// None only for Postgres outside CI when no server is given; under CI=true a missing
    /// Postgres fails the test instead of skipping it.
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("clientd.db").display());
                Some(Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var("CLIENTD_TEST_DATABASE_URL") else {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "CI=true but CLIENTD_TEST_DATABASE_URL is unset: run the suite with scripts/test"
                    );
                    // Straight to stderr: libtest keeps a passing test's eprintln! to itself,
                    // and a skip nobody sees reads as a pass.
                    let test = std::thread::current().name().unwrap_or("a test").to_owned();
                    let _ = std::io::Write::write_all(
                        &mut std::io::stderr(),
                        format!("skipped {test}: CLIENTD_TEST_DATABASE_URL is unset (scripts/test sets it)\n").as_bytes(),
                    );
                    return None;
                };
                let name = format!("clientd_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .expect("the test Postgres server is reachable");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let (base, _) = admin_url.rsplit_once('/').unwrap();
                Some(Self {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    postgres: Some((admin_url.clone(), name)),
                })
            }
        }
    }
}

/// A clientd serving on 127.0.0.1 on a free port, stopped when dropped (before its database
/// is: fields drop in order).
pub struct TestApp {
    _shutdown: oneshot::Sender<()>,
    pub address: SocketAddr,
    pub admin_token: String,
    http: reqwest::Client,
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

    /// Moves every event of the trail `days` into the past, straight in the database.
    pub async fn age_events(&self, days: i64) {
        let at = clientd::domain::time::now() - chrono::TimeDelta::days(days);
        self.execute("UPDATE events SET time = $1", at).await;
    }

    /// Runs one statement with one parameter straight in the database, behind the server.
    pub async fn execute<T>(&self, sql: &'static str, parameter: T)
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        T: Send + 'static,
    {
        use sqlx::Connection;
        if self.database.url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&self.database.url)
                .await
                .unwrap();
            sqlx::query(sql)
                .bind(parameter)
                .execute(&mut db)
                .await
                .unwrap();
        } else {
            let mut db = sqlx::PgConnection::connect(&self.database.url)
                .await
                .unwrap();
            sqlx::query(sql)
                .bind(parameter)
                .execute(&mut db)
                .await
                .unwrap();
        }
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

    /// Runs `sqlite` or `postgres` (SQL text, for whichever store this is) straight in the
    /// database, unheard by the server: on Postgres with triggers off, so no change notice
    /// goes out and what the server holds in memory goes stale, as it does on SQLite.
    pub async fn execute_unheard(&self, sqlite: &'static str, postgres: &'static str) {
        use sqlx::Connection;
        if self.database.url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&self.database.url)
                .await
                .unwrap();
            sqlx::raw_sql(sqlite).execute(&mut db).await.unwrap();
        } else {
            let mut db = sqlx::PgConnection::connect(&self.database.url)
                .await
                .unwrap();
            sqlx::raw_sql("SET session_replication_role = replica")
                .execute(&mut db)
                .await
                .unwrap();
            sqlx::raw_sql(postgres).execute(&mut db).await.unwrap();
        }
    }

    /// A client's stored settings as the database hands them back (Postgres's `jsonb` as
    /// text), read straight from it, behind the server and its memory.
    pub async fn stored_settings(&self, client_id: &str) -> Value {
        use sqlx::Connection;
        let text: String = if self.database.url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&self.database.url)
                .await
                .unwrap();
            sqlx::query_scalar("SELECT settings FROM clients WHERE id = $1")
                .bind(client_id)
                .fetch_one(&mut db)
                .await
                .unwrap()
        } else {
            let mut db = sqlx::PgConnection::connect(&self.database.url)
                .await
                .unwrap();
            sqlx::query_scalar("SELECT settings::text FROM clients WHERE id = $1")
                .bind(client_id)
                .fetch_one(&mut db)
                .await
                .unwrap()
        };
        serde_json::from_str(&text).unwrap()
    }

    /// Rows of `table` (one of the schema's), read straight from the database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"));
        if self.database.url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&self.database.url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
        } else {
            let mut db = sqlx::PgConnection::connect(&self.database.url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
        }
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

/// Requests as one caller.
pub struct Client<'a> {
    app: &'a TestApp,
    authorization: Option<String>,
}

impl Client<'_> {
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, None).await
    }

    /// GETs `path` until its answer satisfies `done`, for what is written in the background
    /// (a secret's last use): at most five seconds.
    pub async fn get_until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let answer = self.get(path).await;
            if done(&answer.json) {
                return answer.json;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path} never got there: {}",
                answer.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> TestResponse {
        let mut request = self.app.http.request(method, self.app.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.send_raw(request).await
    }

    /// Sends a request built by the test, adding this caller's credentials.
    pub async fn send_raw(&self, mut request: reqwest::RequestBuilder) -> TestResponse {
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        TestResponse::read(request.send().await.unwrap()).await
    }

    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.http.request(method, self.app.url(path))
    }

    pub async fn patch(&self, path: &str, body: Value) -> TestResponse {
        let request = self
            .raw(reqwest::Method::PATCH, path)
            .header("content-type", "application/json-patch+json")
            .body(body.to_string());
        self.send_raw(request).await
    }
}

pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub json: Value,
}

impl TestResponse {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and problem type, and returns it.
    pub fn assert_problem(&self, status: u16, kind: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        let problem = &self.json;
        assert_eq!(
            problem["type"],
            format!("urn:clientd:problem:{kind}"),
            "{}",
            self.text
        );
        assert_eq!(problem["status"], status);
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(
            problem["instance"]
                .as_str()
                .is_some_and(|i| i.starts_with('/'))
        );
        problem
    }

    /// Asserts a 422 whose errors point at exactly these fields.
    pub fn assert_invalid(&self, pointers: &[&str]) {
        let problem = self.assert_problem(422, "validation");
        let found: Vec<_> = (problem["errors"].as_array().unwrap().iter())
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        assert_eq!(found, pointers, "{}", self.text);
    }

    /// Asserts a 422 whose errors point at these fields, in any order.
    pub fn assert_invalid_fields(&self, pointers: &[&str]) {
        let problem = self.assert_problem(422, "validation");
        let mut found: Vec<_> = (problem["errors"].as_array().unwrap().iter())
            .map(|e| e["pointer"].as_str().unwrap().to_owned())
            .collect();
        found.sort();
        let mut expected: Vec<_> = pointers.iter().map(|p| p.to_string()).collect();
        expected.sort();
        assert_eq!(found, expected, "{}", self.text);
    }
}
