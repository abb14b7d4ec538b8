//! A credential request as a whole: subject DN credentials, names, ids, every broken rule at
//! once, and when a credential stops being live.

use super::*;

#[test]
fn a_subject_dn_credential_keeps_the_normalised_name_and_nothing_of_a_key() {
    let body = json!({"credential_type": "cert_subject_dn", "subject_dn": "  CN=client.acme.example,O=Acme,C=US "});
    let credential = create(body).unwrap();
    let dn = "CN=client.acme.example,O=Acme,C=US";
    let expected = Credential {
        id: credential.id.clone(),
        name: String::new(),
        kid: None,
        alg: None,
        credential_type: CredentialType::CertSubjectDn,
        subject_dn: Some(dn.to_owned()),
        thumbprint_sha256: None,
        created_at: now(),
        updated_at: now(),
        expires_at: None,
        key_fingerprint: format!("dn:{dn}"),
        pem: None,
        certificate_expires_at: None,
    };
    assert_eq!(credential, expected);
}

#[test]
fn a_subject_dn_must_be_an_rfc_4514_name_of_at_most_1024_characters() {
    for (dn, says) in [
        ("not a dn", "is not an RFC 4514 distinguished name"),
        ("", "is not an RFC 4514 distinguished name"),
        ("CN", "is not an RFC 4514 distinguished name"),
        ("CN=a\u{0}b", "must not hold control characters"),
        (
            &format!("CN={}", "a".repeat(1022)),
            "must be at most 1024 characters",
        ),
    ] {
        let body = json!({"credential_type": "cert_subject_dn", "subject_dn": dn});
        assert_refused_at(body, "/subject_dn", says);
    }
    let body = json!({"credential_type": "cert_subject_dn"});
    assert_refused_at(body, "/subject_dn", "is required for cert_subject_dn");
}

#[test]
fn a_subject_dn_credential_takes_nothing_of_a_key() {
    let body = json!({
        "credential_type": "cert_subject_dn", "subject_dn": "CN=x",
        "pem": RSA_A, "alg": "RS256", "kid": "a-kid-of-my-own", "parse_expiry_from_cert": true,
    });
    let pointers: Vec<String> = refused(body)
        .into_iter()
        .map(|(pointer, _)| pointer)
        .collect();
    assert_eq!(
        pointers,
        ["/pem", "/alg", "/kid", "/parse_expiry_from_cert"]
    );
}

#[test]
fn a_subject_dn_credential_may_expire() {
    let soon = now() + TimeDelta::days(30);
    let body =
        json!({"credential_type": "cert_subject_dn", "subject_dn": "CN=x", "expires_at": soon});
    assert_eq!(create(body).unwrap().expires_at, Some(soon));
}

#[test]
fn a_name_is_one_line_of_at_most_128_characters() {
    let body = |name: &str| json!({"credential_type": "public_key", "pem": RSA_A, "name": name});
    assert_eq!(
        create(body(&"n".repeat(128))).unwrap().name,
        "n".repeat(128)
    );
    assert_refused_at(
        body(&"n".repeat(129)),
        "/name",
        "must be at most 128 characters",
    );
    assert_refused_at(
        body("two\nlines"),
        "/name",
        "must not hold control characters",
    );
}

#[test]
fn every_broken_rule_of_a_request_is_reported_at_once() {
    let body = json!({
        "credential_type": "public_key", "pem": RSA_PSS, "alg": "RS256",
        "name": "n".repeat(129), "kid": "short", "expires_at": now() - TimeDelta::days(1),
    });
    let pointers: Vec<String> = refused(body)
        .into_iter()
        .map(|(pointer, _)| pointer)
        .collect();
    assert_eq!(pointers, ["/name", "/kid", "/expires_at", "/alg"]);
}

#[test]
fn a_credential_id_is_cred_and_22_base62_characters() {
    let a = public_key(RSA_A).unwrap().id;
    let b = public_key(RSA_A).unwrap().id;
    assert_ne!(a, b);
    let rest = a.strip_prefix("cred_").unwrap();
    assert_eq!(rest.len(), 22, "{a}");
    assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
}

#[test]
fn a_credential_is_live_until_its_expiry() {
    let mut credential = public_key(RSA_A).unwrap();
    assert!(credential.is_live(now() + TimeDelta::days(10_000)));
    credential.expires_at = Some(now());
    assert!(credential.is_live(now() - TimeDelta::milliseconds(1)));
    assert!(!credential.is_live(now()));
}

#[test]
fn an_expiry_change_tells_null_from_left_out() {
    let read = |body: Value| serde_json::from_value::<ChangeExpiry>(body).map(|c| c.expires_at);
    assert_eq!(read(json!({"expires_at": null})).unwrap(), Some(None));
    assert_eq!(read(json!({})).unwrap(), None);
    let at = now() + TimeDelta::days(1);
    assert_eq!(read(json!({"expires_at": at})).unwrap(), Some(Some(at)));
    // Only the expiry can change.
    assert!(read(json!({"expires_at": null, "kid": "x"})).is_err());
}

#[test]
fn credential_types_have_their_auth0_names() {
    for kind in [
        CredentialType::PublicKey,
        CredentialType::X509Cert,
        CredentialType::CertSubjectDn,
    ] {
        assert_eq!(CredentialType::parse(kind.as_str()), Ok(kind));
    }
    assert_eq!(
        CredentialType::parse("secret"),
        Err("unknown credential type \"secret\"".to_owned())
    );
}
