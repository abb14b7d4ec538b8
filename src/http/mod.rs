//! The HTTP layer: the router, its middleware, and one module per resource.

pub mod auth;
pub mod clients;
pub mod credentials;
pub mod error;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod oauth;
pub mod ops;
pub mod secrets;
pub mod tenants;
pub mod throttle;
pub mod tokens;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::middleware;
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::App;
use crate::app::limits::FailureLimit;
use crate::config::Settings;
use crate::domain::secret::SecretHash;
use ops::Metrics;
use throttle::TrustedProxies;

/// What every handler and middleware shares. Extractors clone it per request, so it is one
/// `Arc` (a clone of each field was several atomic counts a request).
#[derive(Clone)]
pub struct AppState(Arc<StateParts>);

impl std::ops::Deref for AppState {
    type Target = StateParts;

    fn deref(&self) -> &StateParts {
        &self.0
    }
}

pub struct StateParts {
    pub app: App,
    /// Hash of `CLIENTD_BOOTSTRAP_TOKEN`, which holds every permission.
    pub bootstrap: Option<SecretHash>,
    pub metrics: Arc<Metrics>,
    pub auth_failures: Arc<FailureLimit<IpAddr>>,
    pub trusted_proxies: Arc<TrustedProxies>,
    /// For the idempotency middleware, which reads bodies itself.
    pub body_limit_bytes: usize,
}

impl AppState {
    pub fn new(
        app: App,
        settings: &Settings,
    ) -> Result<Self, metrics_exporter_prometheus::BuildError> {
        let auth_failures = NonZeroU32::new(settings.auth_failures_per_minute);
        Ok(Self(Arc::new(StateParts {
            app,
            bootstrap: settings.bootstrap_token.as_ref().map(|token| token.hash()),
            metrics: Arc::new(Metrics::new()?),
            auth_failures: Arc::new(FailureLimit::per_minute(
                auth_failures.unwrap_or(NonZeroU32::MIN),
            )),
            trusted_proxies: Arc::new(TrustedProxies(settings.trusted_proxies.clone())),
            body_limit_bytes: settings.body_limit_bytes,
        })))
    }
}

/// The HTTP layer's upkeep while the server runs: metric histograms are drained every few
/// seconds whether or not anyone scrapes `/metrics` (they grow with every request until
/// drained), and the authentication limit forgets addresses that stopped failing every minute.
/// The use cases' own upkeep is `app::housekeeping`.
pub async fn upkeep(state: AppState) {
    let mut ticks = tokio::time::interval(Duration::from_secs(5));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for tick in 0u64.. {
        ticks.tick().await;
        state.metrics.upkeep();
        if tick % 12 == 0 {
            state.auth_failures.forget_stale();
        }
    }
}

/// The longest `x-request-id` taken from a caller; a longer one (or one that is not visible
/// ASCII) is replaced by a fresh id, so no caller can bloat every log line of its requests.
const MAX_REQUEST_ID: usize = 128;

/// Limits the router enforces on every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
}

/// Every route, at its path and again under `/v1`, with the middleware every request passes.
pub fn router(state: AppState, limits: Limits) -> Router {
    let api = Router::new()
        .merge(tenants::router())
        .merge(clients::router())
        .merge(credentials::router())
        .merge(secrets::router())
        .merge(events::router())
        .merge(tokens::router())
        .merge(oauth::router())
        .merge(ops::router());
    with_middleware(
        Router::new().merge(api.clone()).nest("/v1", api),
        state,
        limits,
    )
}

fn with_middleware(routes: Router<AppState>, state: AppState, limits: Limits) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    // Outermost first: the request id exists before the span that logs it, and problems are
    // rendered inside the timeout and panic layers' view so their answers get bodies too.
    let middleware = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
        ]))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(middleware::map_request(drop_unfit_request_id))
        .layer(SetRequestIdLayer::new(
            x_request_id.clone(),
            MakeRequestUuid,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id))
        .layer(middleware::from_fn_with_state(state.clone(), ops::track))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            throttle::source_address,
        ))
        .layer(middleware::from_fn(error::render_problems))
        .layer(CatchPanicLayer::custom(|_| {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotent,
        ))
        .layer(DefaultBodyLimit::max(limits.body_limit_bytes));
    routes
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware)
        .with_state(state)
}

async fn drop_unfit_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let fits = |id: &HeaderValue| {
        id.len() <= MAX_REQUEST_ID && id.as_bytes().iter().all(|b| b.is_ascii_graphic())
    };
    if !(request.headers().get("x-request-id")).is_none_or(fits) {
        request.headers_mut().remove("x-request-id");
    }
    request
}

fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let request_id = (request.headers().get("x-request-id"))
        .and_then(|id| id.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
    )
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn answer(
        routes: Router<AppState>,
        path: &str,
        timeout: Duration,
    ) -> (StatusCode, String) {
        let settings = crate::config::Settings::for_database("sqlite::memory:");
        let store = crate::start::open(&settings).unwrap();
        let state = AppState::new(App::new(store, &settings), &settings).unwrap();
        let limits = Limits {
            request_timeout: timeout,
            body_limit_bytes: 1024,
        };
        let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
        let response = (with_middleware(routes, state, limits)
            .oneshot(request)
            .await)
            .unwrap();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            error::PROBLEM_JSON
        );
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_panic_is_a_500_problem_that_reveals_nothing() {
        async fn boom() -> StatusCode {
            panic!("internal secret")
        }
        let routes = Router::new().route("/boom", get(boom));
        let (status, body) = answer(routes, "/boom", Duration::from_secs(5)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("urn:clientd:problem:internal"), "{body}");
        assert!(!body.contains("internal secret"), "{body}");
    }

    #[tokio::test]
    async fn a_request_over_the_time_limit_is_a_503_problem() {
        let routes = Router::new().route(
            "/slow",
            get(|| async { tokio::time::sleep(Duration::from_secs(30)).await }),
        );
        let (status, body) = answer(routes, "/slow", Duration::from_millis(50)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("urn:clientd:problem:timeout"), "{body}");
    }
}
