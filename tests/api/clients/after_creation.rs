//! A client once created: read with a strong ETag, listed in keyset pages, deleted with its
//! secret, and walled in by its tenant and by what a token may do.

use serde_json::json;

on_both_stores! {
    async fn a_read_answers_the_document_with_a_strong_etag(app) {
        app.create_tenant("acme").await;
        let mut created = app.create_client("acme", json!({"name": "Web", "app_type": "regular_web"})).await;
        created.as_object_mut().unwrap().remove("secret");
        let id = created["id"].as_str().unwrap().to_owned();
        let first = app.admin().get(&format!("/clients/{id}")).await;
        let second = app.admin().get(&format!("/v1/clients/{id}")).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.json, created);
        let etag = first.header("etag").unwrap();
        assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
        assert_eq!(second.header("etag"), Some(etag));
    }

    async fn reading_an_unknown_client_is_404(app) {
        app.admin().get("/clients/nope").await.assert_problem(404, "not-found");
        app.admin().get("/clients/not%20an%20id").await.assert_problem(404, "not-found");
    }

    async fn clients_are_listed_in_pages_by_id(app) {
        app.create_tenant("acme").await;
        app.create_tenant("other").await;
        for i in [3, 1, 5, 2, 4] {
            app.create_client("acme", json!({"id": format!("client-{i}"), "name": "c", "app_type": "spa"})).await;
        }
        app.create_client("other", json!({"id": "client-0", "name": "c", "app_type": "spa"})).await;
        let mut seen = Vec::new();
        let mut path = "/tenants/acme/clients?limit=2".to_owned();
        let mut pages = 0;
        loop {
            let page = app.admin().get(&path).await;
            assert_eq!(page.status, 200, "{}", page.text);
            pages += 1;
            seen.extend(page.json["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
            match page.json["next_cursor"].as_str() {
                Some(cursor) => path = format!("/tenants/acme/clients?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, ["client-1", "client-2", "client-3", "client-4", "client-5"]);
        let first = app.admin().get("/tenants/acme/clients").await;
        assert_eq!(first.json["items"][0]["name"], "c");
        assert!(first.json["items"][0].get("secret").is_none());
    }

    async fn listing_checks_its_limit_and_tenant(app) {
        app.create_tenant("acme").await;
        app.admin().get("/tenants/acme/clients?limit=201").await.assert_problem(400, "bad-request");
        app.admin().get("/tenants/ghost/clients").await.assert_problem(404, "not-found");
        let empty = app.admin().get("/tenants/acme/clients").await;
        assert_eq!((empty.status, &empty.json["items"]), (200, &json!([])));
        let past_the_end = app.admin().get("/tenants/ghost/clients?cursor=zzz").await;
        past_the_end.assert_problem(404, "not-found");
    }

    async fn deleting_a_client_removes_it_with_its_secret(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "Web", "app_type": "regular_web"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let deleted = app.admin().delete(&path).await;
        assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
        app.admin().get(&path).await.assert_problem(404, "not-found");
        app.admin().delete(&path).await.assert_problem(404, "not-found");
        assert_eq!(app.count_rows("client_secrets").await, 0);
    }

    async fn a_tenant_with_clients_cannot_be_deleted(app) {
        app.create_tenant("acme").await;
        let c = app.create_client("acme", json!({"name": "Web", "app_type": "spa"})).await;
        let refused = app.admin().delete("/tenants/acme").await;
        let problem = refused.assert_problem(409, "conflict");
        assert!(problem["detail"].as_str().unwrap().contains("clients"));
        assert_eq!(app.admin().get("/tenants/acme").await.status, 200);
        app.admin().delete(&format!("/clients/{}", c["id"].as_str().unwrap())).await;
        assert_eq!(app.admin().delete("/tenants/acme").await.status, 204);
    }

    async fn another_tenants_client_is_404_for_read_patch_and_delete(app) {
        app.create_tenant("a").await;
        app.create_tenant("b").await;
        let c = app.create_client("a", json!({"name": "Secret project", "app_type": "spa"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let outsider = app.create_token(&["client.write"], &["b"]).await;
        let caller = app.with_token(&outsider);
        let missing = caller.get("/clients/does-not-exist").await;
        for response in [
            caller.get(&path).await,
            caller.patch(&path, json!([{"op": "replace", "path": "/name", "value": "pwned"}])).await,
            caller.delete(&path).await,
        ] {
            response.assert_problem(404, "not-found");
            assert_eq!(response.json["detail"], missing.json["detail"]);
        }
        caller.get("/tenants/a/clients").await.assert_problem(404, "not-found");
        assert_eq!(app.admin().get(&path).await.json["name"], "Secret project");
    }

    async fn creating_where_the_token_cannot_write_is_403(app) {
        app.create_tenant("a").await;
        app.create_tenant("b").await;
        let body = json!({"name": "x", "app_type": "spa"});
        let reader = app.create_token(&["client.read"], &["a"]).await;
        let other_writer = app.create_token(&["client.write"], &["b"]).await;
        let global_reader = app.create_token(&["client.read.all"], &[]).await;
        for token in [&reader, &other_writer, &global_reader] {
            app.with_token(token).post("/tenants/a/clients", body.clone()).await.assert_problem(403, "forbidden");
        }
        assert_eq!(app.count_rows("clients").await, 0);
        let writer = app.create_token(&["client.write"], &["a"]).await;
        assert_eq!(app.with_token(&writer).post("/tenants/a/clients", body.clone()).await.status, 201);
        let sailpoint = app.create_token(&["sp:oauth-client:manage"], &[]).await;
        assert_eq!(app.with_token(&sailpoint).post("/tenants/b/clients", body).await.status, 201);
    }

    async fn a_reader_sees_clients_but_cannot_change_them(app) {
        app.create_tenant("a").await;
        let c = app.create_client("a", json!({"name": "Web", "app_type": "spa"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let reader = app.create_token(&["client.read"], &["a"]).await;
        let caller = app.with_token(&reader);
        assert_eq!(caller.get(&path).await.status, 200);
        assert_eq!(caller.get("/tenants/a/clients").await.status, 200);
        caller.patch(&path, json!([{"op": "replace", "path": "/name", "value": "x"}])).await.assert_problem(403, "forbidden");
        caller.delete(&path).await.assert_problem(403, "forbidden");
    }

    async fn moving_a_client_needs_write_on_both_tenants(app) {
        for tenant in ["a", "b"] {
            app.create_tenant(tenant).await;
        }
        let c = app.create_client("a", json!({"name": "Web", "app_type": "spa"})).await;
        let path = format!("/clients/{}", c["id"].as_str().unwrap());
        let move_to = |tenant: &str| json!([{"op": "replace", "path": "/tenant", "value": tenant}]);
        let one_side = app.create_token(&["client.write"], &["a"]).await;
        app.with_token(&one_side).patch(&path, move_to("b")).await.assert_problem(403, "forbidden");
        let both = app.create_token(&["client.write"], &["a", "b"]).await;
        let moved = app.with_token(&both).patch(&path, move_to("b")).await;
        assert_eq!(moved.status, 200, "{}", moved.text);
        assert_eq!(moved.json["tenant"], "b");
        assert_eq!(app.admin().get("/tenants/b/clients").await.json["items"][0]["id"], c["id"]);
        assert_eq!(app.admin().get("/tenants/a/clients").await.json["items"], json!([]));
        app.patch(&path, "application/json-patch+json", None, move_to("ghost")).await.assert_invalid_fields(&["/tenant"]);
        app.patch(&path, "application/json-patch+json", None, move_to("Not Valid")).await.assert_invalid_fields(&["/tenant"]);
    }
}
