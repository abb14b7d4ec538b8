//! Printing answers: a table for people, JSON for scripts, or just the fields asked for.

use std::io::{self, Write};

use serde_json::Value;

use super::api::{Answer, Failure};
use super::args::Output;

/// How a kind of resource shows as a table: a heading and a field for each column.
pub struct Kind {
    pub noun: &'static str,
    /// A column's field may name alternatives (`actor.token_name|actor.kind`): the first set.
    pub columns: &'static [(&'static str, &'static str)],
}

pub const TENANT: Kind = Kind {
    noun: "tenant",
    columns: &[("ID", "id"), ("NAME", "name"), ("CREATED", "created")],
};

pub const CLIENT: Kind = Kind {
    noun: "client",
    columns: &[
        ("ID", "id"),
        ("TENANT", "tenant"),
        ("NAME", "name"),
        ("APP TYPE", "appType"),
        ("ENABLED", "enabled"),
        ("LAST USED", "lastUsed"),
    ],
};

pub const CREDENTIAL: Kind = Kind {
    noun: "credential",
    columns: &[
        ("ID", "id"),
        ("CLIENT", "client_id"),
        ("TYPE", "credential_type"),
        ("NAME", "name"),
        ("KID", "kid"),
        ("EXPIRES", "expires_at"),
    ],
};

pub const TOKEN: Kind = Kind {
    noun: "token",
    columns: &[
        ("ID", "id"),
        ("NAME", "name"),
        ("PERMISSIONS", "permissions"),
        ("TENANTS", "tenants"),
        ("EXPIRES", "expires_at"),
    ],
};

pub const SIGNING_KEY: Kind = Kind {
    noun: "signing key",
    columns: &[
        ("KID", "kid"),
        ("ALG", "alg"),
        ("STATE", "state"),
        ("ACTIVATED", "activated"),
        ("PUBLISHED UNTIL", "published_until"),
    ],
};

pub const EVENT: Kind = Kind {
    noun: "event",
    columns: &[
        ("TIME", "time"),
        ("ACTION", "action"),
        ("TENANT", "tenant"),
        ("RESOURCE", "resource_path"),
        ("BY", "actor.token_name|actor.kind"),
    ],
};

/// Answer fields that hold a secret the server shows only once.
const SHOWN_ONCE: [(&str, &str); 3] = [
    ("secret", "The client secret"),
    ("next_client_secret", "The next client secret"),
    ("token", "The token"),
];

pub struct Printer {
    pub output: Output,
    pub fields: Vec<String>,
}

impl Printer {
    /// One resource: its fields and values, or its JSON.
    pub fn one(&self, answer: &Answer) -> Result<(), Failure> {
        let mut out = io::stdout().lock();
        let body = &answer.body;
        let shown_once: Vec<_> = (SHOWN_ONCE.iter())
            .filter_map(|&(field, what)| Some((field, what, body.get(field)?.as_str()?)))
            .collect();
        if !self.fields.is_empty() {
            let etag = answer.header("etag").map(|e| Value::String(e.to_owned()));
            if let Some(missing) = (self.fields.iter())
                .find(|f| lookup(body, f).is_none() && !(*f == "etag" && etag.is_some()))
            {
                return Err(Failure::Usage(format!(
                    "the answer has no field {missing}; it has {}",
                    body.as_object().map_or_else(String::new, |o| {
                        o.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                    })
                )));
            }
            self.field_line(&mut out, body, etag.as_ref())
                .map_err(unwritten)?;
            // Printing only what was asked is the point of --field; losing a secret unawares
            // is not.
            for (field, what, _) in shown_once {
                if !self.fields.iter().any(|f| f == field) {
                    eprintln!(
                        "clientd: {} (shown only this once) was not printed; --field {field} \
                         prints it",
                        what.to_lowercase()
                    );
                }
            }
            return Ok(());
        }
        match self.output {
            Output::Json => {
                writeln!(out, "{}", pretty(body)).map_err(unwritten)?;
                if !shown_once.is_empty() {
                    eprintln!("clientd: the answer holds a secret that is shown only this once");
                }
            }
            Output::Table => {
                let Some(object) = body.as_object() else {
                    return writeln!(out, "{}", cell(body)).map_err(unwritten);
                };
                let rows: Vec<[String; 2]> = (object.iter())
                    .filter(|(name, _)| !SHOWN_ONCE.iter().any(|(field, _)| field == name))
                    .map(|(name, value)| [name.clone(), cell(value)])
                    .collect();
                write_rows(&mut out, &rows, &column_widths(&rows)).map_err(unwritten)?;
                for (_, what, secret) in shown_once {
                    let banner = format!("\n{what} is shown only this once; keep it safe:");
                    writeln!(out, "{banner}\n  {secret}").map_err(unwritten)?;
                }
            }
        }
        out.flush().map_err(unwritten)
    }

    /// What a delete or another answer without a body says to a person.
    pub fn done(&self, message: &str) -> io::Result<()> {
        if self.output == Output::Table && self.fields.is_empty() {
            writeln!(io::stdout().lock(), "{message}")?;
        }
        Ok(())
    }

    pub fn list<'a>(&'a self, kind: &'a Kind) -> List<'a> {
        List {
            printer: self,
            kind,
            widths: None,
            printed: 0,
        }
    }

    fn field_line(
        &self,
        out: &mut impl Write,
        item: &Value,
        etag: Option<&Value>,
    ) -> io::Result<()> {
        let values: Vec<String> = (self.fields.iter())
            .map(|field| match (lookup(item, field), field.as_str()) {
                (Some(value), _) => raw(value),
                (None, "etag") => etag.map(raw).unwrap_or_default(),
                (None, _) => String::new(),
            })
            .collect();
        writeln!(out, "{}", values.join("\t"))
    }
}

/// Events as a follower prints them in JSON: one compact object per line (JSON Lines), so
/// a reader can act on each as it comes.
pub fn json_lines(items: &[Value]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let printed = (items.iter())
        .try_for_each(|item| writeln!(out, "{item}"))
        .and_then(|()| out.flush());
    printed.map_err(unwritten)
}

/// A list printed page by page, so `--all` streams: a table whose header comes once, a JSON
/// array, or a line of fields per item.
pub struct List<'a> {
    printer: &'a Printer,
    kind: &'a Kind,
    widths: Option<Vec<usize>>,
    printed: usize,
}

impl List<'_> {
    pub fn page(&mut self, items: &[Value]) -> Result<(), Failure> {
        let first = items.first().filter(|_| self.printed == 0);
        let missing = (self.printer.fields.iter())
            .find(|field| first.is_some_and(|item| lookup(item, field).is_none()));
        if let Some(missing) = missing {
            let noun = self.kind.noun;
            return Err(Failure::Usage(format!("a {noun} has no field {missing}")));
        }
        self.print(items).map_err(unwritten)
    }

    fn print(&mut self, items: &[Value]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        for item in items.iter().filter(|_| !self.printer.fields.is_empty()) {
            self.printer.field_line(&mut out, item, None)?;
        }
        if !self.printer.fields.is_empty() {
            self.printed += items.len();
            return out.flush();
        }
        match self.printer.output {
            Output::Json => {
                for item in items {
                    let separator = if self.printed == 0 { "[\n" } else { ",\n" };
                    write!(out, "{separator}{}", pretty(item))?;
                    self.printed += 1;
                }
            }
            Output::Table => {
                let rows: Vec<Vec<String>> = (items.iter())
                    .map(|item| {
                        (self.kind.columns.iter())
                            .map(|(_, f)| column(item, f))
                            .collect()
                    })
                    .collect();
                // Widths come from the first page, so later pages line up under its header.
                if self.widths.is_none() && !rows.is_empty() {
                    let header: Vec<String> = self
                        .kind
                        .columns
                        .iter()
                        .map(|(h, _)| (*h).to_owned())
                        .collect();
                    let mut widths = column_widths(std::slice::from_ref(&header));
                    widen(&mut widths, &rows);
                    write_rows(&mut out, &[header], &widths)?;
                    self.widths = Some(widths);
                }
                if let Some(widths) = &self.widths {
                    write_rows(&mut out, &rows, widths)?;
                }
                self.printed += items.len();
            }
        }
        out.flush()
    }

    /// Ends the list; `more` is the cursor of a next page left unread.
    pub fn finish(self, more: Option<&str>) -> Result<(), Failure> {
        self.end(more).map_err(unwritten)
    }

    fn end(self, more: Option<&str>) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if self.printer.fields.is_empty() {
            match self.printer.output {
                Output::Json if self.printed == 0 => writeln!(out, "[]")?,
                Output::Json => writeln!(out, "\n]")?,
                Output::Table if self.printed == 0 => writeln!(out, "No {}s.", self.kind.noun)?,
                Output::Table => {}
            }
        }
        if let Some(cursor) = more {
            eprintln!(
                "clientd: more {}s: add --cursor {cursor} (or --all)",
                self.kind.noun
            );
        }
        out.flush()
    }
}

/// Text safe for a terminal: control and format characters (escape sequences, bidi
/// overrides) in a stored value would let it rewrite what a person reads. JSON output needs
/// none of this: serde_json escapes control characters.
pub fn printable(text: &str) -> String {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{FEFF}')
            || ('\u{200B}'..='\u{200F}').contains(&c)
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2060}'..='\u{206F}').contains(&c)
    };
    text.chars()
        .map(|c| if invisible(c) { ' ' } else { c })
        .collect()
}

/// An unwritable standard output. A reader that left early (`| head`) is its own failure, so
/// that reads can end quietly while a write says its answer was not printed in full.
pub fn unwritten(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Failure::OutputClosed
    } else {
        Failure::Local(format!("cannot print the answer: {error}"))
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A value in a table cell: text as it is, lists joined, nothing as '-'.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items)
            if items
                .iter()
                .all(|item| !item.is_object() && !item.is_array()) =>
        {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.iter().map(raw).collect::<Vec<_>>().join(", ")
            }
        }
        other => other.to_string(),
    }
}

/// A value for a script: text without quotes, anything else as compact JSON.
fn raw(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn lookup<'v>(item: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(item, |value, name| value.get(name))
}

fn column(item: &Value, field: &str) -> String {
    (field.split('|'))
        .find_map(|path| lookup(item, path).filter(|value| !value.is_null()))
        .map_or_else(|| "-".to_owned(), cell)
}

/// A cell's width, in characters: wide scripts (CJK, emoji) will not line up.
fn width(text: &str) -> usize {
    text.chars().count()
}

fn column_widths<R: AsRef<[String]>>(rows: &[R]) -> Vec<usize> {
    let mut widths = Vec::new();
    widen(&mut widths, rows);
    widths
}

fn widen<R: AsRef<[String]>>(widths: &mut Vec<usize>, rows: &[R]) {
    for row in rows {
        for (i, text) in row.as_ref().iter().enumerate() {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(width(text));
        }
    }
}

fn write_rows<R: AsRef<[String]>>(
    out: &mut impl Write,
    rows: &[R],
    widths: &[usize],
) -> io::Result<()> {
    for row in rows {
        let cells = row.as_ref();
        let mut line = String::new();
        for (i, text) in cells.iter().enumerate() {
            let text = printable(text);
            if i + 1 == cells.len() {
                line.push_str(&text);
            } else {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(width(&text));
                line.push_str(&text);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_cannot_drive_the_terminal() {
        let hostile = "a\u{1b}]0;pwned\u{7}b\u{202e}c\u{200b}d\te";
        assert_eq!(printable(hostile), "a ]0;pwned b c d e");
        assert_eq!(printable("Zürich 東京"), "Zürich 東京");
    }

    #[test]
    fn cells_show_lists_joined_and_nothing_as_a_dash() {
        let value = serde_json::json!({"a": ["x", "y"], "b": null, "c": [], "d": {"k": 1}});
        assert_eq!(column(&value, "a"), "x, y");
        assert_eq!(column(&value, "b|a"), "x, y");
        assert_eq!(column(&value, "b"), "-");
        assert_eq!(column(&value, "c"), "-");
        assert_eq!(column(&value, "d.k"), "1");
        assert_eq!(column(&value, "d"), r#"{"k":1}"#);
    }
}
