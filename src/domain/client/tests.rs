//! The decision on a patch, under the client's lock: who may patch, `If-Match`, moves between
//! tenants, when nothing is written, and the credential an authentication method needs.

use chrono::{TimeDelta, TimeZone, Utc};

use super::*;
use crate::domain::FieldError;
use crate::domain::credential::CreateCredential;
use crate::domain::token::Permission;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

/// A confidential client of tenant `acme`, made an hour ago.
fn web_client() -> Client {
    let request: CreateClient = serde_json::from_value(
        serde_json::json!({"id": "portal", "name": "Portal", "app_type": "regular_web"}),
    )
    .unwrap();
    request
        .into_client(tenant("acme"), now() - TimeDelta::hours(1))
        .unwrap()
}

fn patch(operations: Value) -> ClientPatch {
    ClientPatch::parse(operations).unwrap()
}

fn rename() -> ClientPatch {
    patch(serde_json::json!([{"op": "replace", "path": "/name", "value": "Renamed"}]))
}

fn writer_of(tenants: &[&str]) -> Grants {
    Grants::new(
        vec![Permission::ClientWrite],
        tenants.iter().map(|t| tenant(t)).collect(),
    )
}

fn decide(patch: &ClientPatch, grants: &Grants) -> Result<Option<Client>, Refusal> {
    decide_patch(&web_client(), None, patch, grants, None, now())
}

fn key(expires_at: Option<Timestamp>) -> Credential {
    let pem = crate::domain::test_keys::RSA_A;
    let request: CreateCredential = serde_json::from_value(
        serde_json::json!({"credential_type": "public_key", "pem": pem, "expires_at": expires_at}),
    )
    .unwrap();
    request.into_credential(now() - TimeDelta::days(1)).unwrap()
}

#[test]
fn a_patch_that_changes_the_client_stamps_it_modified_now() {
    let patched = decide(&rename(), &Grants::everything()).unwrap().unwrap();
    let mut expected = web_client();
    expected.settings.name = "Renamed".to_owned();
    expected.modified = now();
    assert_eq!(patched, expected);
    assert_ne!(patched.etag(), web_client().etag());
}

#[test]
fn a_patch_that_changes_nothing_writes_nothing() {
    let same_name =
        patch(serde_json::json!([{"op": "replace", "path": "/name", "value": "Portal"}]));
    // The same number spelt as a double is the same client.
    let same_number: Value = serde_json::from_str(
        r#"[{"op": "replace", "path": "/accessTokenValiditySeconds", "value": 3600.0}]"#,
    )
    .unwrap();
    for unchanged in [patch(serde_json::json!([])), same_name, patch(same_number)] {
        assert!(matches!(
            decide(&unchanged, &Grants::everything()),
            Ok(None)
        ));
    }
}

#[test]
fn if_match_must_name_the_current_version() {
    let client = web_client();
    let etag = client.etag();
    let decide_if = |tags: &[String]| {
        decide_patch(
            &client,
            None,
            &rename(),
            &Grants::everything(),
            Some(tags),
            now(),
        )
    };
    for passes in [
        vec![etag.clone()],
        vec!["*".to_owned()],
        vec!["\"old\"".to_owned(), etag.clone()],
    ] {
        assert!(matches!(decide_if(&passes), Ok(Some(_))), "{passes:?}");
    }
    let stale = decide_if(&["\"000000000000000000000000\"".to_owned()]);
    assert!(matches!(stale, Err(Refusal::Stale)), "{stale:?}");
}

#[test]
fn an_etag_is_a_quoted_24_digit_hex_digest_of_the_document() {
    let etag = web_client().etag();
    let digits = etag
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap();
    assert_eq!(digits.len(), 24, "{etag}");
    assert!(
        digits
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{etag}"
    );
    assert_eq!(etag, web_client().etag());
}

#[test]
fn a_caller_who_may_only_read_cannot_patch() {
    let reader = Grants::new(vec![Permission::ClientRead], vec![tenant("acme")]);
    let refused = decide(&rename(), &reader);
    assert!(matches!(refused, Err(Refusal::Forbidden(_))), "{refused:?}");
}

#[test]
fn a_caller_of_another_tenant_is_told_the_client_does_not_exist_before_anything_else() {
    // Not even a stale If-Match tells an outsider that the client is there.
    let stale = ["\"000000000000000000000000\"".to_owned()];
    let refused = decide_patch(
        &web_client(),
        None,
        &rename(),
        &writer_of(&["other"]),
        Some(&stale),
        now(),
    );
    assert!(matches!(refused, Err(Refusal::Hidden)), "{refused:?}");
}

#[test]
fn a_client_moves_to_another_tenant_only_for_a_caller_who_may_write_both() {
    let move_to =
        |to: &str| patch(serde_json::json!([{"op": "replace", "path": "/tenant", "value": to}]));
    let refused = decide(&move_to("other"), &writer_of(&["acme"]));
    assert!(
        matches!(refused, Err(Refusal::Forbidden(why)) if why == "moving a client needs write permission on both tenants"),
        "{refused:?}"
    );
    let moved = decide(&move_to("other"), &writer_of(&["acme", "other"]))
        .unwrap()
        .unwrap();
    assert_eq!((moved.tenant, moved.modified), (tenant("other"), now()));
    // A tenant that does not exist is the store's to find; the domain checks only the id.
    let refused = decide(&move_to("Not A Tenant"), &Grants::everything());
    assert!(matches!(refused, Err(Refusal::Invalid(_))), "{refused:?}");
}

#[test]
fn a_patch_whose_result_breaks_a_rule_is_refused_as_the_patchs_fault() {
    let none =
        patch(serde_json::json!([{"op": "replace", "path": "/clientAuthMethod", "value": "none"}]));
    let refused = decide(&none, &Grants::everything());
    assert!(matches!(refused, Err(Refusal::Invalid(_))), "{refused:?}");
}

#[test]
fn a_new_auth_method_is_decided_only_once_the_credentials_are_read() {
    let to_jwt = patch(
        serde_json::json!([{"op": "replace", "path": "/clientAuthMethod", "value": "private_key_jwt"}]),
    );
    let refused = decide(&to_jwt, &Grants::everything());
    assert!(
        matches!(refused, Err(Refusal::NeedsCredentials)),
        "{refused:?}"
    );
}

#[test]
fn a_new_auth_method_needs_a_live_credential_of_its_kind() {
    let to_jwt = patch(
        serde_json::json!([{"op": "replace", "path": "/clientAuthMethod", "value": "private_key_jwt"}]),
    );
    let decide_with = |credentials: &[Credential]| {
        decide_patch(
            &web_client(),
            Some(credentials),
            &to_jwt,
            &Grants::everything(),
            None,
            now(),
        )
    };
    let message = "needs at least one live public_key or x509_cert credential: add it first, then change clientAuthMethod";
    for credentials in [vec![], vec![key(Some(now()))]] {
        let refused = decide_with(&credentials);
        assert!(
            matches!(&refused, Err(Refusal::Invalid(Invalid(errors)))
                if errors == &[FieldError::new("/clientAuthMethod", message)]),
            "{refused:?}"
        );
    }
    for live in [key(None), key(Some(now() + TimeDelta::seconds(1)))] {
        let patched = decide_with(&[live]).unwrap().unwrap();
        assert_eq!(
            patched.settings.client_auth_method,
            ClientAuthMethod::PrivateKeyJwt
        );
    }
}

#[test]
fn each_auth_method_names_the_credential_it_needs() {
    use crate::domain::credential::CredentialType;
    for (method, needs) in [
        (ClientAuthMethod::None, None),
        (ClientAuthMethod::ClientSecretBasic, None),
        (ClientAuthMethod::ClientSecretPost, None),
        (ClientAuthMethod::ClientSecretJwt, None),
        (
            ClientAuthMethod::PrivateKeyJwt,
            Some(CredentialType::PublicKey),
        ),
        (
            ClientAuthMethod::TlsClientAuth,
            Some(CredentialType::CertSubjectDn),
        ),
        (
            ClientAuthMethod::SelfSignedTlsClientAuth,
            Some(CredentialType::X509Cert),
        ),
    ] {
        assert_eq!(method.needs(), needs, "{method:?}");
    }
}

#[test]
fn a_patch_that_keeps_the_auth_method_does_not_read_the_credentials() {
    let mut client = web_client();
    client.settings.client_auth_method = ClientAuthMethod::PrivateKeyJwt;
    let patched = decide_patch(&client, None, &rename(), &Grants::everything(), None, now());
    assert!(matches!(patched, Ok(Some(_))), "{patched:?}");
}
