//! The rules a patched client must still keep, checked on the result of every patch, each
//! broken one reported at its field; and how the fields read what a patch sets.

use super::*;

/// `operations` applied to a client of `app_type`.
fn apply_to(app_type: &str, operations: Value) -> Result<Client, PatchError> {
    let request: CreateClient =
        serde_json::from_value(json!({"name": "App", "app_type": app_type})).unwrap();
    let client = request
        .into_client(TenantId::parse("acme").unwrap(), now())
        .unwrap();
    parse(operations).apply(&client)
}

/// A patch written as JSON text, so numbers keep the spelling the test gives them.
fn apply_text(text: &str) -> Result<Client, PatchError> {
    apply(serde_json::from_str(text).unwrap())
}

fn replace(path: &str, value: Value) -> Value {
    json!([{"op": "replace", "path": path, "value": value}])
}

#[test]
fn a_result_that_breaks_rules_is_refused_with_every_broken_field() {
    let refused = apply(json!([
        {"op": "replace", "path": "/clientAuthMethod", "value": "none"},
        {"op": "add", "path": "/redirectUris/-", "value": "https://x.example/cb#frag"},
        {"op": "replace", "path": "/isRefreshTokenRotationEnabled", "value": true},
    ]));
    let expected = [
        ("/redirectUris/2", "must not have a fragment (#...)"),
        (
            "/clientAuthMethod",
            "none is only for PUBLIC clients; a CONFIDENTIAL client must authenticate",
        ),
        (
            "/isRefreshTokenRotationEnabled",
            "rotating refresh tokens needs isRefreshTokenAbsoluteExpirationEnabled: true",
        ),
    ]
    .map(|(pointer, message)| (pointer.to_owned(), message.to_owned()));
    assert_eq!(broken(refused), expected);
}

#[test]
fn a_public_client_cannot_be_given_a_way_to_authenticate() {
    for app_type in ["spa", "native"] {
        let refused = apply_to(
            app_type,
            replace("/clientAuthMethod", json!("client_secret_basic")),
        );
        assert_eq!(
            broken_pointers(refused),
            ["/clientAuthMethod"],
            "{app_type}"
        );
    }
}

#[test]
fn a_public_client_cannot_gain_client_credentials() {
    let refused = apply_to(
        "spa",
        json!([{"op": "add", "path": "/grantTypes/-", "value": "CLIENT_CREDENTIALS"}]),
    );
    let expected = [(
        "/grantTypes/2".to_owned(),
        "a PUBLIC client (spa, native) cannot use client_credentials".to_owned(),
    )];
    assert_eq!(broken(refused), expected);
}

#[test]
fn grant_types_are_at_least_one_and_each_once() {
    assert_eq!(
        broken_pointers(apply(replace("/grantTypes", json!([])))),
        ["/grantTypes"]
    );
    let twice = replace("/grantTypes", json!(["refresh_token", "REFRESH_TOKEN"]));
    assert_eq!(broken_pointers(apply(twice)), ["/grantTypes/1"]);
}

#[test]
fn sailpoint_grant_type_names_are_read_as_rfc_names() {
    let patched = apply(json!([
        {"op": "replace", "path": "/grantTypes", "value": ["CLIENT_CREDENTIALS", "REFRESH_TOKEN"]},
        {"op": "replace", "path": "/accessType", "value": "ONLINE"},
    ]))
    .unwrap();
    let document = patched.document_value();
    assert_eq!(
        document["grantTypes"],
        json!(["client_credentials", "refresh_token"])
    );
}

#[test]
fn inactivity_may_not_outlive_the_absolute_lifetime_when_both_are_enabled() {
    let both = |inactivity: i64| {
        apply(json!([
            {"op": "replace", "path": "/isRefreshTokenAbsoluteExpirationEnabled", "value": true},
            {"op": "replace", "path": "/isRefreshTokenInactivityLifetimeEnabled", "value": true},
            {"op": "replace", "path": "/refreshTokenAbsoluteLifetime", "value": 86_400},
            {"op": "replace", "path": "/refreshTokenInactivityLifetime", "value": inactivity},
        ]))
    };
    let expected = [(
        "/refreshTokenInactivityLifetime".to_owned(),
        "must not exceed refreshTokenAbsoluteLifetime when both are enabled".to_owned(),
    )];
    assert_eq!(broken(both(86_401)), expected);
    assert!(both(86_400).is_ok());
}

#[test]
fn a_longer_inactivity_lifetime_is_no_matter_while_either_limit_is_off() {
    for (absolute, inactivity) in [(true, false), (false, true)] {
        let patched = apply(json!([
            {"op": "replace", "path": "/isRefreshTokenAbsoluteExpirationEnabled", "value": absolute},
            {"op": "replace", "path": "/isRefreshTokenInactivityLifetimeEnabled", "value": inactivity},
            {"op": "replace", "path": "/refreshTokenAbsoluteLifetime", "value": 60},
            {"op": "replace", "path": "/refreshTokenInactivityLifetime", "value": 3_600},
        ]));
        assert!(patched.is_ok(), "{absolute} {inactivity}: {patched:?}");
    }
}

#[test]
fn rotating_refresh_tokens_needs_their_absolute_expiration() {
    let patched = apply(json!([
        {"op": "replace", "path": "/isRefreshTokenRotationEnabled", "value": true},
        {"op": "replace", "path": "/isRefreshTokenAbsoluteExpirationEnabled", "value": true},
    ]));
    assert!(patched.unwrap().settings.is_refresh_token_rotation_enabled);
}

#[test]
fn lifetimes_are_whole_seconds_from_1_to_the_largest_32_bit_integer() {
    for field in [
        "/accessTokenValiditySeconds",
        "/refreshTokenValiditySeconds",
        "/idTokenExpiration",
        "/refreshTokenAbsoluteLifetime",
        "/refreshTokenInactivityLifetime",
    ] {
        assert!(apply(replace(field, json!(1))).is_ok(), "{field}");
        assert!(apply(replace(field, json!(i32::MAX))).is_ok(), "{field}");
        for bad in [0, -1, i64::from(i32::MAX) + 1] {
            let expected = [(
                field.to_owned(),
                "must be a whole number of seconds from 1 to 2147483647".to_owned(),
            )];
            assert_eq!(
                broken(apply(replace(field, json!(bad)))),
                expected,
                "{field} {bad}"
            );
        }
    }
}

#[test]
fn the_reuse_interval_may_be_zero_but_not_negative() {
    let field = "/refreshTokenReuseInterval";
    assert!(apply(replace(field, json!(0))).is_ok());
    let expected = [(
        field.to_owned(),
        "must be a whole number of seconds from 0 to 2147483647".to_owned(),
    )];
    assert_eq!(broken(apply(replace(field, json!(-1)))), expected);
}

#[test]
fn integer_fields_take_any_integer_valued_number_and_keep_the_integer() {
    let patched = apply_text(
        r#"[
            {"op": "replace", "path": "/accessTokenValiditySeconds", "value": 1e3},
            {"op": "replace", "path": "/idTokenExpiration", "value": 7200.0},
            {"op": "replace", "path": "/refreshTokenReuseInterval", "value": -0.0}
        ]"#,
    )
    .unwrap();
    let document = patched.document_value();
    for (field, want) in [
        ("accessTokenValiditySeconds", 1000),
        ("idTokenExpiration", 7200),
        ("refreshTokenReuseInterval", 0),
    ] {
        assert!(document[field].is_u64(), "{field} is {}", document[field]);
        assert_eq!(document[field], want, "{field}");
    }
}

#[test]
fn integer_fields_refuse_fractions_strings_out_of_range_and_null_naming_the_field() {
    for (value, says) in [
        (
            "3600.5",
            "expected an integer (a number without a fractional part)",
        ),
        (
            r#""3600""#,
            "invalid type: string \"3600\", expected an integer",
        ),
        (
            "1e300",
            "expected an integer from -9223372036854775808 to 9223372036854775807",
        ),
        ("9007199254740993.0", "write it as plain digits"),
        ("null", "invalid type: null, expected an integer"),
    ] {
        let text = format!(
            r#"[{{"op": "replace", "path": "/accessTokenValiditySeconds", "value": {value}}}]"#
        );
        let errors = broken(apply_text(&text));
        assert_eq!(errors.len(), 1, "{value}: {errors:?}");
        assert_eq!(errors[0].0, "/accessTokenValiditySeconds", "{value}");
        assert!(errors[0].1.contains(says), "{value}: {}", errors[0].1);
    }
}

#[test]
fn a_required_field_cannot_be_removed() {
    let expected = [("/name".to_owned(), "is required".to_owned())];
    assert_eq!(
        broken(apply(json!([{"op": "remove", "path": "/name"}]))),
        expected
    );
}

#[test]
fn a_value_of_the_wrong_shape_is_refused_at_its_place() {
    let unknown = json!([{"op": "add", "path": "/mobile", "value": {"ios": {"team": "x"}}}]);
    assert_eq!(broken_pointers(apply(unknown)), ["/mobile/ios/team"]);
    assert_eq!(
        broken_pointers(apply(replace("/accessType", json!("SOMETIMES")))),
        ["/accessType"]
    );
}

#[test]
fn nullable_fields_may_be_removed_or_nulled() {
    let patched = apply(json!([
        {"op": "remove", "path": "/description"},
        {"op": "replace", "path": "/redirectUris", "value": null},
    ]))
    .unwrap();
    assert_eq!(patched.settings.description, None);
    assert!(patched.settings.redirect_uris.is_empty());
}

#[test]
fn a_list_holds_at_most_100_entries() {
    let owners: Vec<String> = (0..101).map(|i| format!("owner-{i}")).collect();
    let expected = [(
        "/owners".to_owned(),
        "may hold at most 100 entries".to_owned(),
    )];
    assert_eq!(broken(apply(replace("/owners", json!(owners)))), expected);
    assert!(apply(replace("/owners", json!(owners[..100]))).is_ok());
}

#[test]
fn trusted_metadata_holds_at_most_4096_bytes_of_json() {
    // {"k":"..."} is 8 bytes around the value.
    assert!(apply(replace("/trustedMetadata", json!({"k": "x".repeat(4_088)}))).is_ok());
    let expected = [(
        "/trustedMetadata".to_owned(),
        "must be at most 4096 bytes of JSON".to_owned(),
    )];
    assert_eq!(
        broken(apply(replace(
            "/trustedMetadata",
            json!({"k": "x".repeat(4_089)})
        ))),
        expected
    );
}

#[test]
fn a_negative_zero_in_trusted_metadata_is_kept_as_zero() {
    let patched = apply_text(r#"[{"op": "add", "path": "/trustedMetadata/zeros", "value": [-0.0, {"nested": -0.0}, 0, -1.5]}]"#)
        .unwrap();
    let zeros = serde_json::to_string(&patched.settings.trusted_metadata["zeros"]).unwrap();
    assert_eq!(zeros, r#"[0.0,{"nested":0.0},0,-1.5]"#);
}
