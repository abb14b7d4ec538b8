//! Admin API tokens: issued (by the API or the command line), listed, read and revoked.

use serde::Deserialize;
use uuid::Uuid;

use super::{App, Caller, Error, Result};
use crate::domain::audit::{Action, Event};
use crate::domain::change::{Actor, ChangeContext};
use crate::domain::page::{Limit, Page};
use crate::domain::rotation;
use crate::domain::secret::SecretString;
use crate::domain::tenant::TenantId;
use crate::domain::time::{self, Timestamp};
use crate::domain::token::{ApiToken, Grants, TokenText};
use crate::domain::{FieldError, Invalid, Missing};
use crate::store::Change;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub permissions: Vec<String>,
    #[serde(default)]
    pub tenants: Vec<String>,
    pub expires_at: Option<Timestamp>,
}

/// Checks a token request and stores the token; the text is returned this once.
pub async fn create(
    app: &App,
    caller: &Caller,
    request: CreateToken,
) -> Result<(ApiToken, SecretString)> {
    caller.require_admin()?;
    let expires_at = request.expires_at.map(time::truncate);
    let token = ApiToken::new(
        &request.name,
        &request.permissions,
        &request.tenants,
        expires_at,
        time::now(),
    )?;
    let missing = app.store.missing_tenants(token.grants.tenants()).await?;
    if !missing.is_empty() {
        return Err(Invalid(unknown_tenants(&request.tenants, &missing)).into());
    }
    let (text, hash) = TokenText::issue(token.id)?;
    let event = Event::of_token(&caller.change, Action::TokenCreate, &token);
    let _forget = app.cache.forget_after(Change::Token(token.id));
    app.store.create_token(&token, &hash, &event).await?;
    Ok((token, text))
}

/// A new installation's first admin token, issued by the bootstrap actor: its text, shown
/// this once, or None when the database holds a token already (another server issued it).
pub async fn create_first(app: &App) -> Result<Option<SecretString>> {
    let admin = ["admin".to_owned()];
    let token = ApiToken::new("first admin token", &admin, &[], None, time::now())?;
    let (text, hash) = TokenText::issue(token.id)?;
    let change = ChangeContext::without_request(Actor::Bootstrap);
    let event = Event::of_token(&change, Action::TokenCreate, &token);
    let issued = app.store.create_first_token(&token, &hash, &event).await?;
    Ok(issued.then_some(text))
}

fn unknown_tenants(requested: &[String], missing: &[TenantId]) -> Vec<FieldError> {
    (requested.iter().enumerate())
        .filter(|(_, id)| missing.iter().any(|m| m.as_str() == id.as_str()))
        .map(|(i, _)| FieldError::new(format!("/tenants/{i}"), "no tenant with this id"))
        .collect()
}

/// Oldest first (token ids are UUIDv7).
pub async fn list(
    app: &App,
    caller: &Caller,
    after: Option<Uuid>,
    limit: Limit,
) -> Result<Page<ApiToken>> {
    caller.require_admin()?;
    Ok(app.store.list_tokens(after, limit).await?)
}

/// A token id: after the permission check, so only admins learn what is malformed.
fn token_id(text: &str) -> Result<Uuid> {
    Uuid::try_parse(text).map_err(|_| Error::NotFound(Missing::Token))
}

pub async fn read(app: &App, caller: &Caller, id: &str) -> Result<ApiToken> {
    caller.require_admin()?;
    let stored = app.store.token(token_id(id)?).await?;
    Ok(stored.ok_or(Error::NotFound(Missing::Token))?.token)
}

/// Revoked at once: the next request with it is refused.
pub async fn revoke(app: &App, caller: &Caller, id: &str) -> Result<()> {
    caller.require_admin()?;
    let audit = |token: &ApiToken| Event::of_token(&caller.change, Action::TokenRevoke, token);
    let id = token_id(id)?;
    let _forget = app.cache.forget_after(Change::Token(id));
    Ok(app.store.delete_token(id, &audit).await?)
}

/// What a presented admin API token may do and who its changes name, or None when it is
/// unknown, revoked or expired (or its secret part does not match).
pub async fn authenticate(app: &App, presented: &SecretString) -> Result<Option<(Grants, Actor)>> {
    let Some(id) = TokenText::token_id(presented) else {
        return Ok(None);
    };
    let Some(stored) = app.cache.token(app.store.as_ref(), id).await? else {
        return Ok(None);
    };
    if !stored.hash.matches(presented) {
        return Ok(None);
    }
    let token = &stored.token;
    let now = time::now();
    let Some(grants) = token.grants_at(now) else {
        return Ok(None);
    };
    if rotation::use_is_news(token.last_used, now, app.autopilot.granularity) {
        app.secret_uses.note_token(token.id, now);
    }
    let actor = Actor::Token {
        id: token.id,
        name: token.name.clone(),
    };
    Ok(Some((grants.clone(), actor)))
}
