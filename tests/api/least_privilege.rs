//! Least-privilege admin tokens (DESIGN 16): `secret.verify` verifies secrets and
//! introspects tokens on its tenants, `audit.read` reads their trail; neither reads a
//! client, and each is 403 everywhere else. `GET /tokens` shows when each token was used.

use serde_json::json;

use crate::helpers::TestApp;
use crate::oauth::{access_token, machine, machine_in, post_form, token_for};

/// Tenants `acme` (with a client) and `other` (with one too).
async fn two_tenants(app: &TestApp) -> (crate::oauth::Machine, crate::oauth::Machine) {
    let ours = machine(app, "acme", json!({})).await;
    let theirs = machine(app, "other", json!({})).await;
    (ours, theirs)
}

on_both_stores! {
    async fn a_gateway_token_verifies_secrets_and_introspects_on_its_tenants_only(app) {
        let (ours, theirs) = two_tenants(&app).await;
        let gateway = app.create_token(&["secret.verify"], &["acme"]).await;
        let as_gateway = app.with_token(&gateway);
        let verified = as_gateway
            .post(&format!("/clients/{}/secrets/verify", ours.id), json!({"client_secret": ours.secret}))
            .await;
        assert_eq!(verified.json, json!({"valid": true, "secret": "current"}), "{}", verified.text);
        let wrong = as_gateway
            .post(&format!("/clients/{}/secrets/verify", ours.id), json!({"client_secret": "wrong"}))
            .await;
        assert_eq!(wrong.status, 401, "{}", wrong.text);
        let foreign = as_gateway
            .post(&format!("/clients/{}/secrets/verify", theirs.id), json!({"client_secret": theirs.secret}))
            .await;
        foreign.assert_problem(404, "not-found");
        let token = access_token(&token_for(&app, "acme", &ours, &[]).await);
        let introspected = post_form(&app, "/tenants/acme/oauth2/introspect", Some(&format!("Bearer {gateway}")), &[("token", &token)]).await;
        assert_eq!(introspected.json["active"], true, "{}", introspected.text);
        let elsewhere = post_form(&app, "/tenants/other/oauth2/introspect", Some(&format!("Bearer {gateway}")), &[("token", &token)]).await;
        elsewhere.assert_problem(403, "forbidden");
        for (method, path) in [
            ("GET", format!("/clients/{}", ours.id)),
            ("GET", format!("/clients/{}/secrets", ours.id)),
            ("GET", format!("/clients/{}/credentials", ours.id)),
            ("GET", "/clients".to_owned()),
            ("GET", "/tenants".to_owned()),
            ("GET", "/tenants/acme".to_owned()),
            ("GET", "/tenants/acme/clients".to_owned()),
            ("GET", "/tenants/acme/events".to_owned()),
            ("GET", format!("/clients/{}/events", ours.id)),
            ("GET", "/tokens".to_owned()),
            ("POST", format!("/clients/{}/secrets/rotate/start", ours.id)),
            ("POST", "/tenants/acme/clients".to_owned()),
            ("DELETE", format!("/clients/{}", ours.id)),
        ] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let body = (method != reqwest::Method::GET).then(|| json!({"name": "x", "app_type": "spa"}));
            let refused = as_gateway.send(method.clone(), &path, body).await;
            refused.assert_problem(403, "forbidden");
            let detail = refused.json["detail"].as_str().unwrap();
            assert!(detail.contains("secret.verify") || detail.contains("audit.read"), "{method} {path}: {detail}");
        }
        assert_eq!(app.admin().get(&format!("/clients/{}", ours.id)).await.status, 200, "nothing was deleted");
    }

    async fn an_audit_token_reads_its_tenants_trail_and_nothing_else(app) {
        let (ours, theirs) = two_tenants(&app).await;
        let auditor = app.create_token(&["audit.read"], &["acme"]).await;
        let as_auditor = app.with_token(&auditor);
        let trail = as_auditor.get("/tenants/acme/events").await;
        assert_eq!(trail.status, 200, "{}", trail.text);
        assert!(trail.json["items"].as_array().unwrap().iter().any(|e| e["action"] == "client.create"));
        let client_trail = as_auditor.get(&format!("/clients/{}/events", ours.id)).await;
        assert_eq!(client_trail.status, 200, "{}", client_trail.text);
        as_auditor.get("/tenants/other/events").await.assert_problem(404, "not-found");
        as_auditor.get(&format!("/clients/{}/events", theirs.id)).await.assert_problem(404, "not-found");
        as_auditor.get("/events").await.assert_problem(403, "forbidden");
        as_auditor.get(&format!("/clients/{}", ours.id)).await.assert_problem(403, "forbidden");
        as_auditor.get("/clients").await.assert_problem(403, "forbidden");
        as_auditor
            .post(&format!("/clients/{}/secrets/verify", ours.id), json!({"client_secret": ours.secret}))
            .await
            .assert_problem(403, "forbidden");
        let token = access_token(&token_for(&app, "acme", &ours, &[]).await);
        post_form(&app, "/tenants/acme/oauth2/introspect", Some(&format!("Bearer {auditor}")), &[("token", &token)])
            .await
            .assert_problem(403, "forbidden");
    }

    async fn the_new_permissions_are_bound_to_tenants_and_combine_with_others(app) {
        app.create_tenant("acme").await;
        for permission in ["secret.verify", "audit.read"] {
            let unbound = app.admin().post("/tokens", json!({"name": "g", "permissions": [permission]})).await;
            unbound.assert_invalid(&["/tenants"]);
        }
        // With client.read, a token reads clients as before and verifies too.
        let both = app.create_token(&["client.read", "secret.verify"], &["acme"]).await;
        let ours = machine_in(&app, "acme", json!({})).await;
        assert_eq!(app.with_token(&both).get(&format!("/clients/{}", ours.id)).await.status, 200);
        let listed = app.admin().get("/tokens").await;
        let permissions: Vec<_> = listed.json["items"].as_array().unwrap().iter().map(|t| t["permissions"].clone()).collect();
        assert!(permissions.contains(&json!(["client.read", "secret.verify"])), "{}", listed.text);
    }

    async fn tokens_show_when_they_were_last_used(app) {
        app.create_tenant("acme").await;
        let reader = app.create_token(&["client.read"], &["acme"]).await;
        let unused = app.create_token(&["audit.read"], &["acme"]).await;
        let listed = app.admin().get("/tokens").await;
        for token in listed.json["items"].as_array().unwrap() {
            assert_eq!(token["last_used"], json!(null), "{token}");
        }
        assert_eq!(app.with_token(&reader).get("/tenants/acme/clients").await.status, 200);
        let reader_id = reader.split('_').nth(1).unwrap().to_owned();
        let listed = app.admin().get_until("/tokens", |page| {
            page["items"].as_array().unwrap().iter().any(|t| {
                t["id"].as_str().unwrap().replace('-', "") == reader_id && t["last_used"].is_string()
            })
        }).await;
        let unused_id = unused.split('_').nth(1).unwrap().to_owned();
        let unused = listed["items"].as_array().unwrap().iter()
            .find(|t| t["id"].as_str().unwrap().replace('-', "") == unused_id).unwrap();
        assert_eq!(unused["last_used"], json!(null));
    }
}
