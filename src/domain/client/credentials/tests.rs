//! Decisions on a client's credentials under its lock: the per-client limit, one key once, an
//! expiry that stays in the future and within the certificate, and never removing the last
//! live credential the client's authentication method needs.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::domain::Invalid;
use crate::domain::client::{ClientAuthMethod, CreateClient};
use crate::domain::credential::CreateCredential;
use crate::domain::tenant::TenantId;
use crate::domain::token::Permission;

use crate::domain::test_keys::{CERT, RSA_A, RSA_A_PKCS1, RSA_B};

const MOST: usize = 2;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn client(method: ClientAuthMethod) -> Client {
    let request: CreateClient =
        serde_json::from_value(json!({"name": "Billing job", "app_type": "non_interactive"}))
            .unwrap();
    let mut client = request.into_client(acme(), now()).unwrap();
    // As a patch would set it once the credential it needs is there.
    client.settings.client_auth_method = method;
    client
}

fn machine() -> Client {
    client(ClientAuthMethod::ClientSecretBasic)
}

fn credential(body: Value) -> Credential {
    let request: CreateCredential = serde_json::from_value(body).unwrap();
    request.into_credential(now() - TimeDelta::days(1)).unwrap()
}

fn key_a() -> Credential {
    credential(json!({"credential_type": "public_key", "pem": RSA_A}))
}

fn key_b() -> Credential {
    credential(json!({"credential_type": "public_key", "pem": RSA_B}))
}

fn certificate() -> Credential {
    credential(json!({"credential_type": "x509_cert", "pem": CERT}))
}

fn subject(dn: &str) -> Credential {
    credential(json!({"credential_type": "cert_subject_dn", "subject_dn": dn}))
}

fn expired(credential: Credential) -> Credential {
    Credential {
        expires_at: Some(now() - TimeDelta::hours(1)),
        ..credential
    }
}

fn everything() -> Grants {
    Grants::everything()
}

fn reader() -> Grants {
    Grants::new(vec![Permission::ClientRead], vec![acme()])
}

fn outsider() -> Grants {
    Grants::new(
        vec![Permission::ClientWrite],
        vec![TenantId::parse("other").unwrap()],
    )
}

fn conflict(result: Result<CredentialChange, Refusal>) -> String {
    match result {
        Err(Refusal::Conflict(why)) => why,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// The pointers and messages of a refusal for broken rules.
fn invalid(result: Result<CredentialChange, Refusal>) -> Vec<(String, String)> {
    match result {
        Err(Refusal::Invalid(Invalid(errors))) => {
            errors.into_iter().map(|e| (e.pointer, e.message)).collect()
        }
        other => panic!("expected broken rules, got {other:?}"),
    }
}

#[test]
fn a_credential_is_added_while_the_client_has_fewer_than_the_most_allowed() {
    let new = key_b();
    let added = decide_add(&machine(), &[key_a()], &new, &everything(), MOST);
    assert!(matches!(added, Ok(CredentialChange::Add(c)) if c == new));
}

#[test]
fn a_client_at_the_credential_limit_takes_no_more() {
    let existing = [key_a(), key_b()];
    let why = conflict(decide_add(
        &machine(),
        &existing,
        &certificate(),
        &everything(),
        MOST,
    ));
    assert_eq!(
        why,
        "this client already has 2 credentials, the most allowed (CLIENTD_MAX_CREDENTIALS_PER_CLIENT); delete one first"
    );
}

#[test]
fn the_limit_counts_expired_credentials_too() {
    // They are listed until deleted, so they hold their place.
    let existing = [expired(key_a()), expired(key_b())];
    let why = conflict(decide_add(
        &machine(),
        &existing,
        &certificate(),
        &everything(),
        MOST,
    ));
    assert!(why.contains("the most allowed"), "{why}");
}

#[test]
fn the_same_key_cannot_be_added_twice_in_any_form() {
    let existing = key_a();
    let pkcs1 = credential(json!({
        "credential_type": "public_key", "pem": RSA_A_PKCS1, "kid": "another-kid-1",
    }));
    let why = conflict(decide_add(
        &machine(),
        std::slice::from_ref(&existing),
        &pkcs1,
        &everything(),
        MOST,
    ));
    assert_eq!(
        why,
        format!(
            "this client already has this key, as credential {}",
            existing.id
        )
    );
}

#[test]
fn a_key_inside_a_certificate_is_the_same_key_as_it_bare() {
    // cert-valid.pem holds key b.
    let why = conflict(decide_add(
        &machine(),
        &[key_b()],
        &certificate(),
        &everything(),
        MOST,
    ));
    assert!(why.contains("already has this key"), "{why}");
}

#[test]
fn the_same_subject_dn_cannot_be_added_twice() {
    let existing = subject("CN=a.example");
    let why = conflict(decide_add(
        &machine(),
        &[existing],
        &subject("CN=a.example"),
        &everything(),
        MOST,
    ));
    assert!(why.contains("already has this key"), "{why}");
    let other = decide_add(
        &machine(),
        &[subject("CN=a.example")],
        &subject("CN=b.example"),
        &everything(),
        MOST,
    );
    assert!(matches!(other, Ok(CredentialChange::Add(_))));
}

#[test]
fn only_a_caller_who_may_write_the_tenant_changes_credentials() {
    let existing = [key_a()];
    let id = existing[0].id.clone();
    let later = Some(now() + TimeDelta::days(1));
    for (grants, hidden) in [(reader(), false), (outsider(), true)] {
        let results = [
            decide_add(&machine(), &existing, &key_b(), &grants, MOST),
            decide_expiry(&machine(), &existing, &id, later, &grants, now()),
            decide_remove(&machine(), &existing, &id, &grants, now()),
        ];
        for result in results {
            match (result, hidden) {
                (Err(Refusal::Hidden), true) | (Err(Refusal::Forbidden(_)), false) => {}
                (other, _) => panic!("{grants:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn an_unknown_credential_is_not_found() {
    let later = Some(now() + TimeDelta::days(1));
    let changed = decide_expiry(
        &machine(),
        &[key_a()],
        "cred_nope",
        later,
        &everything(),
        now(),
    );
    assert!(
        matches!(changed, Err(Refusal::NoSuchCredential)),
        "{changed:?}"
    );
    let removed = decide_remove(&machine(), &[key_a()], "cred_nope", &everything(), now());
    assert!(
        matches!(removed, Err(Refusal::NoSuchCredential)),
        "{removed:?}"
    );
}

#[test]
fn a_new_expiry_replaces_the_old_and_stamps_the_update() {
    let existing = key_a();
    let at = Some(now() + TimeDelta::days(90));
    let changed = decide_expiry(
        &machine(),
        std::slice::from_ref(&existing),
        &existing.id,
        at,
        &everything(),
        now(),
    );
    let expected = Credential {
        expires_at: at,
        updated_at: now(),
        ..existing
    };
    assert!(matches!(changed, Ok(CredentialChange::Replace(c)) if c == expected));
}

#[test]
fn an_expiry_can_be_cleared() {
    let existing = Credential {
        expires_at: Some(now() + TimeDelta::days(1)),
        ..key_a()
    };
    let changed = decide_expiry(
        &machine(),
        std::slice::from_ref(&existing),
        &existing.id,
        None,
        &everything(),
        now(),
    );
    assert!(matches!(changed, Ok(CredentialChange::Replace(c)) if c.expires_at.is_none()));
}

#[test]
fn a_new_expiry_must_be_in_the_future() {
    let existing = key_a();
    for at in [now(), now() - TimeDelta::days(1)] {
        let changed = decide_expiry(
            &machine(),
            std::slice::from_ref(&existing),
            &existing.id,
            Some(at),
            &everything(),
            now(),
        );
        let errors = invalid(changed);
        let expected = [(
            "/expires_at".to_owned(),
            "must be in the future (or null to clear it)".to_owned(),
        )];
        assert_eq!(errors, expected, "{at}");
    }
}

#[test]
fn a_certificate_credential_cannot_be_made_to_outlive_its_certificate() {
    let existing = certificate();
    let not_after = existing.certificate_expires_at.unwrap();
    let expected_not_after = DateTime::parse_from_rfc3339("2036-11-21T04:18:07Z").unwrap();
    assert_eq!(not_after, expected_not_after);
    let later = Some(not_after + TimeDelta::seconds(1));
    let changed = decide_expiry(
        &machine(),
        std::slice::from_ref(&existing),
        &existing.id,
        later,
        &everything(),
        now(),
    );
    let expected = [(
        "/expires_at".to_owned(),
        "must not be later than the certificate's notAfter".to_owned(),
    )];
    assert_eq!(invalid(changed), expected);
    let at_not_after = decide_expiry(
        &machine(),
        std::slice::from_ref(&existing),
        &existing.id,
        Some(not_after),
        &everything(),
        now(),
    );
    assert!(matches!(at_not_after, Ok(CredentialChange::Replace(_))));
}

#[test]
fn the_last_live_credential_the_auth_method_needs_cannot_be_removed() {
    for (method, last, kind) in [
        (ClientAuthMethod::PrivateKeyJwt, key_a(), "public_key"),
        (
            ClientAuthMethod::SelfSignedTlsClientAuth,
            certificate(),
            "x509_cert",
        ),
        (
            ClientAuthMethod::TlsClientAuth,
            subject("CN=a.example"),
            "cert_subject_dn",
        ),
    ] {
        let why = conflict(decide_remove(
            &client(method),
            std::slice::from_ref(&last),
            &last.id,
            &everything(),
            now(),
        ));
        assert_eq!(
            why,
            format!(
                "this is the last live {kind} credential of a client whose clientAuthMethod needs one; change clientAuthMethod first"
            )
        );
    }
}

#[test]
fn a_needed_credential_can_be_removed_while_another_live_one_remains() {
    let client = client(ClientAuthMethod::PrivateKeyJwt);
    let (a, b) = (key_a(), key_b());
    let removed = decide_remove(&client, &[a.clone(), b], &a.id, &everything(), now());
    assert!(matches!(removed, Ok(CredentialChange::Remove(c)) if c == a));
}

#[test]
fn an_expired_credential_does_not_count_as_the_one_that_remains() {
    let client = client(ClientAuthMethod::PrivateKeyJwt);
    let (live, dead) = (key_a(), expired(key_b()));
    let why = conflict(decide_remove(
        &client,
        &[live.clone(), dead],
        &live.id,
        &everything(),
        now(),
    ));
    assert!(why.contains("last live public_key credential"), "{why}");
}

#[test]
fn a_client_that_already_cannot_authenticate_may_shed_its_dead_credentials() {
    // Removing an expired key takes nothing away that the client still had.
    let client = client(ClientAuthMethod::PrivateKeyJwt);
    let dead = expired(key_a());
    let removed = decide_remove(
        &client,
        std::slice::from_ref(&dead),
        &dead.id,
        &everything(),
        now(),
    );
    assert!(
        matches!(removed, Ok(CredentialChange::Remove(_))),
        "{removed:?}"
    );
}

#[test]
fn a_credential_the_auth_method_does_not_need_can_always_be_removed() {
    let client = client(ClientAuthMethod::PrivateKeyJwt);
    let (key, cert) = (key_a(), certificate());
    let removed = decide_remove(
        &client,
        &[key, cert.clone()],
        &cert.id,
        &everything(),
        now(),
    );
    assert!(matches!(removed, Ok(CredentialChange::Remove(c)) if c == cert));
    let secret_client = machine();
    let only = key_a();
    let removed = decide_remove(
        &secret_client,
        std::slice::from_ref(&only),
        &only.id,
        &everything(),
        now(),
    );
    assert!(matches!(removed, Ok(CredentialChange::Remove(_))));
}
