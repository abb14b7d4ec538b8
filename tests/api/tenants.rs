//! `/tenants`: create, read, list with keyset paging, delete.

use serde_json::json;

on_both_stores! {
    async fn admin_creates_a_tenant_and_reads_it_back(app) {
        let created = app.admin().post("/tenants", json!({"id": "acme-prod", "name": "Acme"})).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.header("location"), Some("/tenants/acme-prod"));
        assert_eq!(created.json["id"], "acme-prod");
        assert_eq!(created.json["name"], "Acme");
        let stamp = created.json["created"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok() && stamp.ends_with('Z') && stamp.len() == 24, "{stamp}");

        let read = app.admin().get("/tenants/acme-prod").await;
        assert_eq!(read.status, 200);
        assert_eq!(read.json, created.json);
    }

    async fn a_tenant_created_under_v1_links_under_v1(app) {
        let created = app.admin().post("/v1/tenants", json!({"id": "acme", "name": "Acme"})).await;
        assert_eq!(created.header("location"), Some("/v1/tenants/acme"));
    }

    async fn creating_a_tenant_twice_is_409(app) {
        app.create_tenant("acme").await;
        let again = app.admin().post("/tenants", json!({"id": "acme", "name": "Other"})).await;
        again.assert_problem(409, "conflict");
        assert_eq!(app.admin().get("/tenants/acme").await.json["name"], "Tenant acme");
    }

    async fn a_bad_tenant_id_and_name_are_422_each(app) {
        let response = app.admin().post("/tenants", json!({"id": "Acme Corp", "name": "  "})).await;
        response.assert_invalid(&["/id", "/name"]);
        assert_eq!(app.admin().get("/tenants").await.json["items"], json!([]));
    }

    async fn a_missing_tenant_field_is_422_pointing_at_it(app) {
        app.admin().post("/tenants", json!({"id": "acme"})).await.assert_invalid(&["/name"]);
    }

    async fn a_wrongly_typed_tenant_field_is_422_pointing_at_it(app) {
        app.admin().post("/tenants", json!({"id": "acme", "name": 7})).await.assert_invalid(&["/name"]);
    }

    async fn an_unknown_tenant_field_is_400_naming_it(app) {
        let response = app.admin().post("/tenants", json!({"id": "acme", "name": "A", "plan": "gold"})).await;
        let problem = response.assert_problem(400, "bad-request");
        assert!(problem["detail"].as_str().unwrap().contains("plan"), "{}", response.text);
    }

    async fn tenants_are_listed_in_pages_by_id(app) {
        for id in ["e", "a", "d", "c", "b"] {
            app.create_tenant(id).await;
        }
        let mut seen = Vec::new();
        let mut path = "/tenants?limit=2".to_owned();
        loop {
            let page = app.admin().get(&path).await;
            assert_eq!(page.status, 200, "{}", page.text);
            let items = page.json["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
            match page.json["next_cursor"].as_str() {
                Some(cursor) => path = format!("/tenants?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    }

    async fn a_full_last_page_has_no_next_cursor(app) {
        app.create_tenant("a").await;
        app.create_tenant("b").await;
        let page = app.admin().get("/tenants?limit=2").await;
        assert_eq!(page.json["items"].as_array().unwrap().len(), 2);
        assert_eq!(page.json["next_cursor"], json!(null));
    }

    async fn a_bad_limit_is_400(app) {
        for query in ["limit=0", "limit=201", "limit=ten"] {
            let response = app.admin().get(&format!("/tenants?{query}")).await;
            response.assert_problem(400, "bad-request");
        }
    }

    async fn any_cursor_is_a_lower_bound_and_an_empty_one_the_first_page(app) {
        for id in ["a", "m", "z"] {
            app.create_tenant(id).await;
        }
        let ids = |response: crate::helpers::TestResponse| -> Vec<String> {
            (response.json["items"].as_array().unwrap().iter())
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids(app.admin().get("/tenants?cursor=").await), ["a", "m", "z"]);
        assert_eq!(ids(app.admin().get("/tenants?cursor=b").await), ["m", "z"]);
        assert_eq!(ids(app.admin().get("/tenants?cursor=%C3%A9%25").await), Vec::<String>::new());
    }

    async fn deleting_a_tenant_is_204_and_then_it_is_gone(app) {
        app.create_tenant("acme").await;
        let deleted = app.admin().delete("/tenants/acme").await;
        assert_eq!(deleted.status, 204);
        assert_eq!(deleted.text, "");
        app.admin().get("/tenants/acme").await.assert_problem(404, "not-found");
        app.admin().delete("/tenants/acme").await.assert_problem(404, "not-found");
    }

    async fn reading_a_tenant_that_does_not_exist_is_404(app) {
        app.admin().get("/tenants/nobody").await.assert_problem(404, "not-found");
        app.admin().get("/tenants/Not%20An%20Id").await.assert_problem(404, "not-found");
    }
}
