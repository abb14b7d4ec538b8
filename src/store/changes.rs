//! What other processes change, as the database tells it: on Postgres, the events table
//! followed (postgres/feed.rs), and the notices sent after commit that wake its followers
//! and carry the changes no event records (a secret's recorded use). SQLite has no other
//! writer.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;
use crate::domain::client::ClientId;
use crate::domain::tenant::TenantId;

/// The channel writers notify after they commit.
pub const CHANNEL: &str = "clientd_changes";
/// The longest payload a notice carries; more changes than fit are announced as `Unknown`.
pub const MAX_PAYLOAD: usize = 7_000;

/// What a committed change touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The client, or its secrets.
    Client(ClientId),
    /// The token, or the tenants it reaches.
    Token(Uuid),
    /// The tenant's signing keys (migration 0008's trigger).
    SigningKeys(TenantId),
    /// Every token: a tenant went, and with it every token's reach into it.
    EveryToken,
    /// A notice this release cannot read (one from a newer release, say): anything may have
    /// changed.
    Unknown,
    /// Nothing changed since the feed last said: it is alive, and read to now.
    Quiet,
}

impl Change {
    /// The changes of a notice: space-separated, none for a bare wake-up.
    pub fn parse_all(payload: &str) -> Vec<Self> {
        payload.split_whitespace().map(Self::parse).collect()
    }

    /// What a notice says of the change; `parse` reads it back.
    pub fn payload(&self) -> String {
        match self {
            Self::Client(id) => format!("client:{id}"),
            Self::Token(id) => format!("token:{id}"),
            Self::SigningKeys(tenant) => format!("keys:{tenant}"),
            Self::EveryToken => "tokens:all".to_owned(),
            Self::Unknown => "unknown:".to_owned(),
            Self::Quiet => String::new(),
        }
    }

    /// A notice's payload for `changes`, or `Unknown` for more than one notice holds.
    pub fn payload_of(changes: &[Change]) -> String {
        let all: Vec<String> = changes.iter().map(Change::payload).collect();
        let payload = all.join(" ");
        if payload.len() > MAX_PAYLOAD {
            Change::Unknown.payload()
        } else {
            payload
        }
    }

    pub fn parse(payload: &str) -> Self {
        match payload.split_once(':') {
            Some(("client", id)) => ClientId::parse(id).map_or(Self::Unknown, Self::Client),
            Some(("token", id)) => Uuid::try_parse(id).map_or(Self::Unknown, Self::Token),
            Some(("keys", id)) => TenantId::parse(id).map_or(Self::Unknown, Self::SigningKeys),
            Some(("tokens", "all")) => Self::EveryToken,
            _ => Self::Unknown,
        }
    }
}

/// A connection that hears every committed change.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The next change (`Quiet` when a look found none), or None once the connection is
    /// lost: changes made since may never be heard, so the follower must start again from a
    /// new feed.
    async fn next(&mut self) -> StoreResult<Option<Change>>;
    /// A round trip on the listening connection itself: a connection that died without a
    /// word (a partition, a NAT's idle timeout) never ends `next`, but fails this.
    async fn check(&mut self) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_triggers_payloads() {
        let client = ClientId::parse("abc").unwrap();
        assert_eq!(Change::parse("client:abc"), Change::Client(client));
        let token = Uuid::now_v7();
        assert_eq!(
            Change::parse(&format!("token:{token}")),
            Change::Token(token)
        );
        assert_eq!(Change::parse("token:nope"), Change::Unknown);
        assert_eq!(Change::parse("tenant:x"), Change::Unknown);
        assert_eq!(Change::parse(""), Change::Unknown);
    }

    #[test]
    fn notices_carry_changes_and_read_them_back() {
        let changes = vec![
            Change::Client(ClientId::parse("abc").unwrap()),
            Change::Token(Uuid::now_v7()),
            Change::SigningKeys(TenantId::parse("acme").unwrap()),
            Change::EveryToken,
        ];
        assert_eq!(Change::parse_all(&Change::payload_of(&changes)), changes);
        assert!(Change::parse_all("").is_empty());
        let many = vec![Change::Client(ClientId::parse(&"x".repeat(64)).unwrap()); 200];
        assert_eq!(
            Change::parse_all(&Change::payload_of(&many)),
            [Change::Unknown]
        );
    }
}
