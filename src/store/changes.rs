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
/// The longest payload a notice carries (Postgres takes 8000 bytes); more changes than fit
/// go in several notices.
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

    /// The payloads of the notices that announce `changes`: as many as they need, each at
    /// most `MAX_PAYLOAD` bytes; one empty payload (a wake-up) for none.
    pub fn payloads_of(changes: &[Change]) -> Vec<String> {
        let mut payloads = vec![String::new()];
        for change in changes {
            let one = change.payload();
            let last =
                (payloads.last_mut()).filter(|last| last.len() + 1 + one.len() <= MAX_PAYLOAD);
            match last {
                Some(last) if last.is_empty() => *last = one,
                Some(last) => {
                    last.push(' ');
                    last.push_str(&one);
                }
                None => payloads.push(one),
            }
        }
        payloads
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
        let payloads = Change::payloads_of(&changes);
        assert_eq!(payloads.len(), 1);
        assert_eq!(Change::parse_all(&payloads[0]), changes);
        assert_eq!(Change::payloads_of(&[]), [""]);
        assert!(Change::parse_all("").is_empty());
        let many = vec![Change::Client(ClientId::parse(&"x".repeat(64)).unwrap()); 200];
        let payloads = Change::payloads_of(&many);
        assert!(payloads.len() > 1 && payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let read: Vec<Change> = payloads.iter().flat_map(|p| Change::parse_all(p)).collect();
        assert_eq!(read, many);
    }
}
