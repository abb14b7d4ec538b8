//! Introspection (RFC 7662) and revocation (RFC 7009).

use serde_json::json;

use super::*;

on_both_stores! {
    async fn an_active_token_introspects_with_its_claims(app) {
        let client = machine(&app, "acme", json!({})).await;
        let token = access_token(&token_for(&app, "acme", &client, &[("scope", "invoices:read")]).await);
        let answer = introspect(&app, "acme", &client, &token).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        let info = &answer.json;
        assert_eq!(info["active"], true);
        assert_eq!(info["scope"], "invoices:read");
        assert_eq!(info["client_id"], client.id.as_str());
        assert_eq!(info["sub"], client.id.as_str());
        assert_eq!(info["iss"], app.url("/tenants/acme").as_str());
        assert_eq!(info["aud"], app.url("/tenants/acme").as_str());
        assert_eq!(info["token_type"], "Bearer");
        assert!(info["exp"].as_i64().unwrap() > info["iat"].as_i64().unwrap());
        assert!(info["jti"].is_string());

        // An admin token that may read the tenant may ask too; one that may not is refused.
        let path = "/tenants/acme/oauth2/introspect";
        let reader = app.create_token(&["client.read"], &["acme"]).await;
        let by_admin = post_form(&app, path, Some(&format!("Bearer {reader}")), &[("token", &token)]).await;
        assert_eq!(by_admin.json["active"], true, "{}", by_admin.text);
        let two_ways = post_form(&app, path, Some(&format!("Bearer {reader}")), &[("token", &token), ("client_assertion_type", "AAA")]).await;
        assert_oauth_error(&two_ways, 400, "invalid_request");
        app.create_tenant("other").await;
        let outsider = app.create_token(&["client.read"], &["other"]).await;
        post_form(&app, path, Some(&format!("Bearer {outsider}")), &[("token", &token)]).await.assert_problem(403, "forbidden");
        post_form(&app, path, Some("Bearer not-a-token"), &[("token", &token)]).await.assert_problem(401, "unauthorized");
        assert_oauth_error(&post_form(&app, path, None, &[("token", &token)]).await, 401, "invalid_client");
        let wrong = Machine { id: client.id.clone(), secret: "wrong".to_owned() };
        assert_oauth_error(&introspect(&app, "acme", &wrong, &token).await, 401, "invalid_client");
        let missing = post_form(&app, path, Some(&basic(&client.id, &client.secret)), &[]).await;
        assert_oauth_error(&missing, 400, "invalid_request");
    }

    async fn tokens_that_are_no_longer_good_are_exactly_inactive(app) {
        let client = machine(&app, "acme", json!({})).await;
        let token = access_token(&token_for(&app, "acme", &client, &[]).await);
        let inactive = json!({"active": false});
        for garbage in ["", "x.y.z", "not a token", &format!("{token}x")] {
            let answer = introspect(&app, "acme", &client, garbage).await;
            if garbage.is_empty() {
                assert_oauth_error(&answer, 400, "invalid_request");
            } else {
                assert_eq!(answer.json, inactive, "{garbage}");
            }
        }
        // Another tenant's issuer does not take it.
        let foreign = machine(&app, "other", json!({})).await;
        assert_eq!(introspect(&app, "other", &foreign, &token).await.json, inactive);

        // A disabled client's tokens stop being active, and come back when it is enabled.
        let path = format!("/clients/{}", client.id);
        let set_enabled = |enabled: bool| app.patch(&path, "application/json-patch+json", None,
            json!([{"op": "replace", "path": "/enabled", "value": enabled}]));
        let other = machine_in(&app, "acme", json!({})).await;
        assert_eq!(set_enabled(false).await.status, 200);
        assert_eq!(introspect(&app, "acme", &other, &token).await.json, inactive);
        assert_eq!(set_enabled(true).await.status, 200);
        assert_eq!(introspect(&app, "acme", &other, &token).await.json["active"], true);

        // A client deleted and created again under the same id does not inherit its tokens.
        assert_eq!(app.admin().delete(&path).await.status, 204);
        assert_eq!(introspect(&app, "acme", &other, &token).await.json, inactive);
        machine_in(&app, "acme", json!({"id": client.id})).await;
        assert_eq!(introspect(&app, "acme", &other, &token).await.json, inactive);
    }

    async fn a_client_revokes_its_own_tokens_and_no_one_elses(app) {
        let client = machine(&app, "acme", json!({})).await;
        let other = machine_in(&app, "acme", json!({})).await;
        let token = access_token(&token_for(&app, "acme", &client, &[]).await);
        let path = "/tenants/acme/oauth2/revoke";
        // Another client's revocation is answered alike, and changes nothing.
        let by_other = post_form(&app, path, Some(&basic(&other.id, &other.secret)), &[("token", &token)]).await;
        assert_eq!((by_other.status, &by_other.json), (200, &json!({})), "{}", by_other.text);
        assert_eq!(introspect(&app, "acme", &client, &token).await.json["active"], true);
        let revoked = post_form(&app, path, Some(&basic(&client.id, &client.secret)), &[("token", &token), ("token_type_hint", "access_token")]).await;
        assert_eq!(revoked.status, 200, "{}", revoked.text);
        assert_eq!(introspect(&app, "acme", &client, &token).await.json, json!({"active": false}));
        // Again, or with garbage: still 200.
        for again in [token.as_str(), "garbage"] {
            let answer = post_form(&app, path, Some(&basic(&client.id, &client.secret)), &[("token", again)]).await;
            assert_eq!(answer.status, 200);
        }
        let wrong = post_form(&app, path, Some(&basic(&client.id, "wrong")), &[("token", &token)]).await;
        assert_oauth_error(&wrong, 401, "invalid_client");
        assert_eq!(app.count_rows("revoked_access_tokens").await, 1);
    }
}
