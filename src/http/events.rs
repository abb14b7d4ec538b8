//! `/events`, `/tenants/{tenantId}/events`, `/clients/{clientId}/events`: the audit trail,
//! newest first, keyset-paged, filtered by action, resource type, actor and time. Read only:
//! no route writes or deletes an event.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::auth::AnyToken;
use super::error::ApiError;
use super::extract::{ClientPath, QueryParams, TenantPath, bad_parameter, limit_parameter};
use crate::app::events;
use crate::domain::audit::{Action, Event, EventFilters, RESOURCE_TYPES};
use crate::domain::page::Page;
use crate::domain::time;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(all_events))
        .route("/tenants/{tenant_id}/events", get(tenant_events))
        .route("/clients/{client_id}/events", get(client_events))
}

async fn all_events(
    State(state): State<AppState>,
    AnyToken(caller): AnyToken,
    EventQuery(filters): EventQuery,
) -> Result<Json<Page<Event>>, ApiError> {
    Ok(Json(
        events::everything(&state.app, &caller, filters).await?,
    ))
}

async fn tenant_events(
    State(state): State<AppState>,
    AnyToken(caller): AnyToken,
    TenantPath(tenant): TenantPath,
    EventQuery(filters): EventQuery,
) -> Result<Json<Page<Event>>, ApiError> {
    let page = events::of_tenant(&state.app, &caller, &tenant, filters).await?;
    Ok(Json(page))
}

async fn client_events(
    State(state): State<AppState>,
    AnyToken(caller): AnyToken,
    ClientPath(client): ClientPath,
    EventQuery(filters): EventQuery,
) -> Result<Json<Page<Event>>, ApiError> {
    let page = events::of_client(&state.app, &caller, &client, filters).await?;
    Ok(Json(page))
}

/// The query of an events page, every value checked: a bad one is a 400 that names it.
struct EventQuery(EventFilters);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilters {
    limit: Option<u32>,
    cursor: Option<String>,
    action: Option<String>,
    resource_type: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for EventQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryParams(raw) = QueryParams::<RawFilters>::from_request_parts(parts, state).await?;
        let limit = limit_parameter(raw.limit)?;
        let before = match raw.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(cursor.parse::<i64>().map_err(|_| {
                bad_parameter(
                    "cursor",
                    "must be the next_cursor of the previous page".to_owned(),
                )
            })?),
        };
        let action = (raw.action.as_deref())
            .map(Action::parse)
            .transpose()
            .map_err(|why| bad_parameter("action", why))?;
        let resource_type = match raw.resource_type.as_deref() {
            None => None,
            Some(kind) => Some(
                *RESOURCE_TYPES
                    .iter()
                    .find(|known| **known == kind)
                    .ok_or_else(|| {
                        bad_parameter(
                            "resource_type",
                            format!("must be one of {}", RESOURCE_TYPES.join(", ")),
                        )
                    })?,
            ),
        };
        let actor = (raw.actor.as_deref())
            .map(Uuid::try_parse)
            .transpose()
            .map_err(|_| bad_parameter("actor", "must be a token id (a UUID)".to_owned()))?;
        let at = |name: &str, text: Option<&str>| {
            (text.map(time::parse_rfc3339).transpose()).map_err(|why| bad_parameter(name, why))
        };
        Ok(Self(EventFilters {
            before,
            action,
            resource_type,
            actor,
            since: at("since", raw.since.as_deref())?,
            until: at("until", raw.until.as_deref())?,
            limit,
        }))
    }
}
