//! The audit trail as a change feed (DESIGN 17): `order=asc` pages oldest first, the last
//! page's cursor is where a follower resumes, `wait` holds an empty page until an event
//! comes, and `clientd events --follow` prints events as they happen.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::TestApp;

fn actions(page: &Value) -> Vec<String> {
    (page["items"].as_array().unwrap().iter())
        .map(|event| event["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn spa(app: &TestApp, name: &str) -> String {
    let client = app
        .create_client("acme", json!({"name": name, "app_type": "spa"}))
        .await;
    client["id"].as_str().unwrap().to_owned()
}

on_both_stores! {
    async fn oldest_first_pages_resume_from_the_last_cursor(app) {
        app.create_tenant("acme").await;
        let first = spa(&app, "one").await;
        spa(&app, "two").await;
        app.admin().get_until("/tenants/acme/events?order=asc", |page| page["items"].as_array().unwrap().len() == 3).await;
        let page = app.admin().get("/tenants/acme/events?order=asc&limit=2").await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(actions(&page.json), ["tenant.create", "client.create"]);
        assert_eq!(page.json["items"][1]["resource_id"], first);
        let cursor = page.json["next_cursor"].as_str().unwrap().to_owned();
        let rest = app.admin().get(&format!("/tenants/acme/events?order=asc&cursor={cursor}")).await;
        assert_eq!(actions(&rest.json), ["client.create"]);
        // The last page still has a cursor: where a follower goes on.
        let end = rest.json["next_cursor"].as_str().unwrap().to_owned();
        let nothing = app.admin().get(&format!("/tenants/acme/events?order=asc&cursor={end}")).await;
        assert_eq!((nothing.json["items"].clone(), nothing.json["next_cursor"].as_str()), (json!([]), Some(end.as_str())));
        let third = spa(&app, "three").await;
        let after_end = format!("/tenants/acme/events?order=asc&cursor={end}");
        let news = app.admin().get_until(&after_end, |page| !page["items"].as_array().unwrap().is_empty()).await;
        assert_eq!(actions(&news), ["client.create"]);
        assert_eq!(news["items"][0]["resource_id"], third);
        // The same on the whole trail and a client's, with filters.
        app.admin().get_until("/tenants/acme/events?order=asc", |page| page["items"].as_array().unwrap().len() == 4).await;
        let all = app.admin().get("/events?order=asc&action=client.create").await;
        assert_eq!(all.json["items"].as_array().unwrap().len(), 3);
        let own = app.admin().get(&format!("/clients/{first}/events?order=asc")).await;
        assert_eq!(actions(&own.json), ["client.create"]);
    }

    async fn wait_holds_an_empty_page_until_an_event_comes(app) {
        app.create_tenant("acme").await;
        // An event is in the feed once no older transaction can still commit before it.
        let page = app.admin().get_until("/tenants/acme/events?order=asc", |page| !page["items"].as_array().unwrap().is_empty()).await;
        let end = page["next_cursor"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let (admin, path) = (app.admin(), format!("/tenants/acme/events?order=asc&wait=10&cursor={end}"));
        let waiting = admin.get(&path);
        let (answer, id) = tokio::join!(waiting, async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            spa(&app, "awaited").await
        });
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(actions(&answer.json), ["client.create"]);
        assert_eq!(answer.json["items"][0]["resource_id"], id);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        // Nothing comes: an empty page once the wait is over.
        let end = answer.json["next_cursor"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let quiet = app.admin().get(&format!("/tenants/acme/events?order=asc&wait=1&cursor={end}")).await;
        assert_eq!(quiet.json["items"], json!([]));
        assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    }

    async fn order_wait_and_cursor_are_checked(app) {
        app.create_tenant("acme").await;
        for (query, named) in [
            ("order=sideways", "order"),
            ("order=asc&wait=26", "wait"),
            ("order=asc&cursor=x.1", "cursor"),
            ("cursor=3.", "cursor"),
            ("cursor=abc", "cursor"),
        ] {
            let refused = app.admin().get(&format!("/tenants/acme/events?{query}")).await;
            let problem = refused.assert_problem(400, "bad-request");
            assert!(problem["detail"].as_str().unwrap().contains(named), "{query}: {}", refused.text);
        }
        // Walls as for every events route: another tenant's feed is not found.
        app.create_tenant("other").await;
        let auditor = app.create_token(&["audit.read"], &["acme"]).await;
        app.with_token(&auditor).get("/tenants/other/events?order=asc&wait=1").await.assert_problem(404, "not-found");
        assert_eq!(app.with_token(&auditor).get("/tenants/acme/events?order=asc").await.status, 200);
    }

    async fn clientd_events_follow_prints_events_as_they_happen(app) {
        app.create_tenant("acme").await;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_clientd"))
            .env_clear()
            .env("CLIENTD_URL", format!("http://{}", app.address))
            .env("CLIENTD_TOKEN", &app.admin_token)
            .args(["events", "--follow", "--tenant", "acme"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let next_line = async |lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>| {
            let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
            let line = line.expect("a line within 10 s").unwrap().expect("the follower ended");
            serde_json::from_str::<Value>(&line).unwrap()
        };
        assert_eq!(next_line(&mut lines).await["action"], "tenant.create");
        let id = spa(&app, "followed").await;
        let event = next_line(&mut lines).await;
        assert_eq!((event["action"].as_str(), event["resource_id"].as_str()), (Some("client.create"), Some(id.as_str())));
        child.kill().await.unwrap();
    }
}
