//! `filters`: terms joined by `and`, each `field operator value`, parsed into [`Term`]s.

use crate::domain::client::{AppType, ClientType, GrantType};
use crate::domain::time::{self, Timestamp};

/// One term of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// Case-insensitive: the store lowercases both sides with the database's own lower(),
    /// so the value and the name fold alike.
    NameEq(String),
    NameStartsWith(String),
    NameContains(String),
    AppTypeIn(Vec<AppType>),
    Enabled(bool),
    OwnersContain(String),
    GrantTypesContain(GrantType),
    LastUsedAtMost(Timestamp),
    LastUsedAtLeast(Timestamp),
    NeverUsed,
    CreatedAtMost(Timestamp),
    CreatedAtLeast(Timestamp),
    ModifiedAtMost(Timestamp),
    ModifiedAtLeast(Timestamp),
    /// Whether the client's current secret is past its policy's `maxAgeSeconds` at `at`
    /// (the time the filter was read).
    SecretStale {
        stale: bool,
        at: Timestamp,
    },
}

/// Every term must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientFilter(pub Vec<Term>);

const FIELDS: &str = "name (eq, sw, co), appType and type (eq, in), enabled (eq), owners and grantTypes (co), lastUsed (le, ge, isnull), created and modified (le, ge), secretStale (eq)";
const MAX_TERMS: usize = 20;
const MAX_FILTER: usize = 4096;

impl ClientFilter {
    /// `name sw "billing" and enabled eq false`. A malformed or unsupported term is named in
    /// the error.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.chars().count() > MAX_FILTER {
            return Err(format!("a filter is at most {MAX_FILTER} characters"));
        }
        let tokens = tokenize(text)?;
        let mut terms = Vec::new();
        for (i, clause) in tokens.split(|token| *token == Token::And).enumerate() {
            if clause.is_empty() {
                return Err(format!(
                    "term {} is empty: join terms with a single and",
                    i + 1
                ));
            }
            terms.push(
                term(clause).map_err(|why| format!("term {} ({}): {why}", i + 1, show(clause)))?,
            );
        }
        if terms.len() > MAX_TERMS {
            return Err(format!("at most {MAX_TERMS} terms"));
        }
        Ok(Self(terms))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    List(Vec<String>),
    And,
}

fn show(clause: &[Token]) -> String {
    let words: Vec<String> = (clause.iter())
        .map(|token| match token {
            Token::Word(word) => word.clone(),
            Token::Quoted(text) => format!("{text:?}"),
            Token::List(items) => format!(
                "({})",
                items
                    .iter()
                    .map(|i| format!("{i:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Token::And => "and".to_owned(),
        })
        .collect();
    words.join(" ")
}

/// Words, "quoted strings" (with `\"` and `\\`), ("lists", "of", "strings") and `and`.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            tokens.push(Token::Quoted(quoted(&mut chars)?));
        } else if c == '(' {
            chars.next();
            let mut items = Vec::new();
            loop {
                match chars.next() {
                    Some('"') => items.push(quoted(&mut chars)?),
                    Some(c) if c.is_whitespace() || c == ',' => {}
                    Some(')') => break,
                    Some(other) => {
                        return Err(format!("a list holds quoted strings, not {other:?}"));
                    }
                    None => return Err("a list is not closed with )".to_owned()),
                }
            }
            tokens.push(Token::List(items));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' || c == '(' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(if word.eq_ignore_ascii_case("and") {
                Token::And
            } else {
                Token::Word(word)
            });
        }
    }
    Ok(tokens)
}

fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, String> {
    let mut text = String::new();
    loop {
        match chars.next() {
            Some('"') => return Ok(text),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\')) => text.push(c),
                _ => return Err("only \\\" and \\\\ may be escaped in a string".to_owned()),
            },
            Some(c) if c.is_control() => {
                return Err("a string may not hold control characters".to_owned());
            }
            Some(c) => text.push(c),
            None => return Err("a string is not closed with \"".to_owned()),
        }
    }
}

/// One term as written: `field operator [value]`, the operator lowercased.
struct RawTerm<'a> {
    field: &'a str,
    op: String,
    value: Option<&'a Token>,
}

impl<'a> RawTerm<'a> {
    fn split(clause: &'a [Token]) -> Result<Self, String> {
        let (field, op, value) = match clause {
            [Token::Word(field), Token::Word(op)] => (field, op, None),
            [Token::Word(field), Token::Word(op), value] => (field, op, Some(value)),
            _ => {
                return Err(
                    "a term is: field operator value (or, not and parentheses are not supported: join terms with and)"
                        .to_owned(),
                );
            }
        };
        Ok(Self {
            field,
            op: op.to_ascii_lowercase(),
            value,
        })
    }

    fn text(&self) -> Result<String, String> {
        match self.value {
            Some(Token::Quoted(text)) => Ok(text.clone()),
            _ => Err(format!("{} takes a quoted string", self.op)),
        }
    }

    // No name is longer than 200 characters, so neither is a value worth matching.
    fn name(&self) -> Result<String, String> {
        let name = self.text()?;
        if name.chars().count() > 200 {
            return Err("a name is at most 200 characters".to_owned());
        }
        Ok(name)
    }

    fn list(&self) -> Result<Vec<String>, String> {
        match self.value {
            Some(Token::Quoted(text)) if self.op == "eq" => Ok(vec![text.clone()]),
            Some(Token::List(items)) if self.op == "in" && !items.is_empty() => Ok(items.clone()),
            _ => Err("eq takes a quoted string and in a non-empty list (\"a\", \"b\")".to_owned()),
        }
    }

    fn at(&self) -> Result<Timestamp, String> {
        let raw = match self.value {
            Some(Token::Quoted(text) | Token::Word(text)) => text,
            _ => return Err(format!("{} takes an RFC 3339 date-time", self.op)),
        };
        time::parse_rfc3339(raw).map_err(|why| format!("{raw:?} {why}"))
    }

    fn unsupported(&self) -> String {
        format!(
            "{} does not take {}; the fields and operators are {FIELDS}",
            self.field, self.op
        )
    }
}

fn term(clause: &[Token]) -> Result<Term, String> {
    let term = RawTerm::split(clause)?;
    match term.field {
        "name" => name_term(&term),
        "appType" => app_type_term(&term),
        "type" => client_type_term(&term),
        "enabled" => enabled_term(&term),
        "owners" => owners_term(&term),
        "grantTypes" => grant_types_term(&term),
        "lastUsed" | "created" | "modified" => time_term(&term),
        "secretStale" => secret_stale_term(&term),
        field => Err(format!(
            "{field} cannot be filtered on; the fields and operators are {FIELDS}"
        )),
    }
}

fn name_term(term: &RawTerm) -> Result<Term, String> {
    let matching: fn(String) -> Term = match term.op.as_str() {
        "eq" => Term::NameEq,
        "sw" => Term::NameStartsWith,
        "co" => Term::NameContains,
        _ => return Err(term.unsupported()),
    };
    Ok(matching(term.name()?))
}

fn app_type_term(term: &RawTerm) -> Result<Term, String> {
    if !matches!(term.op.as_str(), "eq" | "in") {
        return Err(term.unsupported());
    }
    let mut types = (term.list()?.iter())
        .map(|t| AppType::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    types.sort_by_key(|t| t.as_str());
    types.dedup();
    Ok(Term::AppTypeIn(types))
}

/// `type` is the client type, CONFIDENTIAL or PUBLIC: the app types of that kind.
fn client_type_term(term: &RawTerm) -> Result<Term, String> {
    if !matches!(term.op.as_str(), "eq" | "in") {
        return Err(term.unsupported());
    }
    let mut types = Vec::new();
    for t in term.list()? {
        let client_type = match t.as_str() {
            "CONFIDENTIAL" => ClientType::Confidential,
            "PUBLIC" => ClientType::Public,
            other => {
                return Err(format!(
                    "unknown type {other:?}; use CONFIDENTIAL or PUBLIC"
                ));
            }
        };
        types.extend(
            AppType::ALL
                .into_iter()
                .filter(|a| a.client_type() == client_type),
        );
    }
    Ok(Term::AppTypeIn(types))
}

fn enabled_term(term: &RawTerm) -> Result<Term, String> {
    boolean(term).map(Term::Enabled)
}

fn secret_stale_term(term: &RawTerm) -> Result<Term, String> {
    boolean(term).map(|stale| Term::SecretStale {
        stale,
        at: time::now(),
    })
}

fn boolean(term: &RawTerm) -> Result<bool, String> {
    if term.op != "eq" {
        return Err(term.unsupported());
    }
    match term.value {
        Some(Token::Word(word) | Token::Quoted(word)) if word == "true" => Ok(true),
        Some(Token::Word(word) | Token::Quoted(word)) if word == "false" => Ok(false),
        _ => Err(format!("{} eq takes true or false", term.field)),
    }
}

fn owners_term(term: &RawTerm) -> Result<Term, String> {
    if term.op != "co" {
        return Err(term.unsupported());
    }
    Ok(Term::OwnersContain(term.text()?))
}

fn grant_types_term(term: &RawTerm) -> Result<Term, String> {
    if term.op != "co" {
        return Err(term.unsupported());
    }
    let grant = term.text()?;
    let grant: GrantType = serde_json::from_value(grant.clone().into())
        .map_err(|_| format!("unknown grant type {grant:?}"))?;
    Ok(Term::GrantTypesContain(grant))
}

/// lastUsed, created and modified: le and ge a time; lastUsed also isnull, for never used.
fn time_term(term: &RawTerm) -> Result<Term, String> {
    if (term.field, term.op.as_str()) == ("lastUsed", "isnull") && term.value.is_none() {
        return Ok(Term::NeverUsed);
    }
    let bound: fn(Timestamp) -> Term = match (term.field, term.op.as_str()) {
        ("lastUsed", "le") => Term::LastUsedAtMost,
        ("lastUsed", "ge") => Term::LastUsedAtLeast,
        ("created", "le") => Term::CreatedAtMost,
        ("created", "ge") => Term::CreatedAtLeast,
        ("modified", "le") => Term::ModifiedAtMost,
        ("modified", "ge") => Term::ModifiedAtLeast,
        _ => return Err(term.unsupported()),
    };
    Ok(bound(term.at()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_every_field_and_operator() {
        let filter = ClientFilter::parse(
            r#"name sw "Bill" and appType in ("spa", "native") and type eq "CONFIDENTIAL" and enabled eq false and owners co "a@b" and grantTypes co "CLIENT_CREDENTIALS" and lastUsed isnull and created ge 2026-01-01T00:00:00Z and modified le "2027-01-01T00:00:00Z""#,
        )
        .unwrap();
        assert_eq!(filter.0.len(), 9);
        assert_eq!(filter.0[0], Term::NameStartsWith("Bill".to_owned()));
        assert_eq!(
            filter.0[5],
            Term::GrantTypesContain(GrantType::ClientCredentials)
        );
        assert_eq!(filter.0[6], Term::NeverUsed);
    }

    #[test]
    fn bad_terms_are_named() {
        for (bad, named) in [
            ("name gt \"a\"", "term 1"),
            ("enabled eq true and color eq \"red\"", "term 2"),
            ("name eq bill", "quoted"),
            ("name eq \"open", "not closed"),
            ("lastUsed le yesterday", "RFC 3339"),
            ("appType in (\"spa\"", "not closed"),
            ("name eq \"a\" and", "empty"),
            ("type eq \"SECRET\"", "CONFIDENTIAL"),
        ] {
            let error = ClientFilter::parse(bad).unwrap_err();
            assert!(error.contains(named), "{bad}: {error}");
        }
    }
}
