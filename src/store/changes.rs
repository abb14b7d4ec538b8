//! What other processes change, as the database announces it: on Postgres, the notices of
//! the triggers of migrations 0006 and 0008, sent when each change commits. SQLite has no
//! other writer.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;
use crate::domain::client::ClientId;
use crate::domain::tenant::TenantId;

/// The channel migration 0006's triggers notify.
pub const CHANNEL: &str = "clientd_changes";

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
}

impl Change {
    pub fn parse(payload: &str) -> Self {
        match payload.split_once(':') {
            Some(("client", id)) => ClientId::parse(id).map_or(Self::Unknown, Self::Client),
            Some(("token", id)) => Uuid::try_parse(id).map_or(Self::Unknown, Self::Token),
            Some(("keys", id)) => TenantId::parse(id).map_or(Self::Unknown, Self::SigningKeys),
            _ => Self::Unknown,
        }
    }
}

/// A connection that hears every committed change.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The next change, or None once the connection is lost: changes made since may never
    /// be heard, so the follower must start again from a new feed.
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
}
