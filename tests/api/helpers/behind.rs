//! What a test reads and writes straight in the database, behind the server and its memory.

use serde_json::Value;

use super::TestApp;

impl TestApp {
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
}
