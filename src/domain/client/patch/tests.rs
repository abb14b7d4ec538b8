//! JSON Patch on the client document: which fields a patch may touch, that its operations
//! apply in order and all or nothing, and the limits on what a patch may be and build.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::domain::client::CreateClient;
use crate::domain::time::Timestamp;

mod rules;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// A confidential client of tenant `acme`, as the HTTP tests' `web_client` makes it.
fn web_client() -> Client {
    let request: CreateClient = serde_json::from_value(json!({
        "id": "portal", "name": "Portal", "app_type": "regular_web", "description": "before",
        "callbacks": ["https://portal.example/cb", "https://portal.example/cb2"],
        "allowed_logout_urls": ["https://portal.example/bye"],
        "web_origins": ["https://portal.example"],
    }))
    .unwrap();
    request
        .into_client(TenantId::parse("acme").unwrap(), now())
        .unwrap()
}

fn parse(operations: Value) -> ClientPatch {
    ClientPatch::parse(operations.clone()).unwrap_or_else(|e| panic!("{operations}: {e}"))
}

/// `operations` applied to `web_client()`.
fn apply(operations: Value) -> Result<Client, PatchError> {
    parse(operations).apply(&web_client())
}

/// The pointer and message of each rule a refused patch broke.
fn broken(result: Result<Client, PatchError>) -> Vec<(String, String)> {
    match result {
        Err(PatchError::Invalid(Invalid(errors))) => {
            errors.into_iter().map(|e| (e.pointer, e.message)).collect()
        }
        other => panic!("expected broken rules, got {other:?}"),
    }
}

fn broken_pointers(result: Result<Client, PatchError>) -> Vec<String> {
    broken(result)
        .into_iter()
        .map(|(pointer, _)| pointer)
        .collect()
}

#[test]
fn a_patch_changes_patchable_fields_and_nothing_that_only_clientd_sets() {
    let before = web_client();
    let patched = apply(json!([
        {"op": "replace", "path": "/strongAuthSupported", "value": true},
        {"op": "replace", "path": "/businessName", "value": "acme-solar"},
    ]))
    .unwrap();
    let mut expected = before.clone();
    expected.settings.strong_auth_supported = true;
    expected.settings.business_name = Some("acme-solar".to_owned());
    // `modified` is stamped by the decision to write, not by the patch.
    assert_eq!(patched, expected);
}

#[test]
fn all_six_operations_apply_in_order() {
    let patched = apply(json!([
        {"op": "test", "path": "/name", "value": "Portal"},
        {"op": "add", "path": "/redirectUris/-", "value": "https://portal.example/cb3"},
        {"op": "remove", "path": "/redirectUris/0"},
        {"op": "replace", "path": "/name", "value": "Portal 2"},
        {"op": "move", "from": "/allowedWebOrigins/0", "path": "/allowedCorsOrigins/-"},
        {"op": "copy", "from": "/redirectUris/0", "path": "/allowedLogoutUrls/-"},
        {"op": "add", "path": "/trustedMetadata/team", "value": "platform"},
    ]))
    .unwrap()
    .settings;
    assert_eq!(patched.name, "Portal 2");
    assert_eq!(
        patched.redirect_uris,
        ["https://portal.example/cb2", "https://portal.example/cb3"]
    );
    assert!(patched.allowed_web_origins.is_empty());
    assert_eq!(patched.allowed_cors_origins, ["https://portal.example"]);
    assert_eq!(
        patched.allowed_logout_urls,
        ["https://portal.example/bye", "https://portal.example/cb2"]
    );
    assert_eq!(
        patched.trusted_metadata,
        json!({"team": "platform"}).as_object().unwrap().clone()
    );
}

#[test]
fn a_change_to_a_read_only_field_is_refused_naming_it() {
    for (operation, named) in [
        (json!({"op": "replace", "path": "/id", "value": "x"}), "/id"),
        (
            json!({"op": "replace", "path": "/type", "value": "PUBLIC"}),
            "/type",
        ),
        (
            json!({"op": "replace", "path": "/appType", "value": "spa"}),
            "/appType",
        ),
        (
            json!({"op": "replace", "path": "/created", "value": "2020-01-01T00:00:00.000Z"}),
            "/created",
        ),
        (
            json!({"op": "replace", "path": "/modified", "value": "2020-01-01T00:00:00.000Z"}),
            "/modified",
        ),
        (
            json!({"op": "replace", "path": "/lastUsed", "value": null}),
            "/lastUsed",
        ),
        (
            json!({"op": "add", "path": "/secret", "value": "mine"}),
            "/secret",
        ),
        (
            json!({"op": "add", "path": "/callbackUrls/-", "value": "https://x.example/cb"}),
            "/callbackUrls/-",
        ),
        (
            json!({"op": "replace", "path": "/internal", "value": true}),
            "/internal",
        ),
        (
            json!({"op": "remove", "path": "/manuallyCreated"}),
            "/manuallyCreated",
        ),
        (
            json!({"op": "add", "path": "/isAdmin", "value": true}),
            "/isAdmin",
        ),
        // `move` and `copy` may not read a read-only field either: it would leave or show it.
        (json!({"op": "move", "from": "/id", "path": "/name"}), "/id"),
        (
            json!({"op": "copy", "from": "/created", "path": "/description"}),
            "/created",
        ),
        (
            json!({"op": "move", "from": "/name", "path": "/manuallyCreated"}),
            "/manuallyCreated",
        ),
        (
            json!({"op": "replace", "path": "", "value": {}}),
            "the whole document",
        ),
    ] {
        let refused = ClientPatch::parse(json!([operation])).unwrap_err();
        assert!(
            matches!(&refused, PatchError::ReadOnly { index: 0, path } if path == named),
            "{operation}: {refused:?}"
        );
        let message = refused.to_string();
        assert!(
            message.starts_with(&format!(
                "operation 0: {named} cannot be changed by a patch"
            )),
            "{message}"
        );
        assert!(
            message.contains("tenant, name, description"),
            "the patchable fields are listed: {message}"
        );
    }
}

#[test]
fn a_read_only_target_is_refused_at_its_place_in_the_patch() {
    let refused = ClientPatch::parse(json!([
        {"op": "replace", "path": "/name", "value": "x"},
        {"op": "test", "path": "/id", "value": "x"},
        {"op": "replace", "path": "/appType", "value": "spa"},
    ]))
    .unwrap_err();
    assert!(
        matches!(&refused, PatchError::ReadOnly { index: 2, path } if path == "/appType"),
        "{refused:?}"
    );
}

#[test]
fn a_test_may_read_read_only_fields() {
    let patched = apply(json!([
        {"op": "test", "path": "/type", "value": "CONFIDENTIAL"},
        {"op": "test", "path": "/tenant", "value": "acme"},
        {"op": "replace", "path": "/name", "value": "Checked"},
    ]))
    .unwrap();
    assert_eq!(patched.settings.name, "Checked");
}

#[test]
fn a_failed_test_refuses_the_whole_patch_naming_its_operation() {
    let client = web_client();
    let patch = parse(json!([
        {"op": "replace", "path": "/name", "value": "Changed"},
        {"op": "test", "path": "/description", "value": "something else"},
    ]));
    let refused = patch.apply(&client).unwrap_err();
    assert!(
        matches!(&refused, PatchError::TestFailed { index: 1, path } if path == "/description"),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "operation 1: the test of /description failed: the client holds another value"
    );
    // The patch works on a copy: the rename before the failed test is not kept anywhere.
    assert_eq!(client, web_client());
}

#[test]
fn an_operation_on_a_location_the_client_lacks_is_not_applicable() {
    for (operation, path, reason) in [
        (
            json!({"op": "remove", "path": "/redirectUris/7"}),
            "/redirectUris/7",
            "does not exist in the client",
        ),
        (
            json!({"op": "replace", "path": "/redirectUris/2", "value": "https://x.example/cb"}),
            "/redirectUris/2",
            "does not exist in the client",
        ),
        (
            json!({"op": "remove", "path": "/mobile/ios"}),
            "/mobile/ios",
            "does not exist in the client",
        ),
        (
            json!({"op": "move", "from": "/owners/3", "path": "/owners/-"}),
            // The failure names the operation's path, not its from.
            "/owners/-",
            "takes from a location that does not exist in the client",
        ),
    ] {
        let refused = apply(json!([operation])).unwrap_err();
        assert!(
            matches!(&refused, PatchError::NotApplicable { index: 0, path: at, reason: why } if at == path && *why == reason),
            "{operation}: {refused:?}"
        );
    }
}

#[test]
fn a_value_cannot_be_copied_or_moved_into_itself() {
    for op in ["copy", "move"] {
        let refused = apply(json!([
            {"op": "add", "path": "/trustedMetadata/a", "value": {"b": 1}},
            {"op": op, "from": "/trustedMetadata", "path": "/trustedMetadata/a/c"},
        ]))
        .unwrap_err();
        let message = refused.to_string();
        assert!(
            matches!(&refused, PatchError::NotApplicable { index: 1, path, .. } if path == "/trustedMetadata/a/c"),
            "{op}: {refused:?}"
        );
        assert!(
            message.contains("cannot be copied or moved into itself"),
            "{message}"
        );
    }
}

#[test]
fn a_patch_is_an_array_of_at_most_100_operations() {
    let test = json!({"op": "test", "path": "/name", "value": "Portal"});
    assert!(ClientPatch::parse(Value::Array(vec![test.clone(); MAX_OPERATIONS])).is_ok());
    let too_many =
        ClientPatch::parse(Value::Array(vec![test.clone(); MAX_OPERATIONS + 1])).unwrap_err();
    assert!(
        matches!(&too_many, PatchError::Malformed(why) if why == "a patch may hold at most 100 operations; this one has 101"),
        "{too_many:?}"
    );
    let not_an_array = ClientPatch::parse(test).unwrap_err();
    assert!(
        matches!(&not_an_array, PatchError::Malformed(why) if why.starts_with("a JSON Patch is an array of operations")),
        "{not_an_array:?}"
    );
}

#[test]
fn an_operation_that_is_not_rfc_6902_is_malformed_naming_its_place() {
    for operation in [
        json!("not an op"),
        json!({"op": "rename", "path": "/name", "value": "x"}),
        json!({"op": "replace", "value": "x"}),
        json!({"op": "add", "path": "/name"}),
        json!({"op": "move", "path": "/name"}),
        json!({"op": "replace", "path": "name", "value": "x"}),
    ] {
        let refused = ClientPatch::parse(
            json!([{"op": "test", "path": "/name", "value": "Portal"}, operation]),
        )
        .unwrap_err();
        assert!(
            matches!(&refused, PatchError::Malformed(why) if why.starts_with("operation 1 is not an RFC 6902 operation")),
            "{operation}: {refused:?}"
        );
    }
}

#[test]
fn nul_is_refused_in_values_paths_and_froms_even_where_a_later_operation_would_remove_it() {
    // The audit trail keeps the patch as sent, and Postgres cannot hold NUL.
    let refused = ClientPatch::parse(json!([
        {"op": "add", "path": "/trustedMetadata/a", "value": {"list": ["ok", "n\u{0}l"]}},
        {"op": "add", "path": "/trustedMetadata/b\u{0}", "value": 1},
        {"op": "copy", "from": "/trustedMetadata/b\u{0}", "path": "/trustedMetadata/c"},
        {"op": "test", "path": "/name", "value": "\u{0}"},
        {"op": "remove", "path": "/trustedMetadata/a"},
    ]))
    .unwrap_err();
    // Parsing stops at the first operation that holds one.
    let pointers: Vec<String> = match refused {
        PatchError::Invalid(Invalid(errors)) => errors.into_iter().map(|e| e.pointer).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(pointers, ["/0/value/list/1"]);
    for (operation, pointer) in [
        (
            json!({"op": "add", "path": "/trustedMetadata/b\u{0}", "value": 1}),
            "/0/path",
        ),
        (
            json!({"op": "copy", "from": "/trustedMetadata/b\u{0}", "path": "/trustedMetadata/c"}),
            "/0/from",
        ),
        (
            json!({"op": "test", "path": "/name", "value": "\u{0}"}),
            "/0/value",
        ),
    ] {
        let refused = ClientPatch::parse(json!([operation])).unwrap_err();
        assert!(
            matches!(&refused, PatchError::Invalid(Invalid(errors)) if errors.len() == 1 && errors[0].pointer == pointer),
            "{operation}: {refused:?}"
        );
    }
}

#[test]
fn a_patch_cannot_build_a_document_larger_than_clientd_stores() {
    // Each copy doubles what it copies: the patch stops at the operation that would cross
    // the limit, before any rule sees the result.
    let refused = apply(json!([
        {"op": "add", "path": "/trustedMetadata/a", "value": "x".repeat(40_000)},
        {"op": "copy", "from": "/trustedMetadata/a", "path": "/trustedMetadata/b"},
        {"op": "copy", "from": "/trustedMetadata/b", "path": "/trustedMetadata/c"},
        {"op": "copy", "from": "/trustedMetadata/c", "path": "/trustedMetadata/d"},
        {"op": "copy", "from": "/trustedMetadata/d", "path": "/trustedMetadata/e"},
    ]));
    let expected = [(
        "/trustedMetadata/d".to_owned(),
        "operation 3 would make the client larger than 131072 bytes of JSON".to_owned(),
    )];
    assert_eq!(broken(refused), expected);
}

#[test]
fn a_patch_that_shrinks_what_it_grew_stays_within_the_limit_as_it_goes() {
    let patched = apply(json!([
        {"op": "add", "path": "/trustedMetadata/a", "value": "x".repeat(100_000)},
        {"op": "remove", "path": "/trustedMetadata/a"},
        {"op": "add", "path": "/trustedMetadata/b", "value": "x".repeat(100_000)},
        {"op": "replace", "path": "/trustedMetadata/b", "value": "small"},
    ]));
    assert_eq!(patched.unwrap().settings.trusted_metadata["b"], "small");
}

#[test]
fn an_empty_patch_changes_nothing() {
    let patch = parse(json!([]));
    assert!(patch.is_empty());
    assert_eq!(patch.apply(&web_client()).unwrap(), web_client());
}

#[test]
fn a_patch_reads_back_as_it_was_sent_for_the_audit_trail() {
    let operations = json!([
        {"op": "replace", "path": "/name", "value": "x"},
        {"op": "move", "from": "/owners/0", "path": "/owners/-"},
    ]);
    assert_eq!(parse(operations.clone()).to_value(), operations);
}
