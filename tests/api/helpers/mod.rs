//! Spawning clientd on a store, and a small HTTP client that speaks to it.
//!
//! Split by what each part stands for: the database a test gets, the server spawned on it,
//! what a test does behind that server's back, and the caller that speaks to it. Tests name
//! everything as `crate::helpers::X`, so the parts are re-exported here.

mod app;
mod behind;
mod client;
mod database;

pub use app::{TEST_KEK, TestApp};
pub use client::{Client, TestResponse};
pub use database::TestDatabase;

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
