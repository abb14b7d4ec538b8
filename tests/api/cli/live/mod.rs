//! One story of every command against a live server, each step in a file of its own: the
//! steps hand on what they made (a client's id and secret), so they run in this order.

use super::run;
use crate::helpers::TestApp;

mod clients;
mod secrets_credentials;
mod tenants_tokens;

async fn every_command_against_a_live_server(app: TestApp) {
    tenants_tokens::tenants_and_tokens(&app).await;
    let (id, secret) = clients::clients_from_flags_files_and_patches(&app).await;
    secrets_credentials::secrets_rotate_and_verify(&app, &id, &secret).await;
    secrets_credentials::credentials_and_events(&app, &id).await;

    assert!(
        run(&app, &["clients", "delete", &id])
            .await
            .ok()
            .stdout
            .is_empty()
    );
    run(&app, &["clients", "get", &id]).await.refused("404");
}

on_both_stores! {
    async fn every_command_against_a_live_server(app) {
        super::every_command_against_a_live_server(app).await;
    }
}
