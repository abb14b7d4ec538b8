//! `/events`, `/tenants/{tenantId}/events`, `/clients/{clientId}/events`: the audit trail,
//! newest first, keyset-paged, filtered by action, resource type, actor and time; or, with
//! `order=asc`, oldest first as a change feed, whose `wait` holds an empty page until an
//! event comes. Read only: no route writes or deletes an event.

use std::time::Duration;

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
use crate::domain::audit::{Action, Event, EventFilters, FeedPosition, Order, RESOURCE_TYPES};
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
    EventQuery(filters, wait): EventQuery,
) -> Result<Json<Page<Event>>, ApiError> {
    Ok(Json(
        events::everything(&state.app, &caller, filters, wait).await?,
    ))
}

async fn tenant_events(
    State(state): State<AppState>,
    AnyToken(caller): AnyToken,
    TenantPath(tenant): TenantPath,
    EventQuery(filters, wait): EventQuery,
) -> Result<Json<Page<Event>>, ApiError> {
    let page = events::of_tenant(&state.app, &caller, &tenant, filters, wait).await?;
    Ok(Json(page))
}

async fn client_events(
    State(state): State<AppState>,
    AnyToken(caller): AnyToken,
    ClientPath(client): ClientPath,
    EventQuery(filters, wait): EventQuery,
) -> Result<Json<Page<Event>>, ApiError> {
    let page = events::of_client(&state.app, &caller, &client, filters, wait).await?;
    Ok(Json(page))
}

/// The query of an events page, every value checked: a bad one is a 400 that names it; with
/// how long an empty oldest-first page may wait for an event (`wait`).
struct EventQuery(EventFilters, Option<Duration>);

/// The longest `wait` a request may ask for, in seconds.
const MAX_WAIT: u64 = 25;

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
    order: Option<String>,
    wait: Option<u64>,
}

impl<S: Send + Sync> FromRequestParts<S> for EventQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryParams(raw) = QueryParams::<RawFilters>::from_request_parts(parts, state).await?;
        let limit = limit_parameter(raw.limit)?;
        let bad_cursor = || {
            bad_parameter(
                "cursor",
                "must be the next_cursor of the previous page (of the same order)".to_owned(),
            )
        };
        let cursor = raw.cursor.as_deref().filter(|cursor| !cursor.is_empty());
        // Either order reads the other's cursor by its seq, as a plain seq is read as one of
        // xid 0: every cursor the spec's pattern allows is taken.
        let position = cursor.map(|cursor| {
            let dotted = cursor.contains('.');
            let plain = || cursor.parse().ok().map(|seq| FeedPosition { xid: 0, seq });
            let position = if dotted {
                FeedPosition::parse(cursor)
            } else {
                plain()
            };
            position.ok_or_else(bad_cursor)
        });
        let position = position.transpose()?;
        let (order, before) = match raw.order.as_deref() {
            None | Some("desc") => (Order::NewestFirst, position.map(|p| p.seq)),
            Some("asc") => {
                let after = position.unwrap_or_default();
                (Order::OldestFirst { after }, None)
            }
            Some(_) => {
                return Err(bad_parameter(
                    "order",
                    "must be asc (oldest first, as a feed) or desc".to_owned(),
                ));
            }
        };
        let wait = match raw.wait {
            None | Some(0) => None,
            Some(seconds) if seconds > MAX_WAIT => {
                return Err(bad_parameter(
                    "wait",
                    format!("must be 0 to {MAX_WAIT} seconds"),
                ));
            }
            Some(seconds) => Some(Duration::from_secs(seconds)),
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
        Ok(Self(
            EventFilters {
                order,
                before,
                action,
                resource_type,
                actor,
                since: at("since", raw.since.as_deref())?,
                until: at("until", raw.until.as_deref())?,
                limit,
            },
            wait,
        ))
    }
}
