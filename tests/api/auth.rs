//! Who may call: 401 without valid credentials, 403 without the permission, 404 across walls.

use serde_json::json;

on_both_stores! {
    async fn no_credentials_is_401_with_both_challenges(app) {
        let response = app.anonymous().get("/tenants").await;
        response.assert_problem(401, "unauthorized");
        let challenges: Vec<_> = (response.headers.get_all("www-authenticate").iter())
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(challenges, [r#"Bearer realm="clientd""#, r#"Basic realm="clientd""#]);
    }

    async fn malformed_or_unknown_credentials_are_401(app) {
        let forged = format!("Bearer cdt_{}_{}", uuid::Uuid::now_v7().simple(), "x".repeat(43));
        for authorization in [
            "Bearer",
            "Bearer not-a-token",
            forged.as_str(),
            "Basic !!!",
            "Digest abc",
            "Basic dXNlcjp3cm9uZy1wYXNzd29yZA==",
        ] {
            let response = app.with_authorization(authorization).get("/tenants").await;
            response.assert_problem(401, "unauthorized");
            assert!(response.header("www-authenticate").is_some());
        }
    }

    async fn a_token_with_the_right_id_but_wrong_secret_is_401(app) {
        let token = app.create_token(&["admin"], &[]).await;
        let (prefix, _) = token.rsplit_once('_').unwrap();
        let tampered = format!("{prefix}_{}", "A".repeat(43));
        app.with_token(&tampered).get("/tenants").await.assert_problem(401, "unauthorized");
    }

    async fn a_tenant_bound_token_sees_only_its_tenants(app) {
        for id in ["a", "b", "c"] {
            app.create_tenant(id).await;
        }
        let token = app.create_token(&["client.read"], &["a", "c"]).await;
        let caller = app.with_token(&token);
        let listed = caller.get("/tenants").await;
        let ids: Vec<_> = (listed.json["items"].as_array().unwrap().iter())
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(caller.get("/tenants/a").await.status, 200);
        // Another tenant's existence is not revealed: 404, exactly as for a missing one.
        let hidden = caller.get("/tenants/b").await;
        let missing = caller.get("/tenants/zzz").await;
        hidden.assert_problem(404, "not-found");
        assert_eq!(hidden.json["detail"], missing.json["detail"]);
    }

    async fn global_readers_see_every_tenant(app) {
        app.create_tenant("a").await;
        app.create_tenant("b").await;
        let token = app.create_token(&["client.read.all"], &[]).await;
        let listed = app.with_token(&token).get("/tenants").await;
        assert_eq!(listed.json["items"].as_array().unwrap().len(), 2);
    }

    async fn only_admins_create_and_delete_tenants(app) {
        app.create_tenant("a").await;
        let writer = app.create_token(&["client.write.all"], &[]).await;
        let caller = app.with_token(&writer);
        caller.post("/tenants", json!({"id": "b", "name": "B"})).await.assert_problem(403, "forbidden");
        caller.delete("/tenants/a").await.assert_problem(403, "forbidden");
        assert_eq!(app.admin().get("/tenants/a").await.status, 200);
        app.admin().get("/tenants/b").await.assert_problem(404, "not-found");
    }

    async fn only_admins_manage_tokens(app) {
        let writer = app.create_token(&["client.write.all"], &[]).await;
        let caller = app.with_token(&writer);
        caller.get("/tokens").await.assert_problem(403, "forbidden");
        caller
            .post("/tokens", json!({"name": "x", "permissions": ["admin"]}))
            .await
            .assert_problem(403, "forbidden");
        caller.delete("/tokens/0192e4a0-0000-7000-8000-000000000000").await.assert_problem(403, "forbidden");
    }

    async fn authentication_comes_before_body_checks(app) {
        let response = (app.anonymous())
            .send_raw(app.anonymous().raw(reqwest::Method::POST, "/tenants").body("{not json"))
            .await;
        response.assert_problem(401, "unauthorized");
    }

    async fn operations_endpoints_need_no_token(app) {
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml"] {
            assert_eq!(app.anonymous().get(path).await.status, 200, "{path}");
        }
    }
}
