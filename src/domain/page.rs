//! Keyset paging: a page is "the next `limit` items after this key", so its cost does not
//! grow with how far a caller has paged.

use serde::Serialize;

use super::Invalid;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// About how many bytes of items one page carries, whatever its limit: a page of large items
/// (client documents, events holding them) stops early and its cursor goes on from there.
pub const PAGE_BYTES: usize = 1024 * 1024;

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

    /// Builds a page as `from_rows` does from rows with their sizes, but stops before the
    /// sizes pass `PAGE_BYTES` (one item at least, so every page gets on): the cursor of a
    /// page cut short goes on where it stopped, in the same keyset order.
    pub fn from_sized_rows(
        rows: Vec<(T, usize)>,
        limit: Limit,
        key: impl Fn(&T) -> String,
    ) -> Self {
        let mut total = 0;
        let cut = (rows.iter().take(limit.get() as usize))
            .position(|(_, size)| {
                total += size;
                total > PAGE_BYTES
            })
            .map(|cut| cut.max(1));
        let mut rows: Vec<T> = rows.into_iter().map(|(row, _)| row).collect();
        match cut {
            Some(cut) => {
                let more = rows.len() > cut;
                rows.truncate(cut);
                let next_cursor = rows.last().filter(|_| more).map(key);
                Self {
                    items: rows,
                    next_cursor,
                }
            }
            None => Self::from_rows(rows, limit, key),
        }
    }

    /// Whether `rows` (with their sizes) are enough for a page: `limit + 1` of them, or more
    /// than its byte budget. A store reads rows one by one until they are.
    pub fn is_full(rows: &[(T, usize)], limit: Limit) -> bool {
        rows.len() > limit.get() as usize
            || rows.iter().map(|(_, size)| size).sum::<usize>() > PAGE_BYTES
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(page: &Page<usize>) -> (Vec<usize>, Option<String>) {
        (page.items.clone(), page.next_cursor.clone())
    }

    #[test]
    fn a_page_of_large_items_stops_at_its_byte_budget() {
        let limit = Limit::parse(Some(5)).unwrap();
        let key = |item: &usize| item.to_string();
        let rows = |bytes: usize| (0..6).map(|i| (i, bytes)).collect::<Vec<_>>();
        let small = Page::from_sized_rows(rows(10), limit, key);
        assert_eq!(keys(&small), (vec![0, 1, 2, 3, 4], Some("4".into())));
        let large = Page::from_sized_rows(rows(PAGE_BYTES / 3 + 1), limit, key);
        assert_eq!(keys(&large), (vec![0, 1], Some("1".into())));
        let huge = Page::from_sized_rows(rows(PAGE_BYTES * 2), limit, key);
        assert_eq!(keys(&huge), (vec![0], Some("0".into())));
        let last = Page::from_sized_rows(vec![(7, PAGE_BYTES * 2)], limit, key);
        assert_eq!(keys(&last), (vec![7], None));
        assert!(!Page::is_full(&rows(10)[..5], limit));
        assert!(Page::is_full(&rows(10), limit));
        assert!(Page::is_full(&rows(PAGE_BYTES / 2)[..3], limit));
    }
}
