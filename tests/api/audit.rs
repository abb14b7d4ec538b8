//! The audit trail and dry runs (idempotent retries are in `idempotency`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fixture};

const PATCH_JSON: &str = "application/json-patch+json";

/// Every event, newest first, following every cursor.
pub(crate) async fn all_events(app: &TestApp, path: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = app
            .admin()
            .get(&format!("{path}{sep}limit=3&cursor={cursor}"))
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        events.extend(page.json["items"].as_array().unwrap().iter().cloned());
        match page.json["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return events,
        }
    }
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

on_both_stores! {
    async fn concurrent_deletes_delete_once_with_one_event_of_the_last_version(app) {
        app.create_tenant("acme").await;
        let created = app.create_client("acme", json!({"name": "Job", "app_type": "spa"})).await;
        let client = format!("/clients/{}", created["id"].as_str().unwrap());
        // Read (and so held in memory), then changed: a delete must record the last version.
        app.admin().get(&client).await;
        app.admin().patch(&client, json!([{"op": "replace", "path": "/name", "value": "Last"}])).await;
        let admin = app.admin();
        let deletes = futures_util::future::join_all((0..6).map(|_| admin.delete(&client))).await;
        let mut statuses: Vec<u16> = deletes.iter().map(|d| d.status).collect();
        statuses.sort();
        assert_eq!(statuses, [204, 404, 404, 404, 404, 404]);
        let events = app.admin().get(&format!("{client}/events?action=client.delete")).await.json;
        let events = events["items"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["document"]["name"], "Last");
    }

    async fn every_change_is_one_event_in_order_without_secrets(app) {
        app.create_tenant("acme").await;
        let token = app.admin().post("/tokens", json!({"name": "ci", "permissions": ["client.write"], "tenants": ["acme"]})).await;
        let token_text = token.json["token"].as_str().unwrap().to_owned();
        let token_id = token.json["id"].as_str().unwrap().to_owned();
        let created = app.with_token(&token_text)
            .post("/tenants/acme/clients", json!({"name": "Job", "app_type": "non_interactive"}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let secret = created.json["secret"].as_str().unwrap().to_owned();
        let client = format!("/clients/{}", created.json["id"].as_str().unwrap());
        let patched = app.patch(&client, PATCH_JSON, None, json!([
            {"op": "replace", "path": "/name", "value": "Job 2"},
            {"op": "add", "path": "/scope/-", "value": "read:all"},
        ])).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        let pem = fixture("rsa2048-a-public.pem");
        let credential = app.admin().post(&format!("{client}/credentials"), json!({"credential_type": "public_key", "pem": pem})).await;
        assert_eq!(credential.status, 201, "{}", credential.text);
        let credential = format!("{client}/credentials/{}", credential.json["id"].as_str().unwrap());
        let expiry = app.admin().send(Method::PATCH, &credential, Some(json!({"expires_at": "2099-01-01T00:00:00Z"}))).await;
        assert_eq!(expiry.status, 200, "{}", expiry.text);
        assert_eq!(app.admin().delete(&credential).await.status, 204);
        let started = app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await;
        let next = started.json["next_client_secret"].as_str().unwrap().to_owned();
        assert_eq!(app.admin().post(&format!("{client}/secrets/rotate"), json!({})).await.status, 200);
        assert_eq!(app.admin().post(&format!("{client}/secrets/rotate/start"), json!({})).await.status, 200);
        assert_eq!(app.admin().post(&format!("{client}/secrets/rotate/cancel"), json!({})).await.status, 200);
        // Not changes: a verification, a refused patch, a dry run.
        app.admin().post(&format!("{client}/secrets/verify"), json!({"client_secret": next})).await;
        app.patch(&client, PATCH_JSON, None, json!([{"op": "replace", "path": "/name", "value": ""}])).await.assert_problem(422, "validation");
        assert_eq!(app.admin().post("/tenants/acme/clients?dry_run=true", json!({"name": "Dry", "app_type": "spa"})).await.status, 201);
        assert_eq!(app.admin().delete(&client).await.status, 204);
        assert_eq!(app.admin().delete(&format!("/tokens/{token_id}")).await.status, 204);
        assert_eq!(app.admin().delete("/tenants/acme").await.status, 204);

        let events = all_events(&app, "/events").await;
        let mut expected = vec![
            "tenant.create", "token.create", "client.create", "client.patch", "credential.create",
            "credential.patch", "credential.delete", "secret.rotate.start", "secret.rotate.complete",
            "secret.rotate.start", "secret.rotate.cancel", "client.delete", "token.revoke", "tenant.delete",
        ];
        expected.reverse();
        assert_eq!(actions(&events), expected);
        let by_token = &events[expected.len() - 3];
        assert_eq!(by_token["action"], "client.create");
        assert_eq!(by_token["actor"], json!({"kind": "token", "token_id": token_id, "token_name": "ci"}));
        assert_eq!(by_token["tenant"], "acme");
        assert_eq!(by_token["resource_type"], "client");
        assert_eq!(by_token["resource_path"], client);
        assert!(by_token["request_id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(by_token["source_ip"], "127.0.0.1");
        assert_eq!(events[0]["actor"]["kind"], "bootstrap");
        let patch = &events[expected.len() - 4];
        assert_eq!(patch["patch"][0], json!({"op": "replace", "path": "/name", "value": "Job 2"}));
        assert_eq!(patch["changed"], json!(["name", "scope"]));
        assert_eq!(patch["document"]["name"], "Job 2");
        let text = serde_json::to_string(&events).unwrap();
        for leaked in [secret.as_str(), next.as_str(), token_text.as_str(), "BEGIN PUBLIC KEY", &pem[30..80]] {
            assert!(!text.contains(leaked), "an event holds {leaked}");
        }
    }

    async fn events_are_filtered_and_walled_like_their_resources(app) {
        app.create_tenant("acme").await;
        app.create_tenant("other").await;
        let a = app.create_client("acme", json!({"name": "A", "app_type": "spa"})).await;
        let b = app.create_client("other", json!({"name": "B", "app_type": "spa"})).await;
        let reader = app.create_token(&["client.read"], &["acme"]).await;
        let reader = app.with_token(&reader);
        let acme = reader.get("/tenants/acme/events").await;
        assert_eq!(acme.status, 200, "{}", acme.text);
        assert_eq!(actions(acme.json["items"].as_array().unwrap()), ["client.create", "tenant.create"]);
        reader.get("/tenants/other/events").await.assert_problem(404, "not-found");
        reader.get(&format!("/clients/{}/events", b["id"].as_str().unwrap())).await.assert_problem(404, "not-found");
        reader.get("/events").await.assert_problem(403, "forbidden");
        let only_clients = app.admin().get("/events?resource_type=client").await;
        assert_eq!(only_clients.json["items"].as_array().unwrap().len(), 2);
        let creates = app.admin().get("/events?action=tenant.create&limit=1").await;
        assert_eq!(creates.json["items"][0]["tenant"], "other");
        let future = app.admin().get("/events?since=2999-01-01T00:00:00Z").await;
        assert_eq!(future.json["items"], json!([]));
        let past = app.admin().get("/events?until=2000-01-01T00:00:00Z").await;
        assert_eq!(past.json["items"], json!([]));
        let nobody = app.admin().get("/events?actor=0192e4a0-0000-7000-8000-000000000000").await;
        assert_eq!(nobody.json["items"], json!([]));
        for bad in ["action=client.rename", "resource_type=widget", "actor=me", "since=yesterday",
                    "until=2026-13-01T00:00:00Z", "cursor=abc", "limit=0", "sort=name"] {
            app.admin().get(&format!("/events?{bad}")).await.assert_problem(400, "bad-request");
        }
        // A client's history outlives it, for whoever can read its tenant.
        let client = format!("/clients/{}", a["id"].as_str().unwrap());
        assert_eq!(app.admin().delete(&client).await.status, 204);
        let history = reader.get(&format!("{client}/events")).await;
        assert_eq!(history.status, 200, "{}", history.text);
        assert_eq!(actions(history.json["items"].as_array().unwrap()), ["client.delete", "client.create"]);
        app.admin().get("/clients/never-was/events").await.assert_problem(404, "not-found");
    }

    async fn events_past_retention_are_pruned(app) {
        app.create_tenant("old").await;
        app.age_events(401).await;
        app.create_tenant("new").await;
        let settings = clientd::config::Settings::for_database(&app.database.url);
        let store = clientd::connect(&settings).await.unwrap();
        let core = clientd::app::App::new(store, &settings);
        clientd::app::prune(&core, chrono::TimeDelta::days(400)).await;
        let events = all_events(&app, "/events").await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["tenant"], "new");
    }

    async fn no_route_changes_an_event(app) {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            app.admin().send(method, "/events", Some(json!({}))).await.assert_problem(405, "method-not-allowed");
        }
    }

    async fn a_dry_run_answers_as_the_real_call_and_keeps_nothing(app) {
        app.create_tenant("acme").await;
        let dry = app.admin().post("/tenants/acme/clients?dry_run=true", json!({"name": "Job", "app_type": "non_interactive", "id": "job-1"})).await;
        assert_eq!(dry.status, 201, "{}", dry.text);
        assert_eq!(dry.header("dry-run"), Some("true"));
        assert_eq!(dry.json["name"], "Job");
        assert!(dry.json.get("secret").is_none(), "{}", dry.text);
        assert_eq!(app.count_rows("clients").await, 0);
        assert_eq!(app.count_rows("client_secrets").await, 0);
        app.admin().post("/tenants/nowhere/clients?dry_run=true", json!({"name": "Job", "app_type": "spa"})).await.assert_problem(404, "not-found");
        app.admin().post("/tenants/acme/clients?dry_run=true", json!({"name": "", "app_type": "spa"})).await.assert_invalid(&["/name"]);
        app.admin().post("/tenants/acme/clients?dryrun=true", json!({"name": "Job", "app_type": "spa"})).await.assert_problem(400, "bad-request");
        assert_eq!(app.count_rows("clients").await, 0);
        let real = app.create_client("acme", json!({"name": "Job", "app_type": "non_interactive", "id": "job-1"})).await;
        app.admin().post("/tenants/acme/clients?dry_run=true", json!({"name": "Job", "app_type": "spa", "id": "job-1"})).await.assert_problem(409, "conflict");
        let path = "/clients/job-1";
        let before = app.admin().get(path).await;
        let request = app.admin().raw(Method::PATCH, &format!("{path}?dry_run=true"))
            .header("content-type", PATCH_JSON)
            .body(json!([{"op": "replace", "path": "/name", "value": "Renamed"}]).to_string());
        let dry_patch = app.admin().send_raw(request).await;
        assert_eq!(dry_patch.status, 200, "{}", dry_patch.text);
        assert_eq!(dry_patch.header("dry-run"), Some("true"));
        assert_eq!(dry_patch.json["name"], "Renamed");
        assert_eq!(app.admin().get(path).await.json, before.json);
        // A move to a tenant that does not exist is refused as the real patch refuses it.
        let request = app.admin().raw(Method::PATCH, &format!("{path}?dry_run=true"))
            .header("content-type", PATCH_JSON)
            .body(json!([{"op": "replace", "path": "/tenant", "value": "nowhere"}]).to_string());
        app.admin().send_raw(request).await.assert_invalid(&["/tenant"]);
        let pem = fixture("rsa2048-a-public.pem");
        let dry_key = app.admin().post(&format!("{path}/credentials?dry_run=true"), json!({"credential_type": "public_key", "pem": pem})).await;
        assert_eq!(dry_key.status, 201, "{}", dry_key.text);
        assert_eq!(dry_key.header("dry-run"), Some("true"));
        assert_eq!(app.count_rows("client_credentials").await, 0);
        // The duplicate key a real add meets.
        let key = json!({"credential_type": "public_key", "pem": fixture("rsa2048-a-public.pem")});
        assert_eq!(app.admin().post(&format!("{path}/credentials"), key.clone()).await.status, 201);
        let again = app.admin().post(&format!("{path}/credentials?dry_run=true"), key).await;
        assert_eq!(again.status, 409, "{}", again.text);
        let events = all_events(&app, "/events").await;
        assert_eq!(actions(&events), ["credential.create", "client.create", "tenant.create"]);
        assert!(real.get("secret").is_some());
    }

    /// Pages of large items stop at about 1 MiB, whatever `limit` asks, and their cursors
    /// go on in the same order: nothing skipped, nothing twice.
    async fn pages_of_large_items_are_bounded_in_bytes(app) {
        app.create_tenant("acme").await;
        let callbacks: Vec<String> = (0..55).map(|i| format!("https://app.example/{i}/{}", "x".repeat(2_000))).collect();
        for i in 0..12 {
            app.create_client("acme", json!({"name": format!("Big {i:02}"), "app_type": "spa", "callbacks": callbacks})).await;
        }
        for (first, expected) in [("/tenants/acme/events?limit=200", 13), ("/tenants/acme/clients?limit=200&sorters=name", 12)] {
            let mut seen = Vec::new();
            let mut path = first.to_owned();
            let mut pages = 0;
            loop {
                let page = app.admin().get(&path).await;
                assert_eq!(page.status, 200, "{}", page.text);
                assert!(page.text.len() < 1_300_000, "{path}: a page of {} bytes", page.text.len());
                let items = page.json["items"].as_array().unwrap();
                assert!(!items.is_empty());
                seen.extend(items.iter().map(|item| item["id"].clone()));
                pages += 1;
                match page.json["next_cursor"].as_str() {
                    Some(cursor) => {
                        let cursor: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
                        path = format!("{first}&cursor={cursor}");
                    }
                    None => break,
                }
            }
            assert!(pages >= 2, "{first}: one page held everything");
            let mut unique = seen.clone();
            unique.sort_by_key(|id| id.to_string());
            unique.dedup();
            assert_eq!((seen.len(), unique.len()), (expected, expected), "{first}");
        }
    }

    /// A tenant made again under a deleted one's id starts with an empty trail; the admin's
    /// trail of everything still shows the old tenant's past.
    async fn a_tenant_made_again_does_not_inherit_the_old_ones_past(app) {
        app.create_tenant("acme").await;
        let job = app.create_client("acme", json!({"id": "job-1", "name": "Job", "app_type": "spa"})).await;
        assert_eq!(app.admin().delete(&format!("/clients/{}", job["id"].as_str().unwrap())).await.status, 204);
        assert_eq!(app.admin().delete("/tenants/acme").await.status, 204);
        // While the tenant is gone, its trail is still there to read.
        assert_eq!(all_events(&app, "/tenants/acme/events").await.len(), 4);
        app.create_tenant("acme").await;
        let fresh = all_events(&app, "/tenants/acme/events").await;
        let actions: Vec<_> = fresh.iter().map(|event| event["action"].clone()).collect();
        assert_eq!(actions, vec![json!("tenant.create")]);
        let reused = app.create_client("acme", json!({"id": "job-1", "name": "Job again", "app_type": "spa"})).await;
        let of_client = all_events(&app, &format!("/clients/{}/events", reused["id"].as_str().unwrap())).await;
        assert_eq!(of_client.len(), 1, "{of_client:?}");
        assert_eq!(of_client[0]["document"]["name"], "Job again");
        let filtered = all_events(&app, "/tenants/acme/events?action=client.delete").await;
        assert!(filtered.is_empty(), "{filtered:?}");
        let everything = all_events(&app, "/events?action=tenant.create").await;
        assert_eq!(everything.len(), 2);
    }
}
