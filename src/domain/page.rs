//! Keyset paging: a page is "the next `limit` items after this key", so its cost does not
//! grow with how far a caller has paged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::Invalid;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// A page size the caller asked for, within 1..=200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub fn parse(limit: Option<u32>) -> Result<Self, Invalid> {
        match limit.unwrap_or(DEFAULT_LIMIT) {
            limit @ 1..=MAX_LIMIT => Ok(Self(limit)),
            _ => Err(Invalid::one(
                "/limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// An opaque continuation token: the key of the last item a caller has seen.
/// Opaque so that the key's form can change without breaking callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn after(key: &str) -> Self {
        Self(key.to_owned())
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Self)
            .ok_or_else(|| {
                Invalid::one(
                    "/cursor",
                    "is not a cursor this service issued; pass next_cursor from the previous page",
                )
            })
    }

    pub fn key(&self) -> &str {
        &self.0
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }
}

/// One page of a listing, as every list endpoint returns it.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says that more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: Limit, key: impl Fn(&T) -> String) -> Self {
        let more = rows.len() > limit.get() as usize;
        rows.truncate(limit.get() as usize);
        let next_cursor = more
            .then(|| rows.last().map(|last| Cursor::after(&key(last)).encode()))
            .flatten();
        Self {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
