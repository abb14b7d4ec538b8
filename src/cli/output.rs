//! Printing answers: a table for people, JSON for scripts, or just the fields asked for.

use std::io::{self, Write};

use serde_json::Value;

use super::api::Answer;
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
    pub fn one(&self, answer: &Answer) -> io::Result<()> {
        let mut out = io::stdout().lock();
        let body = &answer.body;
        if !self.fields.is_empty() {
            let etag = answer.header("etag").map(|e| Value::String(e.to_owned()));
            return self.field_line(&mut out, body, etag.as_ref());
        }
        let shown_once: Vec<_> = (SHOWN_ONCE.iter())
            .filter_map(|&(field, what)| Some((field, what, body.get(field)?.as_str()?)))
            .collect();
        match self.output {
            Output::Json => {
                writeln!(out, "{}", pretty(body))?;
                if !shown_once.is_empty() {
                    eprintln!("clientd: the answer holds a secret that is shown only this once");
                }
            }
            Output::Table => {
                let Some(object) = body.as_object() else {
                    return writeln!(out, "{}", cell(body));
                };
                let rows: Vec<[String; 2]> = (object.iter())
                    .filter(|(name, _)| !SHOWN_ONCE.iter().any(|(field, _)| field == name))
                    .map(|(name, value)| [name.clone(), cell(value)])
                    .collect();
                write_rows(&mut out, &rows, &mut column_widths(&rows))?;
                for (_, what, secret) in shown_once {
                    writeln!(
                        out,
                        "\n{what} is shown only this once; keep it safe:\n  {secret}"
                    )?;
                }
            }
        }
        Ok(())
    }

    /// What a delete or another answer without a body says to a person.
    pub fn done(&self, message: &str) {
        if self.output == Output::Table && self.fields.is_empty() {
            println!("{message}");
        }
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

/// A list printed page by page, so `--all` streams: a table whose header comes once, a JSON
/// array, or a line of fields per item.
pub struct List<'a> {
    printer: &'a Printer,
    kind: &'a Kind,
    widths: Option<Vec<usize>>,
    printed: usize,
}

impl List<'_> {
    pub fn page(&mut self, items: &[Value]) -> io::Result<()> {
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
                    write_rows(&mut out, &[header], &mut widths)?;
                    self.widths = Some(widths);
                }
                if let Some(widths) = self.widths.as_mut() {
                    write_rows(&mut out, &rows, widths)?;
                }
                self.printed += items.len();
            }
        }
        out.flush()
    }

    /// Ends the list; `more` is the cursor of a next page left unread.
    pub fn finish(self, more: Option<&str>) -> io::Result<()> {
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

/// A cell's width in characters, of its first line: a table row stays one line.
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
    widths: &mut [usize],
) -> io::Result<()> {
    for row in rows {
        let cells = row.as_ref();
        let mut line = String::new();
        for (i, text) in cells.iter().enumerate() {
            // Control characters would let a stored value rewrite the terminal.
            let text: String = (text.chars())
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
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
