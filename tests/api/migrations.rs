//! Migrations: the same history on both backends, idempotent, and safe for racing replicas.

use std::collections::BTreeSet;

use clientd::config::Settings;

use crate::helpers::{Backend, TestApp, TestDatabase, repo_path};

fn migration_names(backend: &str) -> BTreeSet<String> {
    let dir = repo_path("migrations").join(backend);
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

    async fn a_database_of_the_last_release_serves_unchanged(database) {
        serves_the_last_release(database).await;
    }

    async fn a_database_of_release_0008_gets_the_autopilot(database) {
        release_0008(&database).await;
        let app = TestApp::spawn_with(database, crate::autopilot::quick).await;
        let client = app.admin().get("/clients/rotating").await;
        assert_eq!(client.status, 200, "{}", client.text);
        assert_eq!(
            client.json["secretPolicy"],
            serde_json::json!({"maxAgeSeconds": null, "autoCompleteAfterUnusedSeconds": null, "rotationMaxSeconds": null})
        );
        let tokens = app.admin().get("/tokens").await;
        assert_eq!(tokens.json["items"][0]["last_used"], serde_json::json!(null), "{}", tokens.text);
        // Its credential expiring tomorrow is warned of; its rotation, without a policy,
        // stays as it was.
        let warned = app
            .admin()
            .get_until("/clients/rotating/events?action=credential.expiring", |page| {
                page["items"].as_array().is_some_and(|items| items.len() == 1)
            })
            .await;
        assert_eq!(warned["items"][0]["resource_id"], "cred_rotating00000000000000");
        let secrets = app.admin().get("/clients/rotating/secrets").await;
        assert_eq!(secrets.json["next"]["last_four"], "next", "{}", secrets.text);
        let verified = app
            .admin()
            .post(
                "/clients/rotating/secrets/verify",
                serde_json::json!({"client_secret": LEGACY_SECRET}),
            )
            .await;
        assert_eq!(verified.json["secret"], "current", "{}", verified.text);
    }
}

/// The schema of the release before the autopilot (migrations 0001 to 0008), with a client
/// in the middle of a rotation, a credential that expires tomorrow and a token.
async fn release_0008(database: &TestDatabase) {
    use sha2::Digest;
    use sqlx::Connection;
    let backend = if database.url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let old = tempfile::tempdir().unwrap();
    for name in migration_names(backend)
        .into_iter()
        .filter(|name| name.as_str() < "0009")
    {
        std::fs::copy(
            repo_path("migrations").join(backend).join(&name),
            old.path().join(&name),
        )
        .unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
    let now = chrono::Utc::now();
    let settings = serde_json::json!({
        "name": "Rotating", "clientAuthMethod": "client_secret_basic",
        "grantTypes": ["client_credentials"], "accessTokenValiditySeconds": 3600,
        "refreshTokenValiditySeconds": 2592000, "idTokenExpiration": 36000,
        "refreshTokenReuseInterval": 0, "refreshTokenAbsoluteLifetime": 2592000,
        "refreshTokenInactivityLifetime": 1296000, "isRefreshTokenRotationEnabled": false,
        "isRefreshTokenAbsoluteExpirationEnabled": false,
        "isRefreshTokenInactivityLifetimeEnabled": false, "allowCrossOriginAuthentication": false,
        "enabled": true, "strongAuthSupported": false, "claimsSupported": false,
        "accessType": "ONLINE", "audiences": []
    });
    let secret_hash = sha2::Sha256::digest(LEGACY_SECRET.as_bytes()).to_vec();
    let next_hash = sha2::Sha256::digest(b"the next secret of the rotating client, 0008").to_vec();
    let token_id = uuid::Uuid::now_v7();
    macro_rules! write_rows {
        ($connection:expr) => {{
            let db = &mut $connection;
            migrator.run(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO tenants (id, name, created) VALUES ('acme', 'Acme', $1)")
                .bind(now).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO clients (id, tenant_id, app_type, settings, manually_created, created, modified, last_used)
                         VALUES ('rotating', 'acme', 'non_interactive', $1, false, $2, $2, NULL)")
                .bind(sqlx::types::Json(&settings)).bind(now).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created)
                         VALUES ('rotating', 'current', $1, 'stuv', $3), ('rotating', 'next', $2, 'next', $3)")
                .bind(&secret_hash).bind(&next_hash).bind(now).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO client_credentials (id, client_id, name, credential_type, kid, alg, subject_dn,
                            thumbprint_sha256, key_fingerprint, pem, certificate_expires_at, created_at, updated_at, expires_at)
                         VALUES ('cred_rotating00000000000000', 'rotating', 'mtls', 'cert_subject_dn', NULL, NULL,
                            'CN=rotating.example', NULL, 'dn:CN=rotating.example', NULL, NULL, $1, $1, $2)")
                .bind(now).bind(now + chrono::TimeDelta::hours(20)).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO api_tokens (id, name, token_hash, permissions, expires_at, created)
                         VALUES ($1, 'ci', $2, 'admin', NULL, $3)")
                .bind(token_id).bind(vec![7u8; 32]).bind(now).execute(&mut *db).await.unwrap();
        }};
    }
    if backend == "sqlite" {
        let options =
            <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&database.url)
                .unwrap()
                .create_if_missing(true);
        write_rows!(
            sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap()
        );
    } else {
        write_rows!(sqlx::PgConnection::connect(&database.url).await.unwrap());
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

/// Tenants, clients, secrets, credentials and tokens written by the previous release read,
/// verify and change as before; the audit trail starts with the first new change.
async fn serves_the_last_release(database: TestDatabase) {
    {
        last_release(&database).await;
        let app = TestApp::spawn_on(database).await;
        let tenant = app.admin().get("/tenants/legacy").await;
        assert_eq!(
            (tenant.status, tenant.json["name"].as_str()),
            (200, Some("Legacy"))
        );
        let client = app.admin().get("/clients/legacy-portal").await;
        assert_eq!(client.status, 200, "{}", client.text);
        assert_eq!(client.json["name"], "Legacy Portal");
        assert_eq!(
            client.json["redirectUris"],
            serde_json::json!(["https://legacy.example/cb"])
        );
        assert_eq!(client.json["callbackUrls"], client.json["redirectUris"]);
        assert_eq!(client.json["created"], "2026-11-20T10:00:00.000Z");
        assert_eq!(client.json["type"], "CONFIDENTIAL");
        // Fields added since read as their defaults.
        assert_eq!(client.json["audiences"], serde_json::json!([]));
        let verified = app
            .admin()
            .post(
                "/clients/legacy-portal/secrets/verify",
                serde_json::json!({"client_secret": LEGACY_SECRET}),
            )
            .await;
        assert_eq!(
            verified.json,
            serde_json::json!({"valid": true, "secret": "current"}),
            "{}",
            verified.text
        );
        let token = app
            .with_token(LEGACY_TOKEN)
            .get("/tenants/legacy/clients")
            .await;
        assert_eq!(token.status, 200, "{}", token.text);
        assert_eq!(token.json["items"][0]["id"], "legacy-portal");
        let credentials = app.admin().get("/clients/legacy-portal/credentials").await;
        assert_eq!(credentials.json[0]["subject_dn"], "CN=legacy.example");
        // The trail the last release wrote is served, newest first.
        let trail = app.admin().get("/events").await;
        let actions: Vec<_> = (trail.json["items"].as_array().unwrap().iter())
            .map(|event| (event["action"].as_str(), event["id"].as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                (Some("client.create"), Some(LEGACY_EVENTS[1].0)),
                (Some("tenant.create"), Some(LEGACY_EVENTS[0].0))
            ]
        );
        let patched = app
            .patch(
                "/clients/legacy-portal",
                "application/json-patch+json",
                None,
                serde_json::json!([{"op": "replace", "path": "/description", "value": "kept"}]),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        let events = app.admin().get("/events").await;
        assert_eq!(events.json["items"][0]["action"], "client.patch");
        // The old tenant gets signing keys on first use.
        let jwks = app
            .anonymous()
            .get("/tenants/legacy/oauth2/jwks.json")
            .await;
        assert_eq!(jwks.status, 200, "{}", jwks.text);
        assert_eq!(jwks.json["keys"].as_array().map(Vec::len), Some(2));
    }
}

pub(crate) const LEGACY_SECRET: &str = "legacy-secret-0123456789abcdefghijklmnopqrstuv";
/// The trail as the last release wrote it: id, action, resource type, path, client, time.
type LegacyEvent = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);
pub(crate) const LEGACY_EVENTS: [LegacyEvent; 2] = [
    (
        "0192e4a0-0000-7000-8000-0000000000e1",
        "tenant.create",
        "tenant",
        "/tenants/legacy",
        None,
        "2026-11-20T09:00:00Z",
    ),
    (
        "0192e4a0-0000-7000-8000-0000000000e2",
        "client.create",
        "client",
        "/clients/legacy-portal",
        Some("legacy-portal"),
        "2026-11-20T10:00:00Z",
    ),
];
/// Who kept the two Idempotency-Key records, for what request, and the answer kept.
pub(crate) const LEGACY_ACTOR: &str = "token:0192e4a0-0000-7000-8000-000000000001";
pub(crate) const LEGACY_REQUEST_HASH: &[u8] = b"legacy request hash";
pub(crate) const LEGACY_ANSWER: &[u8] = b"{\"id\":\"legacy-portal\"}";
pub(crate) const LEGACY_TOKEN: &str =
    "cdt_0192e4a0000070008000000000000001_legacytokentextlegacytokentextlegacytoken1";

/// The schema of the last release (migrations 0001 to 0006), and rows as it wrote them: a
/// tenant, a client with its secret and a credential, a token, the tenant's and client's
/// trail, and two Idempotency-Key records (one answered, one never finished), which are older
/// than the claim columns 0007 added. The store contract (`store_contract::migrations`)
/// reads them back too.
pub(crate) async fn last_release(database: &TestDatabase) {
    use sha2::Digest;
    use sqlx::Connection;
    let backend = if database.url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let old = tempfile::tempdir().unwrap();
    for name in migration_names(backend)
        .into_iter()
        .filter(|name| name.as_str() < "0007")
    {
        let from = repo_path("migrations").join(backend).join(&name);
        std::fs::copy(from, old.path().join(&name)).unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
    let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    let settings = serde_json::json!({
        "name": "Legacy Portal", "description": null, "businessName": null, "homepageUrl": null,
        "clientAuthMethod": "client_secret_basic", "grantTypes": ["authorization_code", "refresh_token"],
        "redirectUris": ["https://legacy.example/cb"], "allowedLogoutUrls": [], "allowedWebOrigins": [],
        "allowedCorsOrigins": [], "logoUrl": null, "initiateLoginUri": null, "mobile": null, "owners": ["ops"],
        "productName": null, "applicationName": null, "client_upn_key": null,
        "accessTokenValiditySeconds": 3600, "refreshTokenValiditySeconds": 2592000,
        "idTokenExpiration": 36000, "refreshTokenReuseInterval": 0,
        "refreshTokenAbsoluteLifetime": 2592000, "refreshTokenInactivityLifetime": 1296000,
        "isRefreshTokenRotationEnabled": false, "isRefreshTokenAbsoluteExpirationEnabled": false,
        "isRefreshTokenInactivityLifetimeEnabled": false, "allowCrossOriginAuthentication": false,
        "enabled": true, "strongAuthSupported": false, "claimsSupported": false,
        "accessType": "OFFLINE", "scope": [], "trustedMetadata": {}
    });
    let secret_hash = sha2::Sha256::digest(LEGACY_SECRET.as_bytes()).to_vec();
    let token_hash = sha2::Sha256::digest(LEGACY_TOKEN.as_bytes()).to_vec();
    let token_id = uuid::Uuid::parse_str("0192e4a0-0000-7000-8000-000000000001").unwrap();
    macro_rules! write_rows {
        ($connection:expr) => {{
            let db = &mut $connection;
            migrator.run(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO tenants (id, name, created) VALUES ('legacy', 'Legacy', $1)")
                .bind(at("2026-11-20T09:00:00Z")).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO clients (id, tenant_id, app_type, settings, manually_created, created, modified, last_used)
                         VALUES ('legacy-portal', 'legacy', 'regular_web', $1, false, $2, $2, NULL)")
                .bind(sqlx::types::Json(&settings)).bind(at("2026-11-20T10:00:00Z")).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created)
                         VALUES ('legacy-portal', 'current', $1, 'stuv', $2)")
                .bind(&secret_hash).bind(at("2026-11-20T10:00:00Z")).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO client_credentials (id, client_id, name, credential_type, kid, alg, subject_dn,
                            thumbprint_sha256, key_fingerprint, pem, certificate_expires_at, created_at, updated_at, expires_at)
                         VALUES ('cred_legacy0000000000000000', 'legacy-portal', 'mtls', 'cert_subject_dn', NULL, NULL,
                            'CN=legacy.example', NULL, 'dn:CN=legacy.example', NULL, NULL, $1, $1, NULL)")
                .bind(at("2026-11-21T10:00:00Z")).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO api_tokens (id, name, token_hash, permissions, expires_at, created)
                         VALUES ($1, 'legacy ci', $2, 'client.read', NULL, $3)")
                .bind(token_id).bind(&token_hash).bind(at("2026-11-20T09:30:00Z")).execute(&mut *db).await.unwrap();
            sqlx::query("INSERT INTO api_token_tenants (token_id, tenant_id) VALUES ($1, 'legacy')")
                .bind(token_id).execute(&mut *db).await.unwrap();
            for (id, action, resource_type, path, client, time) in LEGACY_EVENTS {
                sqlx::query("INSERT INTO events (id, time, tenant_id, client_id, actor_kind, actor_token_id,
                                actor_token_name, source_ip, request_id, action, resource_type, resource_id,
                                resource_path, patch, changed, document)
                             VALUES ($1, $2, 'legacy', $3, 'token', $4, 'legacy ci', '127.0.0.1', NULL, $5, $6,
                                $7, $8, NULL, NULL, NULL)")
                    .bind(uuid::Uuid::parse_str(id).unwrap()).bind(at(time)).bind(client).bind(token_id)
                    .bind(action).bind(resource_type).bind(client.unwrap_or("legacy")).bind(path)
                    .execute(&mut *db).await.unwrap();
            }
            sqlx::query("INSERT INTO idempotency_keys (actor, key, request_hash, created, status, headers, body)
                         VALUES ($1, 'answered', $2, $3, 201, NULL, $4), ($1, 'unfinished', $2, $3, NULL, NULL, NULL)")
                .bind(LEGACY_ACTOR).bind(LEGACY_REQUEST_HASH.to_vec()).bind(chrono::Utc::now() - chrono::TimeDelta::minutes(5))
                .bind(LEGACY_ANSWER.to_vec()).execute(&mut *db).await.unwrap();
        }};
    }
    if backend == "sqlite" {
        let options =
            <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&database.url)
                .unwrap()
                .create_if_missing(true);
        write_rows!(
            sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap()
        );
    } else {
        write_rows!(sqlx::PgConnection::connect(&database.url).await.unwrap());
    }
}
