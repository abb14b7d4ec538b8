//! Which characters stored text may hold. Postgres text and jsonb cannot hold U+0000 at all
//! (SQLite can), so NUL is refused everywhere, before any store sees it, and both stores
//! answer alike. Other control characters have no place in names, ids and URLs (they hide in
//! logs and terminals); free text such as a description may keep tabs and line breaks.

use serde_json::{Map, Value};

use super::Violations;

/// Names, URLs, owners: no control character at all.
pub fn single_line(text: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        Err("must not hold control characters (U+0000 to U+001F, U+007F to U+009F)".to_owned())
    } else {
        Ok(())
    }
}

/// Free text: tabs and line breaks are fine, other control characters are not.
pub fn multi_line(text: &str) -> Result<(), String> {
    if (text.chars()).any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        Err("must not hold control characters other than tab and line breaks".to_owned())
    } else {
        Ok(())
    }
}

/// Free-form JSON (trusted metadata): any string and any key, but never NUL, which no
/// Postgres jsonb value can hold. Each offending member is named by its pointer.
pub fn check_json(v: &mut Violations, pointer: &str, value: &Value) {
    match value {
        Value::String(text) if text.contains('\0') => {
            v.add(pointer, "must not hold the NUL character (U+0000)");
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_json(v, &format!("{pointer}/{i}"), item);
            }
        }
        Value::Object(members) => check_members(v, pointer, members),
        _ => {}
    }
}

/// `check_json` for the members of an object.
pub fn check_members(v: &mut Violations, pointer: &str, members: &Map<String, Value>) {
    for (key, item) in members {
        let escaped = key.replace('~', "~0").replace('/', "~1");
        let member = format!("{pointer}/{escaped}");
        if key.contains('\0') {
            v.add(&member, "a key must not hold the NUL character (U+0000)");
        } else {
            check_json(v, &member, item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_line_text_refuses_every_control_character() {
        assert!(single_line("Acme Portal — prod").is_ok());
        for bad in ["a\0b", "a\nb", "a\tb", "\u{7f}", "\u{85}"] {
            assert!(single_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn free_text_keeps_tabs_and_line_breaks_but_not_nul() {
        assert!(multi_line("line one\r\n\tline two").is_ok());
        assert!(multi_line("a\0b").is_err());
        assert!(multi_line("bell\u{7}").is_err());
    }

    #[test]
    fn nul_is_found_in_nested_json_values_and_keys() {
        let mut v = Violations::default();
        check_json(
            &mut v,
            "/trustedMetadata",
            &json!({"ok": "fine\n", "deep": [{"x": "a\u{0}"}], "k\u{0}": 1, "a/b": "\u{0}"}),
        );
        let pointers: Vec<_> = v.into_invalid().0.into_iter().map(|e| e.pointer).collect();
        assert_eq!(
            pointers,
            [
                "/trustedMetadata/a~1b",
                "/trustedMetadata/deep/0/x",
                "/trustedMetadata/k\u{0}"
            ]
        );
    }
}
