//! A fresh database per test, on either store, dropped with the test.

use super::Backend;

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
                        !in_ci(),
                        "CI is set but CLIENTD_TEST_DATABASE_URL is not: run the suite with scripts/test"
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

/// Whether this run is CI's, where a Postgres test that cannot run must fail, not skip: CI
/// set to anything but empty, `0` or `false` (runners say `true`, some say `1`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !matches!(value.trim(), "" | "0" | "false"))
}
