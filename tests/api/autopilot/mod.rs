//! The rotation autopilot (DESIGN 16): secret policies on the client document, stale
//! secrets, rotations completed hands-free, overdue rotations and expiring credentials.
//! Servers here run the autopilot every second and record uses every second, as the issue
//! asks of tests; `fleet` runs it on several processes over one Postgres.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::TestApp;

mod fleet;

/// The autopilot every second, uses recorded every second, warnings a day ahead.
pub fn quick(settings: &mut clientd::config::Settings) {
    settings.autopilot_interval_secs = 1;
    settings.last_used_granularity_secs = 1;
    settings.expiry_warning_days = 1;
}

/// A machine client of `acme` with `policy` (the create body's secret_policy): its id and
/// first secret.
async fn machine(app: &TestApp, name: &str, policy: Value) -> (String, String) {
    if app.admin().get("/tenants/acme").await.status == 404 {
        app.create_tenant("acme").await;
    }
    let client = app
        .create_client(
            "acme",
            json!({"name": name, "app_type": "non_interactive", "secret_policy": policy}),
        )
        .await;
    let id = client["id"].as_str().unwrap().to_owned();
    (id, client["secret"].as_str().unwrap().to_owned())
}

async fn verify(app: &TestApp, id: &str, secret: &str) -> Value {
    let answer = app
        .admin()
        .post(
            &format!("/clients/{id}/secrets/verify"),
            json!({"client_secret": secret}),
        )
        .await;
    answer.json
}

/// The client's events with this action, oldest first.
async fn events(app: &TestApp, id: &str, action: &str) -> Vec<Value> {
    let page = (app.admin())
        .get(&format!("/clients/{id}/events?action={action}&limit=100"))
        .await;
    let mut items = page.json["items"].as_array().cloned().unwrap_or_default();
    items.reverse();
    items
}

/// Waits (at most 20 s) until the client has `count` events of `action`.
async fn until_events(app: &TestApp, id: &str, action: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = events(app, id, action).await;
        if found.len() >= count {
            return found;
        }
        assert!(Instant::now() < deadline, "{id}: {action} never came");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Long enough for three runs of the autopilot.
async fn three_runs() {
    tokio::time::sleep(Duration::from_millis(3_200)).await;
}

fn rfc3339_in(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

on_both_stores! {
    with quick;

    async fn the_policy_is_on_every_document_null_by_default_and_patchable(app) {
        let (plain, _) = machine(&app, "Plain", Value::Null).await;
        let document = app.admin().get(&format!("/clients/{plain}")).await;
        assert_eq!(
            document.json["secretPolicy"],
            json!({"maxAgeSeconds": null, "autoCompleteAfterUnusedSeconds": null, "rotationMaxSeconds": null})
        );
        let (id, _) = machine(&app, "Billing", json!({"max_age_seconds": 7_776_000, "rotation_max_seconds": 86_400})).await;
        let document = app.admin().get(&format!("/clients/{id}")).await;
        assert_eq!(
            document.json["secretPolicy"],
            json!({"maxAgeSeconds": 7_776_000, "autoCompleteAfterUnusedSeconds": null, "rotationMaxSeconds": 86_400})
        );
        let patched = app.admin().patch(&format!("/clients/{plain}"), json!([
            {"op": "replace", "path": "/secretPolicy/autoCompleteAfterUnusedSeconds", "value": 3600},
        ])).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.json["secretPolicy"]["autoCompleteAfterUnusedSeconds"], 3600);
        let cleared = app.admin().patch(&format!("/clients/{id}"), json!([
            {"op": "replace", "path": "/secretPolicy", "value": null},
        ])).await;
        assert_eq!(cleared.status, 200, "{}", cleared.text);
        assert_eq!(cleared.json["secretPolicy"]["maxAgeSeconds"], json!(null));
        let patch_event = &events(&app, &id, "client.patch").await[0];
        assert_eq!(patch_event["changed"], json!(["secretPolicy"]));
    }

    async fn a_policy_out_of_bounds_is_refused_naming_the_member(app) {
        app.create_tenant("acme").await;
        for bad in [json!(0), json!(-5), json!(315_360_001), json!(1.5)] {
            let refused = app.admin().post("/tenants/acme/clients", json!({
                "name": "x", "app_type": "non_interactive", "secret_policy": {"max_age_seconds": bad},
            })).await;
            assert!(matches!(refused.status, 400 | 422), "{bad}: {}", refused.text);
            assert!(refused.text.contains("max_age_seconds"), "{bad}: {}", refused.text);
        }
        let unknown = app.admin().post("/tenants/acme/clients", json!({
            "name": "x", "app_type": "non_interactive", "secret_policy": {"max_age": 5},
        })).await;
        assert_eq!(unknown.status, 400, "{}", unknown.text);
        let public = app.admin().post("/tenants/acme/clients", json!({
            "name": "x", "app_type": "spa", "secret_policy": {"max_age_seconds": 60},
        })).await;
        public.assert_invalid_fields(&["/secret_policy"]);
        let (id, _) = machine(&app, "Billing", Value::Null).await;
        let patched = app.admin().patch(&format!("/clients/{id}"), json!([
            {"op": "replace", "path": "/secretPolicy/rotationMaxSeconds", "value": 0},
        ])).await;
        patched.assert_invalid(&["/secretPolicy/rotationMaxSeconds"]);
        assert_eq!(app.count_rows("clients").await, 1, "nothing stored for the refusals");
    }

    async fn a_stale_secret_is_reported_once_and_found_by_the_filter(app) {
        let (stale, _) = machine(&app, "Old", json!({"max_age_seconds": 1})).await;
        let (fresh, _) = machine(&app, "Young", json!({"max_age_seconds": 86_400})).await;
        let reported = until_events(&app, &stale, "secret.stale", 1).await;
        assert_eq!(reported[0]["actor"]["kind"], "autopilot");
        assert_eq!(reported[0]["tenant"], "acme");
        three_runs().await;
        assert_eq!(events(&app, &stale, "secret.stale").await.len(), 1, "reported once");
        assert!(events(&app, &fresh, "secret.stale").await.is_empty());
        let listed = app.admin().get("/tenants/acme/clients?filters=secretStale%20eq%20true&count=true").await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        let ids: Vec<_> = listed.json["items"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
        assert_eq!(ids, [json!(stale)]);
        assert_eq!(listed.header("x-total-count"), Some("1"));
        let others = app.admin().get("/clients?filters=secretStale%20eq%20false").await;
        let ids: Vec<_> = others.json["items"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
        assert_eq!(ids, [json!(fresh)]);
        // A longer policy makes it fresh again.
        let patched = app.admin().patch(&format!("/clients/{stale}"), json!([
            {"op": "replace", "path": "/secretPolicy/maxAgeSeconds", "value": 86_400},
        ])).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        let listed = app.admin().get("/clients?filters=secretStale%20eq%20true").await;
        assert_eq!(listed.json["items"], json!([]));
    }

    async fn a_rotation_completes_itself_once_the_next_secret_is_used_and_the_old_one_idle(app) {
        let (id, old) = machine(&app, "Hands-free", json!({"auto_complete_after_unused_seconds": 1})).await;
        let started = app.admin().post(&format!("/clients/{id}/secrets/rotate/start"), json!({})).await;
        let next = started.json["next_client_secret"].as_str().unwrap().to_owned();
        // Neither secret used: nothing completes.
        three_runs().await;
        assert_eq!(verify(&app, &id, &next).await["secret"], "next");
        // The old secret keeps being used: nothing completes either.
        let busy_until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < busy_until {
            assert_eq!(verify(&app, &id, &old).await["secret"], "current");
            assert_eq!(verify(&app, &id, &next).await["secret"], "next");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(events(&app, &id, "secret.rotate.complete").await.is_empty());
        // Once it falls idle, the autopilot completes the rotation.
        let completed = until_events(&app, &id, "secret.rotate.complete", 1).await;
        assert_eq!(completed[0]["actor"]["kind"], "autopilot");
        assert_eq!(completed[0]["document"]["next"], json!(null));
        assert_eq!(completed[0]["document"]["current"]["last_four"], &next[next.len() - 4..]);
        assert_eq!(verify(&app, &id, &next).await, json!({"valid": true, "secret": "current"}));
        let refused = app.admin().post(&format!("/clients/{id}/secrets/verify"), json!({"client_secret": old})).await;
        assert_eq!(refused.status, 401, "{}", refused.text);
        three_runs().await;
        assert_eq!(events(&app, &id, "secret.rotate.complete").await.len(), 1);
    }

    async fn an_unused_next_secret_never_completes_and_a_long_rotation_is_overdue_once(app) {
        let (id, _) = machine(&app, "Slow", json!({
            "auto_complete_after_unused_seconds": 1, "rotation_max_seconds": 2,
        })).await;
        let started = app.admin().post(&format!("/clients/{id}/secrets/rotate/start"), json!({})).await;
        assert_eq!(started.status, 200, "{}", started.text);
        let overdue = until_events(&app, &id, "secret.rotate.overdue", 1).await;
        assert_eq!(overdue[0]["actor"]["kind"], "autopilot");
        three_runs().await;
        assert_eq!(events(&app, &id, "secret.rotate.overdue").await.len(), 1, "reported once");
        assert!(events(&app, &id, "secret.rotate.complete").await.is_empty());
        let telemetry = app.admin().get(&format!("/clients/{id}/secrets")).await;
        assert!(telemetry.json["next"].is_object(), "{}", telemetry.text);
    }

    async fn a_policy_given_during_a_rotation_takes_effect(app) {
        let (id, _) = machine(&app, "Late", Value::Null).await;
        let started = app.admin().post(&format!("/clients/{id}/secrets/rotate/start"), json!({})).await;
        let next = started.json["next_client_secret"].as_str().unwrap().to_owned();
        assert_eq!(verify(&app, &id, &next).await["secret"], "next");
        three_runs().await;
        assert!(events(&app, &id, "secret.rotate.complete").await.is_empty());
        let patched = app.admin().patch(&format!("/clients/{id}"), json!([
            {"op": "replace", "path": "/secretPolicy/autoCompleteAfterUnusedSeconds", "value": 1},
        ])).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        until_events(&app, &id, "secret.rotate.complete", 1).await;
    }

    async fn credentials_are_warned_of_once_before_and_once_after_they_expire(app) {
        let (id, _) = machine(&app, "mTLS", Value::Null).await;
        let path = format!("/clients/{id}/credentials");
        let soon = app.admin().post(&path, json!({
            "credential_type": "cert_subject_dn", "subject_dn": "CN=soon.acme.example",
            "expires_at": rfc3339_in(4),
        })).await;
        assert_eq!(soon.status, 201, "{}", soon.text);
        let later = app.admin().post(&path, json!({
            "credential_type": "cert_subject_dn", "subject_dn": "CN=later.acme.example",
            "expires_at": rfc3339_in(30 * 86_400),
        })).await;
        assert_eq!(later.status, 201, "{}", later.text);
        let expiring = until_events(&app, &id, "credential.expiring", 1).await;
        assert_eq!(expiring[0]["resource_id"], soon.json["id"]);
        assert_eq!(expiring[0]["actor"]["kind"], "autopilot");
        let expired = until_events(&app, &id, "credential.expired", 1).await;
        assert_eq!(expired[0]["resource_id"], soon.json["id"]);
        three_runs().await;
        assert_eq!(events(&app, &id, "credential.expiring").await.len(), 1);
        assert_eq!(events(&app, &id, "credential.expired").await.len(), 1);
        // A new expiry starts the warnings again.
        let renewed = app.admin().send(
            reqwest::Method::PATCH,
            &format!("{path}/{}", later.json["id"].as_str().unwrap()),
            Some(json!({"expires_at": rfc3339_in(3)})),
        ).await;
        assert_eq!(renewed.status, 200, "{}", renewed.text);
        until_events(&app, &id, "credential.expiring", 2).await;
    }
}
