//! `/events`, `/tenants/{tenantId}/events`, `/clients/{clientId}/events`: the audit trail,
//! newest first, keyset-paged, filtered by action, resource type, actor and time. Read only:
//! no route writes or deletes an event.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::{ClientPath, TenantPath};
use crate::app::Caller;
use crate::app::events;
use crate::domain::audit::{Action, Event, EventFilters, RESOURCE_TYPES};
use crate::domain::page::{Limit, Page};
use crate::domain::time;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(all_events))
        .route("/tenants/{tenant_id}/events", get(tenant_events))
        .route("/clients/{client_id}/events", get(client_events))
}

async fn all_events(
    State(state): State<AppState>,
    caller: Caller,
    EventQuery(filters): EventQuery,
) -> Result<Json<Page<Event>>, ApiError> {
    Ok(Json(
        events::everything(&state.app, &caller, filters).await?,
    ))
}

async fn tenant_events(
    State(state): State<AppState>,
    caller: Caller,
    TenantPath(tenant): TenantPath,
    EventQuery(filters): EventQuery,
) -> Result<Json<Page<Event>>, ApiError> {
    let page = events::of_tenant(&state.app, &caller, &tenant, filters).await?;
    Ok(Json(page))
}

async fn client_events(
    State(state): State<AppState>,
    caller: Caller,
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
        let Query(raw) = Query::<RawFilters>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                ApiError::BadRequest(format!(
                    "the query takes limit, cursor, action, resource_type, actor, since and until ({})",
                    rejection.body_text()
                ))
            })?;
        let bad = |what: &str, why: String| ApiError::BadRequest(format!("{what} {why}"));
        let limit = Limit::parse(raw.limit)
            .map_err(|_| bad("limit", "must be a whole number from 1 to 200".to_owned()))?;
        let before = match raw.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(cursor.parse::<i64>().map_err(|_| {
                bad(
                    "cursor",
                    "must be the next_cursor of the previous page".to_owned(),
                )
            })?),
        };
        let action = (raw.action.as_deref())
            .map(Action::parse)
            .transpose()
            .map_err(|why| bad("action", why))?;
        let resource_type = match raw.resource_type.as_deref() {
            None => None,
            Some(kind) => Some(
                *RESOURCE_TYPES
                    .iter()
                    .find(|known| **known == kind)
                    .ok_or_else(|| {
                        bad(
                            "resource_type",
                            format!("must be one of {}", RESOURCE_TYPES.join(", ")),
                        )
                    })?,
            ),
        };
        let actor = (raw.actor.as_deref())
            .map(Uuid::try_parse)
            .transpose()
            .map_err(|_| bad("actor", "must be a token id (a UUID)".to_owned()))?;
        let at = |name: &str, text: Option<&str>| {
            text.map(|text| {
                chrono::DateTime::parse_from_rfc3339(text)
                    .map(|at| time::truncate(at.to_utc()))
                    .map_err(|_| {
                        bad(
                            name,
                            "must be an RFC 3339 date-time, like 2026-12-01T00:00:00Z".to_owned(),
                        )
                    })
            })
            .transpose()
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
