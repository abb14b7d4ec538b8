//! Tenants: the walls between the clients of different teams or customers.

use std::fmt;

use serde::Serialize;

use super::time::{Timestamp, rfc3339_millis};
use super::{Invalid, Violations};

/// A tenant id: 1 to 64 lowercase letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, String> {
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if text.is_empty() || text.len() > Self::MAX_LEN {
            Err(format!("must be 1 to {} characters long", Self::MAX_LEN))
        } else if !text.chars().all(allowed) {
            Err("may hold only lowercase letters, digits, '-' and '_'".to_owned())
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A human-readable tenant name: 1 to 200 characters, not only white space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TenantName(String);

impl TenantName {
    pub const MAX_LEN: usize = 200;

    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            Err("must not be empty".to_owned())
        } else if text.chars().count() > Self::MAX_LEN {
            Err(format!("must be at most {} characters long", Self::MAX_LEN))
        } else {
            super::text::single_line(text).map(|()| Self(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: TenantName,
    #[serde(with = "rfc3339_millis")]
    pub created: Timestamp,
}

impl Tenant {
    /// Checks a create request, reporting every broken field at once.
    pub fn new(id: &str, name: &str, created: Timestamp) -> Result<Self, Invalid> {
        let mut violations = Violations::default();
        let id = violations.field("/id", TenantId::parse(id));
        let name = violations.field("/name", TenantName::parse(name));
        match (id, name) {
            (Some(id), Some(name)) => Ok(Self { id, name, created }),
            _ => Err(violations.into_invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_allow_only_lowercase_digits_dash_and_underscore() {
        assert!(TenantId::parse("acme-prod_2").is_ok());
        for bad in ["", "Acme", "acme prod", "acme/prod", "é", &"a".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_new_tenant_reports_every_broken_field() {
        let Invalid(errors) = Tenant::new("Bad Id", " ", crate::domain::time::now()).unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/id", "/name"]);
    }
}
