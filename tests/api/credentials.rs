//! Credentials (Auth0): keys and certificates parsed for real, kid and thumbprints checked
//! against values computed by scripts/make-test-keys with openssl, every bad input refused,
//! the per-client limit, and consistency with the client's authentication method.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDatabase, fixture};

fn expected() -> Value {
    serde_json::from_str(&fixture("expected.json")).unwrap()
}

/// A tenant `acme` with one confidential client; returns its credentials path.
async fn client_credentials(app: &TestApp) -> String {
    app.create_tenant("acme").await;
    let c = app
        .create_client(
            "acme",
            json!({"name": "Service", "app_type": "non_interactive"}),
        )
        .await;
    format!("/clients/{}/credentials", c["id"].as_str().unwrap())
}

fn public_key(name: &str) -> Value {
    json!({"credential_type": "public_key", "name": name, "pem": fixture(&format!("{name}-public.pem"))})
}

on_both_stores! {
    async fn a_public_key_gets_its_rfc_7638_thumbprint_as_kid(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, public_key("rsa2048-a")).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let c = &created.json;
        let id = c["id"].as_str().unwrap();
        assert!(id.starts_with("cred_") && id.len() == 27 && id[5..].chars().all(|ch| ch.is_ascii_alphanumeric()), "{id}");
        assert_eq!(created.header("location"), Some(format!("{path}/{id}").as_str()));
        assert_eq!(c["kid"], expected()["kid"]["rsa2048-a"]);
        assert_eq!(c["name"], "rsa2048-a");
        assert_eq!(c["alg"], "RS256");
        assert_eq!(c["credential_type"], "public_key");
        assert_eq!(c["subject_dn"], json!(null));
        assert_eq!(c["thumbprint_sha256"], json!(null));
        assert_eq!(c["expires_at"], json!(null));
        assert_eq!(c["created_at"], c["updated_at"]);
        assert!(c.get("pem").is_none());
    }

    async fn a_pkcs1_key_gives_the_same_kid(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, json!({
            "credential_type": "public_key", "pem": fixture("rsa2048-a-pkcs1.pem"), "alg": "RS384",
        })).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.json["kid"], expected()["kid"]["rsa2048-a-pkcs1"]);
        assert_eq!(created.json["alg"], "RS384");
        assert_eq!(created.json["name"], "");
    }

    async fn a_certificate_credential_carries_its_subject_thumbprint_and_expiry(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, json!({
            "credential_type": "x509_cert", "name": "mTLS", "pem": fixture("cert-valid.pem"),
            "parse_expiry_from_cert": true,
        })).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let cert = &expected()["certificates"]["cert-valid"];
        assert_eq!(created.json["subject_dn"], cert["subject_dn"]);
        assert_eq!(created.json["thumbprint_sha256"], cert["x5t#S256"]);
        assert_eq!(created.json["expires_at"], cert["not_after"]);
        assert_eq!(created.json["kid"], expected()["kid"]["rsa2048-b"]);
        assert_eq!(created.json["credential_type"], "x509_cert");
    }

    async fn a_public_key_may_come_as_a_certificate(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, json!({
            "credential_type": "public_key", "pem": fixture("cert-valid.pem"), "kid": "my-key-2026-11",
            "expires_at": "2030-01-01T00:00:00Z",
        })).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.json["kid"], "my-key-2026-11");
        assert_eq!(created.json["thumbprint_sha256"], expected()["certificates"]["cert-valid"]["x5t#S256"]);
        assert_eq!(created.json["expires_at"], "2030-01-01T00:00:00.000Z");
    }

    async fn a_subject_dn_credential_is_checked_and_kept(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, json!({
            "credential_type": "cert_subject_dn", "subject_dn": "CN=client.acme.example,O=Acme,C=US",
        })).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.json["subject_dn"], "CN=client.acme.example,O=Acme,C=US");
        assert_eq!(created.json["kid"], json!(null));
        assert_eq!(created.json["alg"], json!(null));
        for bad in ["not a dn", "", "CN"] {
            let refused = app.admin().post(&path, json!({"credential_type": "cert_subject_dn", "subject_dn": bad})).await;
            refused.assert_invalid_fields(&["/subject_dn"]);
        }
    }

    async fn a_4096_bit_key_is_accepted(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, public_key("rsa4096")).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.json["kid"], expected()["kid"]["rsa4096"]);
    }

    async fn an_rsa_pss_key_signs_only_with_ps256(app) {
        let path = client_credentials(&app).await;
        let pem = fixture("rsapss-public.pem");
        let refused = app.admin().post(&path, json!({"credential_type": "public_key", "pem": pem, "alg": "RS256"})).await;
        refused.assert_invalid_fields(&["/alg"]);
        let created = app.admin().post(&path, json!({"credential_type": "public_key", "pem": pem})).await;
        assert_eq!((created.status, &created.json["alg"]), (201, &json!("PS256")), "{}", created.text);
    }

    async fn credentials_are_listed_and_read(app) {
        let path = client_credentials(&app).await;
        let a = app.admin().post(&path, public_key("rsa2048-a")).await.json;
        let b = app.admin().post(&path, public_key("rsa2048-b")).await.json;
        let listed = app.admin().get(&path).await;
        assert_eq!(listed.status, 200);
        // Oldest first; two made in the same millisecond come in id order.
        let mut expected = vec![a.clone(), b];
        expected.sort_by_key(|c| (c["created_at"].as_str().unwrap().to_owned(), c["id"].as_str().unwrap().to_owned()));
        assert_eq!(listed.json, Value::Array(expected));
        let one = app.admin().get(&format!("{path}/{}", a["id"].as_str().unwrap())).await;
        assert_eq!((one.status, &one.json), (200, &a));
        app.admin().get(&format!("{path}/cred_doesnotexist0000000000")).await.assert_problem(404, "not-found");
    }

    async fn only_expires_at_can_change(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, public_key("rsa2048-a")).await.json;
        let one = format!("{path}/{}", created["id"].as_str().unwrap());
        let patch = |body: Value| app.patch(&one, "application/json", None, body);
        let set = patch(json!({"expires_at": "2031-06-30T12:00:00Z"})).await;
        assert_eq!(set.status, 200, "{}", set.text);
        assert_eq!(set.json["expires_at"], "2031-06-30T12:00:00.000Z");
        assert!(set.json["updated_at"].as_str().unwrap() >= created["updated_at"].as_str().unwrap());
        assert_eq!(set.json["created_at"], created["created_at"]);
        let cleared = patch(json!({"expires_at": null})).await;
        assert_eq!((cleared.status, &cleared.json["expires_at"]), (200, &json!(null)));
        patch(json!({"expires_at": "2001-01-01T00:00:00Z"})).await.assert_invalid_fields(&["/expires_at"]);
        patch(json!({"name": "renamed"})).await.assert_problem(400, "bad-request");
        patch(json!({"expires_at": null, "kid": "x"})).await.assert_problem(400, "bad-request");
        patch(json!({})).await.assert_problem(400, "bad-request");
        let missing = app.patch(&format!("{path}/cred_nope"), "application/json", None, json!({"expires_at": null})).await;
        missing.assert_problem(404, "not-found");
    }

    async fn a_certificate_credential_cannot_outlive_its_certificate(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, json!({"credential_type": "x509_cert", "pem": fixture("cert-valid.pem")})).await.json;
        let one = format!("{path}/{}", created["id"].as_str().unwrap());
        let later = json!({"expires_at": "2099-01-01T00:00:00Z"});
        app.patch(&one, "application/json", None, later).await.assert_invalid_fields(&["/expires_at"]);
    }

    async fn deleting_a_credential_is_204(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, public_key("rsa2048-a")).await.json;
        let one = format!("{path}/{}", created["id"].as_str().unwrap());
        let deleted = app.admin().delete(&one).await;
        assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
        app.admin().get(&one).await.assert_problem(404, "not-found");
        app.admin().delete(&one).await.assert_problem(404, "not-found");
        assert_eq!(app.admin().get(&path).await.json, json!([]));
    }

    async fn every_bad_input_is_a_clear_4xx_and_stores_nothing(app) {
        let path = client_credentials(&app).await;
        let good = fixture("rsa2048-a-public.pem");
        let truncated = good[..good.len() / 2].to_owned();
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"credential_type": "public_key", "pem": truncated}), "/pem", "PEM"),
            (json!({"credential_type": "public_key", "pem": "hello"}), "/pem", "PEM"),
            (json!({"credential_type": "public_key", "pem": good.replace("PUBLIC KEY", "CERTIFICATE")}), "/pem", "certificate"),
            (json!({"credential_type": "public_key", "pem": fixture("rsa2048-a-private.pem")}), "/pem", "private key"),
            (json!({"credential_type": "public_key", "pem": fixture("rsa1024-public.pem")}), "/pem", "1024-bit"),
            (json!({"credential_type": "public_key", "pem": fixture("ec-public.pem")}), "/pem", "RSA"),
            (json!({"credential_type": "x509_cert", "pem": fixture("cert-expired.pem")}), "/pem", "expired"),
            (json!({"credential_type": "x509_cert", "pem": good}), "/pem", "CERTIFICATE"),
            (json!({"credential_type": "public_key", "pem": good, "expires_at": "2001-01-01T00:00:00Z"}), "/expires_at", "future"),
            (json!({"credential_type": "public_key", "pem": good, "subject_dn": "CN=x"}), "/subject_dn", "not both"),
            (json!({"credential_type": "cert_subject_dn", "subject_dn": "CN=x", "pem": good}), "/pem", "cert_subject_dn"),
            (json!({"credential_type": "cert_subject_dn"}), "/subject_dn", "required"),
            (json!({"credential_type": "public_key"}), "/pem", "required"),
            (json!({"credential_type": "public_key", "pem": good, "parse_expiry_from_cert": true}), "/parse_expiry_from_cert", "certificate"),
            (json!({"credential_type": "public_key", "pem": good, "kid": "short"}), "/kid", "10 to 64"),
            (json!({"credential_type": "public_key", "pem": good, "name": "n".repeat(129)}), "/name", "128"),
            (json!({"credential_type": "public_key", "pem": good, "alg": "ES256"}), "/alg", "ES256"),
            (json!({"credential_type": "public_key", "pem": "x".repeat(5000)}), "/pem", "4096"),
            (json!({"credential_type": "secret", "pem": good}), "/credential_type", "secret"),
        ];
        for (body, pointer, says) in cases {
            let response = app.admin().post(&path, body.clone()).await;
            let problem = response.assert_problem(422, "validation");
            let error = (problem["errors"].as_array().unwrap().iter())
                .find(|e| e["pointer"] == pointer)
                .unwrap_or_else(|| panic!("no error at {pointer} for {body}: {}", response.text));
            assert!(error["message"].as_str().unwrap().contains(says), "{pointer} should say {says:?}: {}", response.text);
        }
        let private = app.admin().post(&path, json!({"credential_type": "public_key", "pem": fixture("rsa2048-a-private.pem")})).await;
        let key_body: String = fixture("rsa2048-a-private.pem").lines().nth(1).unwrap().to_owned();
        assert!(!private.text.contains(&key_body), "the private key was echoed");
        let unknown = app.admin().post(&path, json!({"credential_type": "public_key", "pem": good, "usage": "sig"})).await;
        assert!(unknown.assert_problem(400, "bad-request")["detail"].as_str().unwrap().contains("usage"));
        assert_eq!(app.admin().get(&path).await.json, json!([]));
        assert_eq!(app.count_rows("client_credentials").await, 0);
    }

    async fn the_same_key_twice_is_409(app) {
        let path = client_credentials(&app).await;
        assert_eq!(app.admin().post(&path, public_key("rsa2048-a")).await.status, 201);
        let again = app.admin().post(&path, json!({"credential_type": "public_key", "pem": fixture("rsa2048-a-pkcs1.pem"), "kid": "another-kid-1"})).await;
        again.assert_problem(409, "conflict");
        let dn = json!({"credential_type": "cert_subject_dn", "subject_dn": "CN=a.example"});
        assert_eq!(app.admin().post(&path, dn.clone()).await.status, 201);
        app.admin().post(&path, dn).await.assert_problem(409, "conflict");
    }

    async fn a_third_credential_is_409(app) {
        let path = client_credentials(&app).await;
        for key in ["rsa2048-a", "rsa2048-b"] {
            assert_eq!(app.admin().post(&path, public_key(key)).await.status, 201);
        }
        let third = app.admin().post(&path, public_key("rsa2048-c")).await;
        let problem = third.assert_problem(409, "conflict");
        assert!(problem["detail"].as_str().unwrap().contains("CLIENTD_MAX_CREDENTIALS_PER_CLIENT"));
        assert_eq!(app.admin().get(&path).await.json.as_array().unwrap().len(), 2);
    }

    async fn authentication_methods_need_their_credential(app) {
        let path = client_credentials(&app).await;
        let client = path.trim_end_matches("/credentials").to_owned();
        let set_method = |method: &str| json!([{"op": "replace", "path": "/clientAuthMethod", "value": method}]);
        for method in ["private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"] {
            app.admin().patch(&client, set_method(method)).await.assert_invalid_fields(&["/clientAuthMethod"]);
        }
        let key = app.admin().post(&path, public_key("rsa2048-a")).await.json;
        let cert = app.admin().post(&path, json!({"credential_type": "x509_cert", "pem": fixture("cert-valid.pem")})).await.json;
        assert_eq!(app.admin().patch(&client, set_method("private_key_jwt")).await.status, 200);
        // A certificate's key signs client assertions too: the bare key may go while it stays,
        // and the certificate, the last of them, may not.
        assert_eq!(app.admin().delete(&format!("{path}/{}", key["id"].as_str().unwrap())).await.status, 204);
        let last = app.admin().delete(&format!("{path}/{}", cert["id"].as_str().unwrap())).await;
        assert!(last.assert_problem(409, "conflict")["detail"].as_str().unwrap().contains("clientAuthMethod"));
        assert_eq!(app.admin().patch(&client, set_method("self_signed_tls_client_auth")).await.status, 200);
        app.admin().delete(&format!("{path}/{}", cert["id"].as_str().unwrap())).await.assert_problem(409, "conflict");
        let created = app.admin().post("/tenants/acme/clients", json!({"name": "x", "app_type": "regular_web", "client_auth_method": "private_key_jwt"})).await;
        created.assert_invalid_fields(&["/client_auth_method"]);
    }

    async fn another_tenants_credentials_are_404_and_readers_cannot_write(app) {
        let path = client_credentials(&app).await;
        let created = app.admin().post(&path, public_key("rsa2048-a")).await.json;
        let one = format!("{path}/{}", created["id"].as_str().unwrap());
        app.create_tenant("other").await;
        let outsider = app.create_token(&["client.write"], &["other"]).await;
        let caller = app.with_token(&outsider);
        caller.get(&path).await.assert_problem(404, "not-found");
        caller.get(&one).await.assert_problem(404, "not-found");
        caller.post(&path, public_key("rsa2048-b")).await.assert_problem(404, "not-found");
        caller.delete(&one).await.assert_problem(404, "not-found");
        let reader = app.create_token(&["client.read"], &["acme"]).await;
        assert_eq!(app.with_token(&reader).get(&path).await.status, 200);
        app.with_token(&reader).post(&path, public_key("rsa2048-b")).await.assert_problem(403, "forbidden");
        app.with_token(&reader).delete(&one).await.assert_problem(403, "forbidden");
        assert_eq!(app.admin().get(&path).await.json.as_array().unwrap().len(), 1);
    }

    async fn deleting_a_client_deletes_its_credentials(app) {
        let path = client_credentials(&app).await;
        app.admin().post(&path, public_key("rsa2048-a")).await;
        assert_eq!(app.count_rows("client_credentials").await, 1);
        app.admin().delete(path.trim_end_matches("/credentials")).await;
        assert_eq!(app.count_rows("client_credentials").await, 0);
    }
}

async fn the_limit_is_configurable(backend: Backend) {
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let app =
        TestApp::spawn_with(database, |settings| settings.max_credentials_per_client = 3).await;
    let path = client_credentials(&app).await;
    for key in ["rsa2048-a", "rsa2048-b", "rsa2048-c"] {
        assert_eq!(app.admin().post(&path, public_key(key)).await.status, 201);
    }
    app.admin()
        .post(&path, public_key("rsa4096"))
        .await
        .assert_problem(409, "conflict");
}

#[tokio::test]
async fn sqlite_the_credential_limit_is_configurable() {
    the_limit_is_configurable(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_credential_limit_is_configurable() {
    the_limit_is_configurable(Backend::Postgres).await;
}
