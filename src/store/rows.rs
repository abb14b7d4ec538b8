//! Rows as both adapters read them, and their conversion into domain types. The column types
//! differ (uuid/timestamptz on Postgres, blob/text on SQLite) but decode into the same Rust types.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{StoreError, StoredToken};
use crate::domain::audit::{Action, Event, EventActor};
use crate::domain::client::{AppType, Client, ClientId, ClientSettings};
use crate::domain::credential::{Alg, Credential, CredentialType};
use crate::domain::rotation::{Slot, StoredSecret};
use crate::domain::secret::SecretHash;
use crate::domain::tenant::{Tenant, TenantId, TenantName};
use crate::domain::token::{ApiToken, Grants, Permission};

#[derive(sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;

    fn try_from(row: TenantRow) -> Result<Self, StoreError> {
        Ok(Tenant {
            id: TenantId::parse(&row.id).map_err(StoreError::Corrupt)?,
            name: TenantName::parse(&row.name).map_err(StoreError::Corrupt)?,
            created: row.created,
        })
    }
}

/// A token row. `permissions` and `tenants` are space-separated lists: neither a permission
/// nor a tenant id can hold a space.
#[derive(sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub permissions: String,
    pub tenants: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for StoredToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        let permissions = (row.permissions.split_whitespace())
            .map(Permission::parse)
            .collect::<Result<_, _>>()
            .map_err(StoreError::Corrupt)?;
        let tenants = (row.tenants.split_whitespace())
            .map(TenantId::parse)
            .collect::<Result<_, _>>()
            .map_err(StoreError::Corrupt)?;
        let hash = SecretHash::from_bytes(&row.token_hash)
            .ok_or_else(|| StoreError::Corrupt(format!("token {} has a malformed hash", row.id)))?;
        Ok(StoredToken {
            token: ApiToken {
                id: row.id,
                name: row.name,
                grants: Grants::new(permissions, tenants),
                expires_at: row.expires_at,
                created: row.created,
                last_used: row.last_used,
            },
            hash,
        })
    }
}

pub fn permissions_text(token: &ApiToken) -> String {
    let names: Vec<_> = token
        .grants
        .permissions()
        .iter()
        .map(|p| p.as_str())
        .collect();
    names.join(" ")
}

#[derive(sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub tenant_id: String,
    pub app_type: String,
    pub settings: sqlx::types::Json<ClientSettings>,
    pub manually_created: bool,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            id: ClientId::parse(&row.id).map_err(StoreError::Corrupt)?,
            tenant: TenantId::parse(&row.tenant_id).map_err(StoreError::Corrupt)?,
            app_type: AppType::parse(&row.app_type).map_err(StoreError::Corrupt)?,
            settings: row.settings.0,
            manually_created: row.manually_created,
            created: row.created,
            modified: row.modified,
            last_used: row.last_used,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct CredentialRow {
    pub id: String,
    pub name: String,
    pub credential_type: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub subject_dn: Option<String>,
    pub thumbprint_sha256: Option<String>,
    pub key_fingerprint: String,
    pub pem: Option<String>,
    pub certificate_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub fn credentials(rows: Vec<CredentialRow>) -> Result<Vec<Credential>, StoreError> {
    (rows.into_iter())
        .map(|row| {
            Ok(Credential {
                credential_type: CredentialType::parse(&row.credential_type)
                    .map_err(StoreError::Corrupt)?,
                alg: row
                    .alg
                    .as_deref()
                    .map(Alg::parse)
                    .transpose()
                    .map_err(StoreError::Corrupt)?,
                id: row.id,
                name: row.name,
                kid: row.kid,
                subject_dn: row.subject_dn,
                thumbprint_sha256: row.thumbprint_sha256,
                key_fingerprint: row.key_fingerprint,
                pem: row.pem,
                certificate_expires_at: row.certificate_expires_at,
                created_at: row.created_at,
                updated_at: row.updated_at,
                expires_at: row.expires_at,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
pub struct SecretRow {
    pub slot: String,
    pub secret_hash: Vec<u8>,
    pub last_four: String,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

pub fn secrets(rows: Vec<SecretRow>) -> Result<Vec<StoredSecret>, StoreError> {
    (rows.into_iter())
        .map(|row| {
            Ok(StoredSecret {
                slot: Slot::parse(&row.slot).map_err(StoreError::Corrupt)?,
                hash: SecretHash::from_bytes(&row.secret_hash).ok_or_else(|| {
                    StoreError::Corrupt("a client secret has a malformed hash".to_owned())
                })?,
                last_four: row.last_four,
                created: row.created,
                last_used: row.last_used,
            })
        })
        .collect()
}

/// A client beside one of its secrets, or beside none: a row of `CLIENT_WITH_SECRETS`.
#[derive(sqlx::FromRow)]
pub struct ClientSecretRow {
    #[sqlx(flatten)]
    pub client: ClientRow,
    pub slot: Option<String>,
    pub secret_hash: Option<Vec<u8>>,
    pub last_four: Option<String>,
    pub secret_created: Option<DateTime<Utc>>,
    pub secret_last_used: Option<DateTime<Utc>>,
}

pub fn client_with_secrets(
    mut rows: Vec<ClientSecretRow>,
) -> Result<Option<(Client, Vec<StoredSecret>)>, StoreError> {
    let secret_rows = (rows.iter_mut())
        .filter_map(|row| {
            Some(SecretRow {
                slot: row.slot.take()?,
                secret_hash: row.secret_hash.take()?,
                last_four: row.last_four.take()?,
                created: row.secret_created?,
                last_used: row.secret_last_used,
            })
        })
        .collect();
    let Some(first) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some((
        Client::try_from(first.client)?,
        secrets(secret_rows)?,
    )))
}

/// An event row; `seq` is its place in the trail and the key of its page.
#[derive(sqlx::FromRow)]
pub struct EventRow {
    pub seq: i64,
    /// The writing transaction, as text (xid8 is unsigned); "0" on SQLite.
    pub feed_xid: String,
    pub id: Uuid,
    pub time: DateTime<Utc>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub actor_kind: String,
    pub actor_token_id: Option<Uuid>,
    pub actor_token_name: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub resource_id: String,
    pub resource_path: String,
    pub patch: Option<sqlx::types::Json<serde_json::Value>>,
    pub changed: Option<sqlx::types::Json<Vec<String>>>,
    pub document: Option<sqlx::types::Json<serde_json::Value>>,
}

impl EventRow {
    /// About what the event takes in a page: its JSON parts, and the rest as a round figure
    /// (its other fields are short single-line texts).
    pub fn size(&self) -> usize {
        use crate::domain::json::json_size;
        let json = |value: &Option<sqlx::types::Json<serde_json::Value>>| {
            value.as_ref().map_or(0, |value| json_size(&value.0))
        };
        json(&self.patch)
            + json(&self.document)
            + self.changed.as_ref().map_or(0, |c| json_size(&c.0))
            + 1024
    }
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let action = Action::parse(&row.action).map_err(StoreError::Corrupt)?;
        Ok(Event {
            id: row.id,
            time: row.time,
            tenant: (row.tenant_id.as_deref())
                .map(TenantId::parse)
                .transpose()
                .map_err(StoreError::Corrupt)?,
            actor: EventActor {
                kind: row.actor_kind,
                token_id: row.actor_token_id,
                token_name: row.actor_token_name,
            },
            source_ip: row.source_ip.and_then(|ip| ip.parse().ok()),
            request_id: row.request_id,
            action,
            resource_type: action.resource_type(),
            resource_id: row.resource_id,
            resource_path: row.resource_path,
            client: (row.client_id.as_deref())
                .map(ClientId::parse)
                .transpose()
                .map_err(StoreError::Corrupt)?,
            patch: row.patch.map(|json| json.0),
            changed: row.changed.map(|json| json.0),
            document: row.document.map(|json| json.0),
            claim: None,
        })
    }
}
