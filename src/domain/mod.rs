//! Rules and types of clientd: no HTTP and no SQL here.

pub mod audit;
pub mod autopilot;
pub mod change;
pub mod client;
pub mod credential;
pub mod integer;
pub mod json;
pub mod oauth;
pub mod page;
pub mod query;
pub mod refusal;
pub mod rotation;
pub mod secret;
pub mod tenant;
#[cfg(test)]
mod test_keys;
pub mod text;
pub mod time;
pub mod token;

use serde::Serialize;

/// What a lookup did not find; answered 404 as "no <what> with this id".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Tenant,
    Client,
    Credential,
    Token,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tenant => "tenant",
            Self::Client => "client",
            Self::Credential => "credential",
            Self::Token => "token",
        })
    }
}

/// One broken rule, addressed by a JSON Pointer into the request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// Every rule a request broke, so a caller can fix them all in one go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} rule(s) broken", .0.len())]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(pointer, message)])
    }
}

/// Collects rule violations while a request is parsed field by field.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldError>);

impl Violations {
    pub fn add(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(pointer, message));
    }

    /// Keeps a field's value when it parsed, records why not otherwise.
    pub fn field<T>(&mut self, pointer: &str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|message| self.add(pointer, message)).ok()
    }

    /// Records why a rule with nothing to keep failed, if it did.
    pub fn check(&mut self, pointer: &str, rule: Result<(), String>) {
        if let Err(message) = rule {
            self.add(pointer, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_invalid(self) -> Invalid {
        Invalid(self.0)
    }
}
