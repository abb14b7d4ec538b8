//! Migrations: the same history on both backends, idempotent, and safe for racing replicas.

use std::collections::BTreeSet;

use clientd::config::Settings;

use crate::helpers::{Backend, TestDatabase};

fn migration_names(backend: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    (std::fs::read_dir(&dir).unwrap())
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations() {
    let postgres = migration_names("postgres");
    assert!(!postgres.is_empty());
    assert_eq!(postgres, migration_names("sqlite"));
}

on_both_stores! {
    databases;

    async fn migrates_an_empty_database_and_then_changes_nothing(database) {
        migrate_twice(&database).await;
    }
}

async fn migrate_twice(database: &TestDatabase) {
    let settings = Settings::for_database(&database.url);
    let store = clientd::connect(&settings).await.unwrap();
    store.ping().await.unwrap();
    store.close().await;
    let again = clientd::connect(&settings).await.unwrap();
    assert!(
        again
            .tenant(&clientd::domain::tenant::TenantId::parse("x").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// Several replicas starting at once against one Postgres: the migrator's advisory lock
/// lets each migration run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replicas_starting_at_once_migrate_once() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let settings = Settings::for_database(&database.url);
            tokio::spawn(async move { clientd::connect(&settings).await.map(|_| ()) })
        })
        .collect();
    for start in starts {
        start.await.unwrap().unwrap();
    }
}
