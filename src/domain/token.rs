//! Admin API tokens: what a caller may do, in which tenants, and the token text they present.

use serde::{Serialize, Serializer};
use uuid::Uuid;

use super::secret::{SecretHash, SecretString};
use super::tenant::TenantId;
use super::time::{Timestamp, rfc3339_millis};
use super::{Invalid, Violations};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    ClientRead,
    ClientWrite,
    ClientReadAll,
    ClientWriteAll,
    Admin,
    /// Only `secrets/verify` and token introspection, on the token's tenants: a gateway's.
    SecretVerify,
    /// Only the events routes, on the token's tenants.
    AuditRead,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Self::ClientRead,
        Self::ClientWrite,
        Self::ClientReadAll,
        Self::ClientWriteAll,
        Self::Admin,
        Self::SecretVerify,
        Self::AuditRead,
    ];

    /// SailPoint's `sp:oauth-client:manage` is accepted as `client.write.all`, its equivalent.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "sp:oauth-client:manage" => Ok(Self::ClientWriteAll),
            _ => Self::ALL
                .into_iter()
                .find(|permission| permission.as_str() == text)
                .ok_or_else(|| {
                    let known: Vec<_> = Self::ALL.iter().map(|p| p.as_str()).collect();
                    format!(
                        "unknown permission {text:?}; use one of {} (or sp:oauth-client:manage)",
                        known.join(", ")
                    )
                }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientRead => "client.read",
            Self::ClientWrite => "client.write",
            Self::ClientReadAll => "client.read.all",
            Self::ClientWriteAll => "client.write.all",
            Self::Admin => "admin",
            Self::SecretVerify => "secret.verify",
            Self::AuditRead => "audit.read",
        }
    }

    /// `client.read`, `client.write`, `secret.verify` and `audit.read` reach only the
    /// token's tenants; the others reach all.
    pub fn is_tenant_bound(self) -> bool {
        matches!(
            self,
            Self::ClientRead | Self::ClientWrite | Self::SecretVerify | Self::AuditRead
        )
    }

    /// Whether the permission reaches clients and tenants at all: the least-privilege ones
    /// reach only their own routes.
    fn reaches_clients(self) -> bool {
        !matches!(self, Self::SecretVerify | Self::AuditRead)
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Which tenants a caller can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantScope<'a> {
    All,
    Only(&'a [TenantId]),
}

/// What a token allows. Write implies read; `admin` implies everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grants {
    permissions: Vec<Permission>,
    tenants: Vec<TenantId>,
}

impl Grants {
    pub fn new(mut permissions: Vec<Permission>, mut tenants: Vec<TenantId>) -> Self {
        permissions.sort();
        permissions.dedup();
        tenants.sort();
        tenants.dedup();
        Self {
            permissions,
            tenants,
        }
    }

    pub fn everything() -> Self {
        Self::new(vec![Permission::Admin], Vec::new())
    }

    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }

    pub fn tenants(&self) -> &[TenantId] {
        &self.tenants
    }

    fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    pub fn is_admin(&self) -> bool {
        self.has(Permission::Admin)
    }

    /// Whether the caller may write in every tenant, so no client's tenant can refuse it.
    pub fn can_write_everywhere(&self) -> bool {
        self.is_admin() || self.has(Permission::ClientWriteAll)
    }

    pub fn can_write(&self, tenant: &TenantId) -> bool {
        self.is_admin()
            || self.has(Permission::ClientWriteAll)
            || (self.has(Permission::ClientWrite) && self.tenants.contains(tenant))
    }

    pub fn can_read(&self, tenant: &TenantId) -> bool {
        self.can_write(tenant)
            || self.has(Permission::ClientReadAll)
            || (self.has(Permission::ClientRead) && self.tenants.contains(tenant))
    }

    /// Whether the token may use the routes of clients, credentials, tenants and tokens at
    /// all (each still checks its own permission): false for a token that holds only
    /// `secret.verify` or `audit.read`.
    pub fn reaches_clients(&self) -> bool {
        self.permissions.iter().any(|p| p.reaches_clients())
    }

    /// Whether the token may verify secrets and introspect tokens at all (in which tenants
    /// is `can_verify`'s to say).
    pub fn verifies_secrets(&self) -> bool {
        self.reaches_clients() || self.has(Permission::SecretVerify)
    }

    /// Whether the token may read an audit trail at all (whose is `can_read_audit`'s).
    pub fn reads_audit(&self) -> bool {
        self.reaches_clients() || self.has(Permission::AuditRead)
    }

    /// What the token's permissions do reach, for a refusal that tells what would.
    pub fn reach(&self) -> String {
        let names: Vec<_> = self.permissions.iter().map(|p| p.as_str()).collect();
        let mut reach = Vec::new();
        if self.has(Permission::SecretVerify) {
            reach.push("POST /clients/{clientId}/secrets/verify and token introspection");
        }
        if self.has(Permission::AuditRead) {
            reach.push("the events routes");
        }
        format!(
            "this token holds {} and reaches only {}, on its tenants; this route needs client.read, client.write or admin",
            names.join(", "),
            reach.join(" and ")
        )
    }

    /// May the caller check a secret of, or introspect a token for, this tenant's clients?
    pub fn can_verify(&self, tenant: &TenantId) -> bool {
        self.can_read(tenant)
            || (self.has(Permission::SecretVerify) && self.tenants.contains(tenant))
    }

    /// May the caller read this tenant's audit trail?
    pub fn can_read_audit(&self, tenant: &TenantId) -> bool {
        self.can_read(tenant) || (self.has(Permission::AuditRead) && self.tenants.contains(tenant))
    }

    /// The tenants whose clients the caller can see.
    pub fn visible_tenants(&self) -> TenantScope<'_> {
        self.scope(|p| p.reaches_clients())
    }

    /// The tenants whose audit trail the caller can read.
    pub fn audit_tenants(&self) -> TenantScope<'_> {
        self.scope(|p| p.reaches_clients() || p == Permission::AuditRead)
    }

    fn scope(&self, counts: impl Fn(Permission) -> bool) -> TenantScope<'_> {
        let global = [
            Permission::Admin,
            Permission::ClientReadAll,
            Permission::ClientWriteAll,
        ];
        if global.iter().any(|&permission| self.has(permission)) {
            TenantScope::All
        } else if (self.permissions.iter()).any(|&p| p.is_tenant_bound() && counts(p)) {
            TenantScope::Only(&self.tenants)
        } else {
            TenantScope::Only(&[])
        }
    }
}

/// A stored admin token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    #[serde(flatten)]
    pub grants: Grants,
    #[serde(with = "rfc3339_millis::option")]
    pub expires_at: Option<Timestamp>,
    #[serde(with = "rfc3339_millis")]
    pub created: Timestamp,
    /// When it was last used, recorded coarsely (as secrets' uses are); None if never.
    #[serde(with = "rfc3339_millis::option")]
    pub last_used: Option<Timestamp>,
}

impl ApiToken {
    pub const MAX_NAME_LEN: usize = 100;

    /// Checks a create request, reporting every broken field at once.
    pub fn new(
        name: &str,
        permissions: &[String],
        tenants: &[String],
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Self, Invalid> {
        let mut violations = Violations::default();
        if name.trim().is_empty() || name.chars().count() > Self::MAX_NAME_LEN {
            violations.add(
                "/name",
                format!("must be 1 to {} characters long", Self::MAX_NAME_LEN),
            );
        } else {
            violations.check("/name", super::text::single_line(name));
        }
        if permissions.is_empty() {
            violations.add("/permissions", "name at least one permission");
        }
        let permissions: Vec<_> = (permissions.iter().enumerate())
            .filter_map(|(i, p)| {
                violations.field(&format!("/permissions/{i}"), Permission::parse(p))
            })
            .collect();
        let requested_tenants = !tenants.is_empty();
        let tenants: Vec<_> = (tenants.iter().enumerate())
            .filter_map(|(i, t)| violations.field(&format!("/tenants/{i}"), TenantId::parse(t)))
            .collect();
        let bound = permissions.iter().any(|p| p.is_tenant_bound());
        if bound && !requested_tenants {
            violations.add(
                "/tenants",
                "client.read, client.write, secret.verify and audit.read reach only the tenants listed here: name at least one",
            );
        }
        if !bound && requested_tenants {
            violations.add(
                "/tenants",
                "only client.read, client.write, secret.verify and audit.read are bound to tenants; leave tenants out for the other permissions",
            );
        }
        if expires_at.is_some_and(|at| at <= now) {
            violations.add("/expires_at", "must be in the future");
        }
        if !violations.is_empty() {
            return Err(violations.into_invalid());
        }
        Ok(Self {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            grants: Grants::new(permissions, tenants),
            expires_at,
            created: now,
            last_used: None,
        })
    }

    /// The grants of a token that is still valid at `now`.
    pub fn grants_at(&self, now: Timestamp) -> Option<&Grants> {
        match self.expires_at {
            Some(expires_at) if expires_at <= now => None,
            _ => Some(&self.grants),
        }
    }
}

/// The text a caller presents: `cdt_<token id as 32 hex>_<43 random URL-safe characters>`.
/// The id lets the token be found by primary key; only a hash of the whole text is stored.
pub struct TokenText;

impl TokenText {
    const PREFIX: &'static str = "cdt_";

    pub fn issue(id: Uuid) -> Result<(SecretString, SecretHash), getrandom::Error> {
        let random = SecretString::generate()?;
        let text = SecretString::new(format!(
            "{}{}_{}",
            Self::PREFIX,
            id.simple(),
            random.expose()
        ));
        let hash = text.hash();
        Ok((text, hash))
    }

    /// The token id inside presented text, if it has the form of a clientd token.
    pub fn token_id(presented: &SecretString) -> Option<Uuid> {
        let rest = presented.expose().strip_prefix(Self::PREFIX)?;
        let (id, _) = rest.split_once('_')?;
        (id.len() == 32).then(|| Uuid::try_parse(id).ok()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::now;

    fn tenant(id: &str) -> TenantId {
        TenantId::parse(id).unwrap()
    }

    #[test]
    fn write_implies_read_and_binding_limits_both() {
        let grants = Grants::new(vec![Permission::ClientWrite], vec![tenant("a")]);
        assert!(grants.can_write(&tenant("a")) && grants.can_read(&tenant("a")));
        assert!(!grants.can_read(&tenant("b")));
        assert_eq!(grants.visible_tenants(), TenantScope::Only(&[tenant("a")]));
    }

    #[test]
    fn global_permissions_reach_every_tenant() {
        let reader = Grants::new(vec![Permission::ClientReadAll], vec![]);
        assert!(reader.can_read(&tenant("x")) && !reader.can_write(&tenant("x")));
        assert!(!reader.is_admin());
        let admin = Grants::everything();
        assert!(admin.can_write(&tenant("x")) && admin.is_admin());
        assert_eq!(admin.visible_tenants(), TenantScope::All);
    }

    #[test]
    fn least_privilege_permissions_reach_only_their_own_routes() {
        let gateway = Grants::new(vec![Permission::SecretVerify], vec![tenant("a")]);
        assert!(gateway.can_verify(&tenant("a")) && !gateway.can_verify(&tenant("b")));
        assert!(!gateway.can_read(&tenant("a")) && !gateway.can_read_audit(&tenant("a")));
        assert!(!gateway.reaches_clients());
        assert_eq!(gateway.visible_tenants(), TenantScope::Only(&[]));
        let auditor = Grants::new(vec![Permission::AuditRead], vec![tenant("a")]);
        assert!(auditor.can_read_audit(&tenant("a")) && !auditor.can_read_audit(&tenant("b")));
        assert!(!auditor.can_verify(&tenant("a")) && !auditor.reaches_clients());
        assert_eq!(auditor.audit_tenants(), TenantScope::Only(&[tenant("a")]));
        let reader = Grants::new(vec![Permission::ClientRead], vec![tenant("a")]);
        assert!(reader.can_verify(&tenant("a")) && reader.can_read_audit(&tenant("a")));
    }

    #[test]
    fn sailpoint_scope_means_client_write_all() {
        assert_eq!(
            Permission::parse("sp:oauth-client:manage"),
            Ok(Permission::ClientWriteAll)
        );
    }

    #[test]
    fn tenant_bound_permissions_need_tenants_and_others_refuse_them() {
        let bound = ApiToken::new("ci", &["client.read".into()], &[], None, now());
        assert_eq!(bound.unwrap_err().0[0].pointer, "/tenants");
        let global = ApiToken::new("ci", &["admin".into()], &["a".into()], None, now());
        assert_eq!(global.unwrap_err().0[0].pointer, "/tenants");
    }

    #[test]
    fn issued_text_names_its_token() {
        let id = Uuid::now_v7();
        let (text, hash) = TokenText::issue(id).unwrap();
        assert_eq!(TokenText::token_id(&text), Some(id));
        assert!(hash.matches(&text));
        assert_eq!(
            TokenText::token_id(&SecretString::new("cdt_nothex_x".into())),
            None
        );
    }

    #[test]
    fn an_expired_token_grants_nothing() {
        let at = now();
        let mut token = ApiToken::new("ci", &["admin".into()], &[], None, at).unwrap();
        token.expires_at = Some(at);
        assert!(token.grants_at(at).is_none());
    }
}
