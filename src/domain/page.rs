//! Keyset paging: a page is "the next `limit` items after this key", so its cost does not
//! grow with how far a caller has paged.

use serde::Serialize;

use super::Invalid;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// A page size the caller asked for, within 1..=200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_LIMIT)
    }
}

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

    pub fn one() -> Self {
        Self(1)
    }
}

/// A continuation token: the key of the last item a caller has seen. Callers treat it as
/// opaque; any text is a valid lower bound, so no cursor can be "wrong", only past the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// An empty cursor is no cursor: the first page. Keys hold no control characters, so a
    /// cursor with one was not given by clientd (and Postgres could not even compare a NUL).
    pub fn parse(text: &str) -> Result<Option<Self>, Invalid> {
        super::text::single_line(text).map_err(|why| Invalid::one("/cursor", why))?;
        Ok((!text.is_empty()).then(|| Self(text.to_owned())))
    }

    pub fn key(&self) -> &str {
        &self.0
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
        let next_cursor = rows.last().filter(|_| more).map(key);
        Self {
            items: rows,
            next_cursor,
        }
    }

    /// The same page, each item seen through `f`, e.g. as the view a response serializes.
    pub fn map_ref<'a, U>(&'a self, f: impl FnMut(&'a T) -> U) -> Page<U> {
        Page {
            items: self.items.iter().map(f).collect(),
            next_cursor: self.next_cursor.clone(),
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
