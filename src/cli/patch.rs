//! `clients patch` shorthands as JSON Patch operations.

use serde_json::{Value, json};

use super::api::Failure;

/// The operations of `--set`, `--add` and `--remove`, in that order.
pub fn from_shorthands(
    set: &[String],
    add: &[String],
    remove: &[String],
) -> Result<Value, Failure> {
    let mut operations = Vec::new();
    for text in set {
        let (path, value) = assignment("--set", text)?;
        // `add` sets an object member whether it exists or not; a list item is replaced.
        let is_index = path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.parse::<usize>().is_ok());
        let op = if is_index { "replace" } else { "add" };
        operations.push(json!({"op": op, "path": path, "value": value}));
    }
    for text in add {
        let (path, value) = assignment("--add", text)?;
        operations.push(json!({"op": "add", "path": format!("{path}/-"), "value": value}));
    }
    for field in remove {
        operations.push(json!({"op": "remove", "path": pointer("--remove", field)?}));
    }
    Ok(Value::Array(operations))
}

/// FIELD=VALUE as a pointer and a value: JSON when VALUE parses as JSON, else text.
fn assignment(flag: &str, text: &str) -> Result<(String, Value), Failure> {
    let Some((field, value)) = text.split_once('=') else {
        return Err(Failure::Usage(format!(
            "{flag} {text}: write FIELD=VALUE, like {flag} enabled=false"
        )));
    };
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((pointer(flag, field)?, value))
}

/// A field of the document as a JSON Pointer: `enabled`, `/enabled` and `mobile/ios` work.
fn pointer(flag: &str, field: &str) -> Result<String, Failure> {
    let field = field.trim_start_matches('/');
    if field.is_empty() {
        return Err(Failure::Usage(format!(
            "{flag}: name a field, like redirectUris"
        )));
    }
    Ok(format!("/{field}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn shorthands_become_operations_with_json_or_text_values() {
        let patch = from_shorthands(
            &strings(&[
                "enabled=false",
                "name=Portal=2",
                "redirectUris/0=https://a.example",
                "n=\"1\"",
            ]),
            &strings(&["/owners=bob@acme.example"]),
            &strings(&["logoUrl"]),
        )
        .unwrap();
        assert_eq!(
            patch,
            json!([
                {"op": "add", "path": "/enabled", "value": false},
                {"op": "add", "path": "/name", "value": "Portal=2"},
                {"op": "replace", "path": "/redirectUris/0", "value": "https://a.example"},
                {"op": "add", "path": "/n", "value": "1"},
                {"op": "add", "path": "/owners/-", "value": "bob@acme.example"},
                {"op": "remove", "path": "/logoUrl"},
            ])
        );
    }

    #[test]
    fn a_shorthand_without_a_field_or_value_is_a_usage_error() {
        for (set, remove) in [
            (vec!["enabled"], vec![]),
            (vec!["=1"], vec![]),
            (vec![], vec!["/"]),
        ] {
            let result = from_shorthands(&strings(&set), &[], &strings(&remove));
            assert!(
                matches!(result, Err(Failure::Usage(_))),
                "{set:?} {remove:?}"
            );
        }
    }
}
