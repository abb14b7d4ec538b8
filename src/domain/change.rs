//! Who makes a change, and where it came from: what every write carries down to the store.

use std::net::IpAddr;

use uuid::Uuid;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An admin API token, by id and name.
    Token { id: Uuid, name: String },
    /// `CLIENTD_BOOTSTRAP_TOKEN`, which lives in configuration only; also the server itself,
    /// when it issues the first admin token of an installation.
    Bootstrap,
    /// The `clientd` command line, working on the database directly.
    Cli,
    /// clientd itself, on no one's request: a tenant's first signing keys, a scheduled
    /// rotation.
    Server,
    /// The rotation autopilot (DESIGN 16): a rotation it completed, a warning it gave.
    Autopilot,
}

/// What a write knows of the request behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeContext {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub source: Option<IpAddr>,
    /// The `Idempotency-Key` claim the request holds, if any: its change's event carries it,
    /// and writing that event marks the claim committed in the change's own transaction, so
    /// a retry finds the change even when the first answer was lost.
    pub idempotency: Option<Uuid>,
}

impl ChangeContext {
    /// A change made outside any request: by the command line, or by the server at start.
    pub fn without_request(actor: Actor) -> Self {
        Self {
            actor,
            request_id: None,
            source: None,
            idempotency: None,
        }
    }
}
