//! SailPoint's collection parameters for clients: `filters` (terms joined by `and`),
//! `sorters` (one field, `-` for descending, ties broken by id) and the keyset position a
//! cursor carries. Parsed here into types; the store binds every value, never user text.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::time::{self, Timestamp};

mod filter;

pub use filter::{ClientFilter, Term};

/// What a page of clients is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    Id,
    Name,
    Created,
    Modified,
    LastUsed,
}

/// A field, ascending or descending; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sorter {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sorter {
    fn default() -> Self {
        Self {
            key: SortKey::Id,
            descending: false,
        }
    }
}

impl Sorter {
    /// `name`, `-created`, ... (one field).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (descending, field) = match text.strip_prefix('-') {
            Some(field) => (true, field),
            None => (false, text),
        };
        let key = match field {
            "id" => SortKey::Id,
            "name" => SortKey::Name,
            "created" => SortKey::Created,
            "modified" => SortKey::Modified,
            "lastUsed" => SortKey::LastUsed,
            _ if field.contains(',') => {
                return Err("sort by one field; ties are always broken by id".to_owned());
            }
            other => {
                return Err(format!(
                    "cannot sort by {other:?}; use id, name, created, modified or lastUsed, with - for descending"
                ));
            }
        };
        Ok(Self { key, descending })
    }
}

/// Where a page starts: after the client with this sort value and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub key: SortKey,
    pub descending: bool,
    /// The sort value of the last client seen: the lowercased name, or an RFC 3339 time
    /// (None for a client never used).
    pub value: Option<String>,
    pub id: String,
}

impl Position {
    /// Opaque to callers: the sorter, the value and the id, as URL-safe text. A cursor of
    /// the default order is the id itself, as before sorters existed.
    pub fn encode(&self) -> String {
        if self.key == SortKey::Id && !self.descending && !self.id.starts_with("s.") {
            return self.id.clone();
        }
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("s.{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode(cursor: &str, sorter: Sorter) -> Result<Self, String> {
        let wrong = || {
            "cursor must be the next_cursor of the previous page, with the same sorters".to_owned()
        };
        let position = match cursor.strip_prefix("s.") {
            Some(encoded) => {
                let json = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| wrong())?;
                serde_json::from_slice::<Self>(&json).map_err(|_| wrong())?
            }
            None => Self {
                key: SortKey::Id,
                descending: false,
                value: None,
                id: cursor.to_owned(),
            },
        };
        if position.key != sorter.key || position.descending != sorter.descending {
            return Err(wrong());
        }
        // Decoded text reaches the database: no control character (Postgres refuses NUL).
        let fits = |text: &str| super::text::single_line(text).is_ok();
        if !fits(&position.id) || !position.value.as_deref().is_none_or(fits) {
            return Err(wrong());
        }
        if let (SortKey::Created | SortKey::Modified | SortKey::LastUsed, Some(value)) =
            (position.key, &position.value)
        {
            time::parse_rfc3339(value).map_err(|_| wrong())?;
        }
        Ok(position)
    }

    /// The sort value as a time, for the keys that are times.
    pub fn time(&self) -> Option<Timestamp> {
        (self.value.as_deref()).and_then(|value| time::parse_rfc3339(value).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_carry_the_sorter_and_refuse_another() {
        let sorter = Sorter::parse("-created").unwrap();
        let position = Position {
            key: SortKey::Created,
            descending: true,
            value: Some("2026-12-01T00:00:00.000Z".to_owned()),
            id: "c1".to_owned(),
        };
        assert_eq!(
            Position::decode(&position.encode(), sorter),
            Ok(position.clone())
        );
        assert!(Position::decode(&position.encode(), Sorter::default()).is_err());
        assert_eq!(Position::decode("c9", Sorter::default()).unwrap().id, "c9");
        let dotted = Position {
            key: SortKey::Id,
            descending: false,
            value: None,
            id: "s.billing".to_owned(),
        };
        assert_eq!(
            Position::decode(&dotted.encode(), Sorter::default()),
            Ok(dotted)
        );
    }
}
