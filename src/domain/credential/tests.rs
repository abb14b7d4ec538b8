//! What a credential request must hold, and what clientd derives from the key or certificate
//! it carries: the RFC 7638 thumbprint as kid, the certificate's subject, thumbprint and
//! notAfter, and the algorithms the key may sign with.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;

mod request;

use crate::domain::test_keys::*;

/// The kids, subjects and thumbprints the fixtures were made with (by openssl).
fn expected() -> Value {
    serde_json::from_str(EXPECTED).unwrap()
}

fn expected_kid(key: &str) -> String {
    expected()["kid"][key].as_str().unwrap().to_owned()
}

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// When cert-valid.pem stops being valid.
fn cert_not_after() -> Timestamp {
    let text = expected()["certificates"]["cert-valid"]["not_after"].clone();
    DateTime::parse_from_rfc3339(text.as_str().unwrap())
        .unwrap()
        .to_utc()
}

fn create(body: Value) -> Result<Credential, Invalid> {
    let request: CreateCredential = serde_json::from_value(body).unwrap();
    request.into_credential(now())
}

fn public_key(pem: &str) -> Result<Credential, Invalid> {
    create(json!({"credential_type": "public_key", "pem": pem}))
}

/// The pointers of every broken rule, and each message, for a refused request.
fn refused(body: Value) -> Vec<(String, String)> {
    let Invalid(errors) = create(body.clone()).expect_err(&body.to_string());
    errors.into_iter().map(|e| (e.pointer, e.message)).collect()
}

/// The one broken rule of a refused request: its pointer and message.
fn refused_once(body: Value) -> (String, String) {
    let errors = refused(body.clone());
    assert_eq!(errors.len(), 1, "{body}: {errors:?}");
    errors.into_iter().next().unwrap()
}

fn assert_refused_at(body: Value, pointer: &str, says: &str) {
    let (at, message) = refused_once(body.clone());
    assert_eq!(at, pointer, "{body}: {message}");
    assert!(
        message.contains(says),
        "{pointer} should say {says:?}: {message}"
    );
}

#[test]
fn a_public_key_gets_its_rfc_7638_thumbprint_as_kid() {
    let credential = public_key(RSA_A).unwrap();
    let kid = expected_kid("rsa2048-a");
    assert!(credential.id.starts_with("cred_"), "{}", credential.id);
    let expected = Credential {
        id: credential.id.clone(),
        name: String::new(),
        kid: Some(kid.clone()),
        alg: Some(Alg::RS256),
        credential_type: CredentialType::PublicKey,
        subject_dn: None,
        thumbprint_sha256: None,
        created_at: now(),
        updated_at: now(),
        expires_at: None,
        key_fingerprint: kid,
        pem: Some(RSA_A.trim().to_owned()),
        certificate_expires_at: None,
    };
    assert_eq!(credential, expected);
}

#[test]
fn every_rsa_key_gets_its_own_thumbprint() {
    for (pem, key) in [
        (RSA_A, "rsa2048-a"),
        (RSA_B, "rsa2048-b"),
        (RSA_C, "rsa2048-c"),
        (RSA_4096, "rsa4096"),
    ] {
        assert_eq!(
            public_key(pem).unwrap().kid,
            Some(expected_kid(key)),
            "{key}"
        );
    }
}

#[test]
fn a_pkcs1_key_has_the_same_thumbprint_as_its_spki_form() {
    let pkcs1 = public_key(RSA_A_PKCS1).unwrap();
    assert_eq!(pkcs1.kid, Some(expected_kid("rsa2048-a-pkcs1")));
    // The same key twice is found by its fingerprint, whichever form it came in.
    assert_eq!(
        pkcs1.key_fingerprint,
        public_key(RSA_A).unwrap().key_fingerprint
    );
}

#[test]
fn a_kid_given_by_the_caller_names_the_key_but_the_fingerprint_stays_the_thumbprint() {
    let credential =
        create(json!({"credential_type": "public_key", "pem": RSA_A, "kid": "my-key-2026-03"}))
            .unwrap();
    assert_eq!(credential.kid.as_deref(), Some("my-key-2026-03"));
    assert_eq!(credential.key_fingerprint, expected_kid("rsa2048-a"));
}

#[test]
fn a_kid_is_10_to_64_letters_digits_underscores_or_dashes() {
    for good in ["a".repeat(10), "A_b-9".repeat(12) + "abcd"] {
        let body = json!({"credential_type": "public_key", "pem": RSA_A, "kid": good});
        assert!(create(body).is_ok(), "{good}");
    }
    for bad in [
        "short",
        &"k".repeat(65),
        "has spaces in it",
        "dots.are.not.ok",
        "ünïcödé-kid",
    ] {
        let body = json!({"credential_type": "public_key", "pem": RSA_A, "kid": bad});
        assert_refused_at(body, "/kid", "10 to 64");
    }
}

#[test]
fn a_certificate_credential_carries_its_subject_thumbprint_and_not_after() {
    let body = json!({"credential_type": "x509_cert", "name": "mTLS", "pem": CERT, "parse_expiry_from_cert": true});
    let credential = create(body).unwrap();
    let cert = &expected()["certificates"]["cert-valid"];
    assert_eq!(credential.credential_type, CredentialType::X509Cert);
    assert_eq!(credential.name, "mTLS");
    assert_eq!(
        credential.subject_dn.as_deref(),
        cert["subject_dn"].as_str()
    );
    assert_eq!(
        credential.thumbprint_sha256.as_deref(),
        cert["x5t#S256"].as_str()
    );
    assert_eq!(credential.certificate_expires_at, Some(cert_not_after()));
    assert_eq!(credential.expires_at, Some(cert_not_after()));
    // The certificate holds key b: its kid is that key's thumbprint.
    assert_eq!(credential.kid, Some(expected_kid("rsa2048-b")));
    assert_eq!(credential.key_fingerprint, expected_kid("rsa2048-b"));
}

#[test]
fn without_parse_expiry_from_cert_a_certificate_credential_has_no_expiry_of_its_own() {
    let credential = create(json!({"credential_type": "x509_cert", "pem": CERT})).unwrap();
    assert_eq!(credential.expires_at, None);
    assert_eq!(credential.certificate_expires_at, Some(cert_not_after()));
}

#[test]
fn a_public_key_may_come_as_a_certificate() {
    let credential = create(json!({"credential_type": "public_key", "pem": CERT})).unwrap();
    assert_eq!(credential.credential_type, CredentialType::PublicKey);
    assert_eq!(credential.kid, Some(expected_kid("rsa2048-b")));
    let cert = &expected()["certificates"]["cert-valid"];
    assert_eq!(
        credential.thumbprint_sha256.as_deref(),
        cert["x5t#S256"].as_str()
    );
}

#[test]
fn an_x509_cert_credential_needs_a_certificate_not_a_bare_key() {
    let body = json!({"credential_type": "x509_cert", "pem": RSA_A});
    assert_refused_at(
        body,
        "/pem",
        "holds a PUBLIC KEY; x509_cert needs a CERTIFICATE",
    );
}

#[test]
fn an_expired_certificate_is_refused() {
    let body = json!({"credential_type": "x509_cert", "pem": CERT_EXPIRED});
    assert_refused_at(
        body,
        "/pem",
        "the certificate expired at 2021-01-01T00:00:00+00:00",
    );
}

#[test]
fn a_certificate_credential_cannot_outlive_its_certificate() {
    let later = cert_not_after() + TimeDelta::seconds(1);
    let body = json!({"credential_type": "x509_cert", "pem": CERT, "expires_at": later});
    assert_refused_at(
        body,
        "/expires_at",
        "must not be later than the certificate's notAfter",
    );
    let at_not_after =
        json!({"credential_type": "x509_cert", "pem": CERT, "expires_at": cert_not_after()});
    assert_eq!(
        create(at_not_after).unwrap().expires_at,
        Some(cert_not_after())
    );
}

#[test]
fn expires_at_must_be_in_the_future() {
    for past in [
        now(),
        now() - TimeDelta::milliseconds(1),
        now() - TimeDelta::days(365),
    ] {
        let body = json!({"credential_type": "public_key", "pem": RSA_A, "expires_at": past});
        assert_refused_at(body, "/expires_at", "must be in the future");
    }
    let soon = now() + TimeDelta::milliseconds(1);
    let body = json!({"credential_type": "public_key", "pem": RSA_A, "expires_at": soon});
    assert_eq!(create(body).unwrap().expires_at, Some(soon));
}

#[test]
fn expires_at_and_parse_expiry_from_cert_cannot_both_be_sent() {
    let soon = now() + TimeDelta::days(1);
    let body = json!({"credential_type": "x509_cert", "pem": CERT, "expires_at": soon, "parse_expiry_from_cert": true});
    assert_refused_at(body, "/parse_expiry_from_cert", "not both");
}

#[test]
fn parse_expiry_from_cert_needs_a_certificate() {
    let body =
        json!({"credential_type": "public_key", "pem": RSA_A, "parse_expiry_from_cert": true});
    assert_refused_at(
        body,
        "/parse_expiry_from_cert",
        "needs a certificate in pem",
    );
}

#[test]
fn an_rsa_pss_key_signs_only_with_ps256() {
    assert_eq!(public_key(RSA_PSS).unwrap().alg, Some(Alg::PS256));
    for alg in ["RS256", "RS384"] {
        let body = json!({"credential_type": "public_key", "pem": RSA_PSS, "alg": alg});
        assert_refused_at(body, "/alg", "an RSASSA-PSS key signs only with PS256");
    }
    let body = json!({"credential_type": "public_key", "pem": RSA_PSS, "alg": "PS256"});
    assert_eq!(create(body).unwrap().alg, Some(Alg::PS256));
}

#[test]
fn an_rsa_encryption_key_signs_with_rs256_unless_told_otherwise() {
    for (alg, want) in [
        ("RS256", Alg::RS256),
        ("RS384", Alg::RS384),
        ("PS256", Alg::PS256),
    ] {
        let body = json!({"credential_type": "public_key", "pem": RSA_A, "alg": alg});
        assert_eq!(create(body).unwrap().alg, Some(want), "{alg}");
    }
}

#[test]
fn only_rsa_algorithms_are_known() {
    assert_eq!(Alg::parse("PS256"), Ok(Alg::PS256));
    assert_eq!(Alg::parse("ES256"), Err("unknown alg \"ES256\"".to_owned()));
}

#[test]
fn keys_other_than_rsa_of_2048_to_4096_bits_with_a_safe_exponent_are_refused() {
    for (pem, says) in [
        (RSA_1024, "holds a 1024-bit RSA key; use 2048 to 4096 bits"),
        (EC, "RS256, RS384 and PS256 need an RSA key"),
        (RSA_E3, "public exponent 3;"),
    ] {
        assert_refused_at(
            json!({"credential_type": "public_key", "pem": pem}),
            "/pem",
            says,
        );
    }
}

#[test]
fn a_private_key_is_refused_without_echoing_it() {
    let (pointer, message) =
        refused_once(json!({"credential_type": "public_key", "pem": RSA_A_PRIVATE}));
    assert_eq!(pointer, "/pem");
    assert!(
        message.contains("holds a private key (PRIVATE KEY)"),
        "{message}"
    );
    let key_body = RSA_A_PRIVATE.lines().nth(1).unwrap();
    assert!(
        !message.contains(key_body),
        "the private key was echoed: {message}"
    );
}

#[test]
fn a_pem_must_be_one_whole_block_of_a_known_kind() {
    let truncated = &RSA_A[..RSA_A.len() / 2];
    let relabelled = RSA_A.replace("PUBLIC KEY", "CERTIFICATE");
    let other_label = RSA_A.replace("PUBLIC KEY", "SOMETHING ELSE");
    for (pem, says) in [
        (truncated, "is not a whole PEM block"),
        ("hello", "is not a whole PEM block"),
        (&relabelled, "is not a valid X.509 certificate"),
        (&other_label, "holds a SOMETHING ELSE; send a PUBLIC KEY"),
        (&"x".repeat(4097), "must be at most 4096 characters"),
        (
            "-----BEGIN PUBLIC KEY-----\u{0}",
            "must not hold control characters",
        ),
    ] {
        assert_refused_at(
            json!({"credential_type": "public_key", "pem": pem}),
            "/pem",
            says,
        );
    }
}

#[test]
fn a_key_credential_needs_a_pem_and_takes_its_subject_from_it() {
    assert_refused_at(
        json!({"credential_type": "public_key"}),
        "/pem",
        "is required for public_key",
    );
    assert_refused_at(
        json!({"credential_type": "x509_cert"}),
        "/pem",
        "is required for x509_cert",
    );
    let body = json!({"credential_type": "x509_cert", "pem": CERT, "subject_dn": "CN=x"});
    assert_refused_at(
        body,
        "/subject_dn",
        "send either pem or subject_dn, not both",
    );
}
