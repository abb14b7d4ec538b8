//! Finding clients: SailPoint's filters, sorters and counts, keyset paging under every
//! sorter, and credentials across clients.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::TestApp;

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Ids of every client a listing returns, following every cursor, `limit` at a time.
async fn all_ids(app: &TestApp, path: &str, query: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .admin()
            .get(&format!(
                "{path}?{query}&limit={limit}&cursor={}",
                encode(&cursor)
            ))
            .await;
        assert_eq!(page.status, 200, "{query}: {}", page.text);
        ids.extend(
            page.json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match page.json["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return ids,
        }
    }
}

async fn ids(app: &TestApp, filters: &str) -> BTreeSet<String> {
    all_ids(
        app,
        "/tenants/acme/clients",
        &format!("filters={}", encode(filters)),
        200,
    )
    .await
    .into_iter()
    .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

/// Four clients with different names, types, owners, grants and use.
async fn catalogue(app: &TestApp) {
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    for client in [
        json!({"id": "billing-api", "name": "Billing API", "app_type": "non_interactive", "client_metadata": {"owners": "ann@acme.example"}}),
        json!({"id": "billing-web", "name": "billing Portal", "app_type": "regular_web", "enabled": false}),
        json!({"id": "mobile", "name": "Acme Mobile", "app_type": "native", "client_metadata": {"owners": "bob@acme.example, ann@acme.example"}}),
        json!({"id": "spa", "name": "Dash_board 100%", "app_type": "spa"}),
    ] {
        app.create_client("acme", client).await;
    }
    app.create_client(
        "other",
        json!({"id": "billing-other", "name": "Billing Other", "app_type": "spa"}),
    )
    .await;
}

on_both_stores! {
    async fn every_field_and_operator_filters(app) {
        catalogue(&app).await;
        let created = app.admin().get("/clients/billing-api").await.json;
        let secret = app.admin().get("/clients/billing-api").await;
        assert_eq!(secret.status, 200);
        // billing-api has used its secret; the others never did.
        let job = app.admin().post("/tenants/acme/clients", json!({"name": "Job", "app_type": "non_interactive", "id": "used"})).await;
        let verified = app.admin().post("/clients/used/secrets/verify", json!({"client_secret": job.json["secret"]})).await;
        assert_eq!(verified.status, 200, "{}", verified.text);
        app.admin().get_until("/clients/used", |json| json["lastUsed"].is_string()).await;
        assert_eq!(ids(&app, r#"name eq "BILLING API""#).await, set(&["billing-api"]));
        assert_eq!(ids(&app, r#"name sw "billing""#).await, set(&["billing-api", "billing-web"]));
        assert_eq!(ids(&app, r#"name co "PORT""#).await, set(&["billing-web"]));
        assert_eq!(ids(&app, r#"name co "_board 100%""#).await, set(&["spa"]), "LIKE wildcards are literal");
        assert_eq!(ids(&app, r#"name co "%""#).await, set(&["spa"]));
        assert_eq!(ids(&app, r#"appType eq "native""#).await, set(&["mobile"]));
        assert_eq!(ids(&app, r#"appType in ("spa", "native")"#).await, set(&["mobile", "spa"]));
        assert_eq!(ids(&app, r#"type eq "CONFIDENTIAL""#).await, set(&["billing-api", "billing-web", "used"]));
        assert_eq!(ids(&app, r#"type in ("PUBLIC")"#).await, set(&["mobile", "spa"]));
        assert_eq!(ids(&app, "enabled eq false").await, set(&["billing-web"]));
        assert_eq!(ids(&app, r#"owners co "ann@acme.example""#).await, set(&["billing-api", "mobile"]));
        assert_eq!(ids(&app, r#"grantTypes co "client_credentials""#).await, set(&["billing-api", "used"]));
        assert_eq!(ids(&app, r#"grantTypes co "REFRESH_TOKEN""#).await, set(&["billing-web", "mobile", "spa"]));
        assert_eq!(ids(&app, "lastUsed isnull").await, set(&["billing-api", "billing-web", "mobile", "spa"]));
        assert_eq!(ids(&app, "lastUsed ge 2000-01-01T00:00:00Z").await, set(&["used"]));
        assert_eq!(ids(&app, "lastUsed le 2000-01-01T00:00:00Z").await, set(&[]));
        let at = created["created"].as_str().unwrap();
        assert!(ids(&app, &format!("created ge {at}")).await.contains("billing-api"));
        assert_eq!(ids(&app, "created le 2000-01-01T00:00:00Z").await, set(&[]));
        assert_eq!(ids(&app, "modified ge 2999-01-01T00:00:00Z").await, set(&[]));
        assert_eq!(
            ids(&app, r#"name sw "billing" and enabled eq true and type eq "CONFIDENTIAL""#).await,
            set(&["billing-api"])
        );
        // "Every client named billing-*, in every tenant I can see" is one call.
        let everywhere: BTreeSet<String> = all_ids(&app, "/clients", &format!("filters={}", encode(r#"name sw "billing""#)), 50).await.into_iter().collect();
        assert_eq!(everywhere, set(&["billing-api", "billing-other", "billing-web"]));
        let reader = app.create_token(&["client.read"], &["acme"]).await;
        let theirs = app.with_token(&reader).get(&format!("/clients?filters={}", encode(r#"name sw "billing""#))).await;
        let theirs: BTreeSet<String> = theirs.json["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(theirs, set(&["billing-api", "billing-web"]));
    }

    async fn a_bad_filter_or_sorter_is_a_400_naming_it(app) {
        catalogue(&app).await;
        for (query, named) in [
            (format!("filters={}", encode(r#"name gt "a""#)), "term 1"),
            (format!("filters={}", encode(r#"enabled eq true and colour eq "red""#)), "colour"),
            (format!("filters={}", encode("name eq bill")), "quoted"),
            (format!("filters={}", encode("lastUsed le soon")), "RFC 3339"),
            (format!("filters={}", encode(r#"type eq "SECRET""#)), "CONFIDENTIAL"),
            ("sorters=colour".to_owned(), "colour"),
            ("sorters=name,created".to_owned(), "one field"),
            ("sorter=name".to_owned(), "sorter"),
            ("count=maybe".to_owned(), "count"),
            ("sorters=name&cursor=billing-api".to_owned(), "cursor"),
        ] {
            for path in ["/tenants/acme/clients", "/clients"] {
                let response = app.admin().get(&format!("{path}?{query}")).await;
                let problem = response.assert_problem(400, "bad-request");
                assert!(problem["detail"].as_str().unwrap().contains(named), "{query}: {problem}");
            }
        }
    }

    async fn odd_ids_values_and_lists_are_handled(app) {
        app.create_tenant("acme").await;
        for id in ["s.alpha", "s.beta", "s.gamma"] {
            app.create_client("acme", json!({"id": id, "name": "Same", "app_type": "spa"})).await;
        }
        let paged = all_ids(&app, "/tenants/acme/clients", "", 1).await;
        assert_eq!(paged, ["s.alpha", "s.beta", "s.gamma"]);
        assert_eq!(ids(&app, r#"name eq "sAmE""#).await, set(&["s.alpha", "s.beta", "s.gamma"]));
        for bad in [r#"appType in ()"#.to_owned(), format!(r#"name co "{}""#, "_".repeat(201)), "x".repeat(5000)] {
            let response = app.admin().get(&format!("/clients?filters={}", encode(&bad))).await;
            response.assert_problem(400, "bad-request");
        }
        let forged = format!("s.{}", base64_url(concat!(r#"{"key":"Name","descending":false,"value":"a"#, "\u{0}", r#"","id":"x"}"#)));
        app.admin().get(&format!("/clients?sorters=name&cursor={forged}")).await.assert_problem(400, "bad-request");
        let unsupported = app.admin().get(&format!("/clients?filters={}", encode(r#"name eq "a" or name eq "b""#))).await;
        let problem = unsupported.assert_problem(400, "bad-request");
        assert!(problem["detail"].as_str().unwrap().contains("not supported"), "{problem}");
    }

    async fn count_adds_the_number_of_matches(app) {
        catalogue(&app).await;
        let page = app.admin().get(&format!("/tenants/acme/clients?limit=1&count=true&filters={}", encode(r#"name sw "billing""#))).await;
        assert_eq!(page.header("x-total-count"), Some("2"));
        assert_eq!(page.json["items"].as_array().unwrap().len(), 1);
        let all = app.admin().get("/clients?count=true&limit=1").await;
        assert_eq!(all.header("x-total-count"), Some("5"));
        assert!(app.admin().get("/clients").await.header("x-total-count").is_none());
    }

    async fn paging_visits_every_match_once_under_every_sorter(app) {
        app.create_tenant("acme").await;
        let names = ["delta", "Alpha", "charlie", "bravo", "alpha", "echo", "Charlie"];
        for (i, name) in names.iter().enumerate() {
            app.create_client("acme", json!({"id": format!("c{i}"), "name": name, "app_type": "spa"})).await;
        }
        let used = app.admin().post("/tenants/acme/clients", json!({"id": "u", "name": "used", "app_type": "non_interactive"})).await;
        app.admin().post("/clients/u/secrets/verify", json!({"client_secret": used.json["secret"]})).await;
        app.admin().get_until("/clients/u", |json| json["lastUsed"].is_string()).await;
        let every: BTreeSet<String> = all_ids(&app, "/tenants/acme/clients", "", 200).await.into_iter().collect();
        assert_eq!(every.len(), 8);
        for sorter in ["id", "-id", "name", "-name", "created", "-created", "modified", "-modified", "lastUsed", "-lastUsed"] {
            let paged = all_ids(&app, "/tenants/acme/clients", &format!("sorters={sorter}"), 2).await;
            let whole = all_ids(&app, "/tenants/acme/clients", &format!("sorters={sorter}"), 200).await;
            assert_eq!(paged, whole, "{sorter}: pages of 2 and one page disagree");
            assert_eq!(paged.iter().cloned().collect::<BTreeSet<_>>(), every, "{sorter}");
            assert_eq!(paged.len(), every.len(), "{sorter} visited a client twice");
        }
        let by_name = all_ids(&app, "/tenants/acme/clients", "sorters=name", 3).await;
        let names_in_order: Vec<String> = {
            let mut pairs: Vec<(String, String)> = names.iter().enumerate().map(|(i, n)| (n.to_lowercase(), format!("c{i}"))).collect();
            pairs.push(("used".to_owned(), "u".to_owned()));
            pairs.sort();
            pairs.into_iter().map(|(_, id)| id).collect()
        };
        assert_eq!(by_name, names_in_order, "case-insensitive, ties by id");
        let by_use = all_ids(&app, "/tenants/acme/clients", "sorters=-lastUsed", 3).await;
        assert_eq!(by_use[0], "u", "the used client comes first when descending");
    }

    async fn paging_stays_complete_while_clients_come_and_go(app) {
        app.create_tenant("acme").await;
        for i in 0..10 {
            app.create_client("acme", json!({"id": format!("k{i:02}"), "name": format!("n{}", 9 - i), "app_type": "spa"})).await;
        }
        // Page by name; between pages one client is deleted and one added.
        let mut seen = Vec::new();
        let mut cursor = String::new();
        let mut round = 0;
        loop {
            let page = app.admin().get(&format!("/tenants/acme/clients?sorters=name&limit=3&cursor={}", encode(&cursor))).await;
            assert_eq!(page.status, 200, "{}", page.text);
            seen.extend(page.json["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
            round += 1;
            assert_eq!(app.admin().delete(&format!("/clients/k{:02}", 10 - round)).await.status, 204);
            app.create_client("acme", json!({"id": format!("new{round}"), "name": "a-first", "app_type": "spa"})).await;
            match page.json["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a client was visited twice: {seen:?}");
        // Those that existed throughout were all seen.
        for i in 0..(10 - round) {
            assert!(seen.contains(&format!("k{i:02}")), "k{i:02} was skipped: {seen:?}");
        }
    }

    async fn credentials_are_found_across_clients_and_tenants(app) {
        catalogue(&app).await;
        let soon = (chrono::Utc::now() + chrono::TimeDelta::days(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let later = (chrono::Utc::now() + chrono::TimeDelta::days(90)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for (client, dn, expires) in [("billing-api", "CN=a", Some(&soon)), ("billing-web", "CN=b", Some(&later)), ("mobile", "CN=c", None), ("billing-other", "CN=d", Some(&soon))] {
            let mut body = json!({"credential_type": "cert_subject_dn", "subject_dn": dn});
            if let Some(at) = expires {
                body["expires_at"] = json!(at);
            }
            let added = app.admin().post(&format!("/clients/{client}/credentials"), body).await;
            assert_eq!(added.status, 201, "{}", added.text);
        }
        let month = (chrono::Utc::now() + chrono::TimeDelta::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let expiring = app.admin().get(&format!("/credentials?expires_before={}", encode(&month))).await;
        assert_eq!(expiring.status, 200, "{}", expiring.text);
        let found: BTreeSet<(String, String)> = expiring.json["items"].as_array().unwrap().iter()
            .map(|c| (c["client_id"].as_str().unwrap().to_owned(), c["tenant"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(found, [("billing-api".to_owned(), "acme".to_owned()), ("billing-other".to_owned(), "other".to_owned())].into_iter().collect());
        let reader = app.create_token(&["client.read"], &["acme"]).await;
        let theirs = app.with_token(&reader).get(&format!("/credentials?expires_before={}", encode(&month))).await;
        assert_eq!(theirs.json["items"].as_array().unwrap().len(), 1);
        assert_eq!(theirs.json["items"][0]["client_id"], "billing-api");
        let of_one = app.admin().get("/credentials?client_id=mobile&credential_type=cert_subject_dn").await;
        assert_eq!(of_one.json["items"].as_array().unwrap().len(), 1);
        assert!(of_one.json["items"][0].get("pem").is_none());
        let mut paged = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = app.admin().get(&format!("/credentials?limit=1&cursor={cursor}")).await;
            paged.extend(page.json["items"].as_array().unwrap().iter().map(|c| c["id"].clone()));
            match page.json["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(paged.len(), 4);
        for bad in ["expires_before=soon", "credential_type=pgp", "client_id=a%20b", "expiring=1"] {
            app.admin().get(&format!("/credentials?{bad}")).await.assert_problem(400, "bad-request");
        }
        let _: Value = json!(null);
    }
}
