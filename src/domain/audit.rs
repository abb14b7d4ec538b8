//! The audit trail: one event per change, written in the change's own transaction. Events
//! say who changed what, when and from where, and for a patch the exact JSON Patch, the
//! fields it changed and the resulting document. They never hold a secret, a token text or
//! a PEM body: documents are the API's own views, which hold none.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::change::{Actor, ChangeContext};
use super::client::ClientId;
use super::tenant::TenantId;
use super::time::{self, Timestamp, rfc3339_millis};
use super::token::ApiToken;

/// The largest JSON Patch an event keeps whole: the size of the largest client document.
pub const MAX_KEPT_PATCH: usize = super::client::MAX_DOCUMENT_BYTES;

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "tenant.create")]
    TenantCreate,
    #[serde(rename = "tenant.delete")]
    TenantDelete,
    #[serde(rename = "token.create")]
    TokenCreate,
    #[serde(rename = "token.revoke")]
    TokenRevoke,
    #[serde(rename = "client.create")]
    ClientCreate,
    #[serde(rename = "client.patch")]
    ClientPatch,
    #[serde(rename = "client.delete")]
    ClientDelete,
    #[serde(rename = "credential.create")]
    CredentialCreate,
    #[serde(rename = "credential.patch")]
    CredentialPatch,
    #[serde(rename = "credential.delete")]
    CredentialDelete,
    #[serde(rename = "secret.rotate.start")]
    SecretRotateStart,
    #[serde(rename = "secret.rotate.complete")]
    SecretRotateComplete,
    #[serde(rename = "secret.rotate.cancel")]
    SecretRotateCancel,
    #[serde(rename = "signing_key.create")]
    SigningKeyCreate,
    #[serde(rename = "signing_key.rotate")]
    SigningKeyRotate,
    #[serde(rename = "secret.stale")]
    SecretStale,
    #[serde(rename = "secret.rotate.overdue")]
    SecretRotateOverdue,
    #[serde(rename = "credential.expiring")]
    CredentialExpiring,
    #[serde(rename = "credential.expired")]
    CredentialExpired,
}

impl Action {
    pub const ALL: [Action; 19] = [
        Self::TenantCreate,
        Self::TenantDelete,
        Self::TokenCreate,
        Self::TokenRevoke,
        Self::ClientCreate,
        Self::ClientPatch,
        Self::ClientDelete,
        Self::CredentialCreate,
        Self::CredentialPatch,
        Self::CredentialDelete,
        Self::SecretRotateStart,
        Self::SecretRotateComplete,
        Self::SecretRotateCancel,
        Self::SigningKeyCreate,
        Self::SigningKeyRotate,
        Self::SecretStale,
        Self::SecretRotateOverdue,
        Self::CredentialExpiring,
        Self::CredentialExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TenantCreate => "tenant.create",
            Self::TenantDelete => "tenant.delete",
            Self::TokenCreate => "token.create",
            Self::TokenRevoke => "token.revoke",
            Self::ClientCreate => "client.create",
            Self::ClientPatch => "client.patch",
            Self::ClientDelete => "client.delete",
            Self::CredentialCreate => "credential.create",
            Self::CredentialPatch => "credential.patch",
            Self::CredentialDelete => "credential.delete",
            Self::SecretRotateStart => "secret.rotate.start",
            Self::SecretRotateComplete => "secret.rotate.complete",
            Self::SecretRotateCancel => "secret.rotate.cancel",
            Self::SigningKeyCreate => "signing_key.create",
            Self::SigningKeyRotate => "signing_key.rotate",
            Self::SecretStale => "secret.stale",
            Self::SecretRotateOverdue => "secret.rotate.overdue",
            Self::CredentialExpiring => "credential.expiring",
            Self::CredentialExpired => "credential.expired",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        (Self::ALL.into_iter())
            .find(|action| action.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|a| a.as_str()).collect();
                format!("unknown action {text:?}; use one of {}", known.join(", "))
            })
    }

    /// The part before the first dot.
    pub fn resource_type(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or("")
    }
}

pub const RESOURCE_TYPES: [&str; 6] = [
    "tenant",
    "token",
    "client",
    "credential",
    "secret",
    "signing_key",
];

/// Who made a change, as an event shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventActor {
    pub kind: String,
    pub token_id: Option<Uuid>,
    pub token_name: Option<String>,
}

impl From<&Actor> for EventActor {
    fn from(actor: &Actor) -> Self {
        match actor {
            Actor::Token { id, name } => Self {
                kind: "token".to_owned(),
                token_id: Some(*id),
                token_name: Some(name.clone()),
            },
            Actor::Bootstrap => Self::without_token("bootstrap"),
            Actor::Cli => Self::without_token("cli"),
            Actor::Server => Self::without_token("server"),
            Actor::Autopilot => Self::without_token("autopilot"),
        }
    }
}

impl EventActor {
    fn without_token(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            token_id: None,
            token_name: None,
        }
    }
}

/// One change, as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: Uuid,
    #[serde(with = "rfc3339_millis")]
    pub time: Timestamp,
    pub tenant: Option<TenantId>,
    pub actor: EventActor,
    pub source_ip: Option<IpAddr>,
    pub request_id: Option<String>,
    pub action: Action,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub resource_path: String,
    /// The client an event concerns (its own, its credentials' and its secrets'), so its
    /// history can be read, even after it is gone.
    #[serde(skip)]
    pub client: Option<ClientId>,
    pub patch: Option<Value>,
    pub changed: Option<Vec<String>>,
    pub document: Option<Value>,
    /// The `Idempotency-Key` claim of the request that made the change: writing the event
    /// marks the claim committed, in the change's own transaction (migration 0007).
    #[serde(skip)]
    pub claim: Option<Uuid>,
}

impl Event {
    /// An event of `change`, made now: under the change's lock, so events of one resource
    /// are in the order of its changes.
    pub fn new(
        change: &ChangeContext,
        action: Action,
        tenant: Option<&TenantId>,
        resource_id: impl Into<String>,
        resource_path: impl Into<String>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            claim: change.idempotency,
            time: time::now(),
            tenant: tenant.cloned(),
            actor: EventActor::from(&change.actor),
            source_ip: change.source,
            request_id: change.request_id.clone(),
            action,
            resource_type: action.resource_type(),
            resource_id: resource_id.into(),
            resource_path: resource_path.into(),
            client: None,
            patch: None,
            changed: None,
            document: None,
        }
    }

    /// A token's event: its document holds its grants, never its text or hash.
    pub fn of_token(change: &ChangeContext, action: Action, token: &ApiToken) -> Self {
        let path = format!("/tokens/{}", token.id);
        Self::new(change, action, None, token.id.to_string(), path).with_document(token)
    }

    pub fn of_client(mut self, client: &ClientId) -> Self {
        self.client = Some(client.clone());
        self
    }

    /// The document, as the API shows it (which never holds a secret).
    pub fn with_document(self, document: &impl Serialize) -> Self {
        self.with_document_value(serde_json::to_value(document).ok())
    }

    /// The document, already made a JSON value.
    pub fn with_document_value(mut self, document: Option<Value>) -> Self {
        self.document = document;
        self
    }

    /// The patch as applied, unless it is larger than any document it could produce: then
    /// only its size is kept, so that no event (nor page of events) grows with what a caller
    /// sends rather than with what changed.
    pub fn with_patch(mut self, patch: Value, changed: Vec<String>) -> Self {
        let bytes = super::json::json_size(&patch);
        self.patch = Some(if bytes <= MAX_KEPT_PATCH {
            patch
        } else {
            serde_json::json!({"omitted": format!("the patch was {bytes} bytes, more than the {MAX_KEPT_PATCH} an event keeps")})
        });
        self.changed = Some(changed);
        self
    }

    /// The event as one structured log line, target `clientd::audit`, once it is committed.
    pub fn log(&self) {
        let document = serde_json::to_string(self).unwrap_or_default();
        tracing::info!(
            target: "clientd::audit",
            event_id = %self.id,
            action = self.action.as_str(),
            resource_path = %self.resource_path,
            actor = %self.actor.kind,
            event = %document,
            "audit event"
        );
    }
}

/// Where an oldest-first page starts: after this event, by the transaction that wrote it
/// and its seq (the feed's order, in which a late commit is never skipped; on SQLite, whose
/// writes are serialized, xid is 0 and seq alone is the order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedPosition {
    pub xid: u64,
    pub seq: i64,
}

impl FeedPosition {
    /// `<xid>.<seq>`, as a cursor carries it.
    pub fn parse(text: &str) -> Option<Self> {
        let (xid, seq) = text.split_once('.')?;
        Some(Self {
            xid: xid.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    pub fn cursor(&self) -> String {
        format!("{}.{}", self.xid, self.seq)
    }
}

/// The order of a page of the trail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Newest first, by seq, from before `EventFilters::before`.
    #[default]
    NewestFirst,
    /// Oldest first, in the feed's order, from after `after`: only events whose commit is
    /// final (none can still appear before them), so a follower misses nothing.
    OldestFirst { after: FeedPosition },
}

/// What a page of the trail is filtered by, and where it starts (before `before`, a seq).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventFilters {
    pub order: Order,
    pub before: Option<i64>,
    pub action: Option<Action>,
    pub resource_type: Option<&'static str>,
    pub actor: Option<Uuid>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: super::page::Limit,
}

/// The top-level fields whose values differ between two documents, in `after`'s order.
pub fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return Vec::new();
    };
    let mut changed: Vec<String> = (after.iter())
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect();
    changed.extend(
        (before.keys())
            .filter(|key| !after.contains_key(*key))
            .cloned(),
    );
    changed.retain(|field| field != "modified" && field != "callbackUrls");
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_name_their_resource_type() {
        assert_eq!(Action::SecretRotateStart.resource_type(), "secret");
        assert_eq!(
            Action::parse("credential.patch"),
            Ok(Action::CredentialPatch)
        );
        assert!(Action::parse("client.rename").is_err());
        for action in Action::ALL {
            assert!(RESOURCE_TYPES.contains(&action.resource_type()));
        }
    }

    #[test]
    fn changed_fields_are_the_top_level_ones_that_differ() {
        let before = json!({"name": "a", "scope": ["x"], "modified": "1", "gone": 1});
        let after = json!({"name": "b", "scope": ["x"], "modified": "2", "new": true});
        assert_eq!(changed_fields(&before, &after), ["name", "new", "gone"]);
    }
}
