//! The HTTP layer: the router, its middleware, and one module per resource.

pub mod auth;
pub mod clients;
pub mod credentials;
pub mod error;
pub mod extract;
pub mod ops;
pub mod secrets;
pub mod tenants;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode, header};
use axum::middleware;
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::domain::secret::SecretHash;
use crate::store::Store;
use ops::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Hash of `CLIENTD_BOOTSTRAP_TOKEN`, which holds every permission.
    pub bootstrap: Option<SecretHash>,
    pub metrics: Arc<Metrics>,
    /// Most credentials one client may hold.
    pub max_credentials: usize,
}

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
        .merge(tokens::router())
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
        .layer(middleware::from_fn(error::render_problems))
        .layer(CatchPanicLayer::custom(|_| {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(limits.body_limit_bytes));
    routes
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware)
        .with_state(state)
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
        let state = AppState {
            store: crate::store::open(
                "sqlite::memory:",
                &crate::config::Settings::for_database("sqlite::memory:").pool(),
            )
            .unwrap(),
            bootstrap: None,
            metrics: Arc::new(Metrics::new().unwrap()),
            max_credentials: 2,
        };
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
