//! Operations endpoints, open to all: liveness, readiness, Prometheus metrics, the spec and its
//! interactive reference.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use crate::app::PoolStats;
use crate::app::cache::CacheStats;

const OPENAPI: &str = include_str!("../../openapi.yaml");

/// The reference at /docs: Swagger UI, vendored in assets/docs (scripts/vendor-docs), and the
/// page that starts it. It loads nothing from another host, and the policy makes sure.
const DOCS_PAGE: &str = include_str!("../../assets/docs/index.html");
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";
const DOCS_ASSETS: [(&str, &str, &[u8]); 3] = [
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/docs/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/docs/swagger-ui.css"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/docs/init.js"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.yaml", get(openapi))
        .route("/docs", get(docs))
        .route("/docs/{asset}", get(docs_asset))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match state.app.ping().await {
        Ok(()) => Ok(Json(json!({"status": "ready"}))),
        Err(error) => {
            tracing::warn!(%error, "not ready: database unreachable");
            Err(ApiError::Unavailable(
                "the database is unreachable; clientd keeps retrying".to_owned(),
            ))
        }
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = (state.metrics).render(state.app.pool_stats(), state.app.cache_stats());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI)
}

async fn docs() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, DOCS_POLICY),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DOCS_PAGE,
    )
}

async fn docs_asset(Path(asset): Path<String>) -> Response {
    match DOCS_ASSETS.iter().find(|(name, _, _)| *name == asset) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CONTENT_SECURITY_POLICY, DOCS_POLICY),
                // Unversioned URLs: a cached bundle could outlive an upgrade of the page.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        // Answered as an unknown route, like any other path nothing serves.
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Request counts and latencies by route template, and the database pool's gauges. Each app
/// has its own recorder, so several apps in one process (as in tests) never mix their figures.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

impl Metrics {
    pub fn new() -> Result<Self, metrics_exporter_prometheus::BuildError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)?
            .build_recorder();
        let handle = recorder.handle();
        Ok(Self { recorder, handle })
    }

    fn record(&self, method: &'static str, route: String, status: u16, elapsed: Duration) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(
                "clientd_http_requests_total",
                "method" => method,
                "route" => route.clone(),
                "status" => status.to_string()
            )
            .increment(1);
            metrics::histogram!(
                "clientd_http_request_duration_seconds",
                "method" => method,
                "route" => route
            )
            .record(elapsed.as_secs_f64());
        });
    }

    /// A presented token or secret that did not check out; `limited` when it passed its
    /// limit and was answered 429.
    pub fn failure(&self, kind: FailureKind, limited: bool) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("clientd_failures_total", "kind" => kind.as_str()).increment(1);
            if limited {
                metrics::counter!("clientd_rate_limited_total", "kind" => kind.as_str())
                    .increment(1);
            }
        });
    }

    /// A request refused at once because its address or client is over its failure limit.
    pub fn refused(&self, kind: FailureKind) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("clientd_rate_limited_total", "kind" => kind.as_str()).increment(1);
        });
    }

    /// Folds recorded samples into the histograms, freeing them: run on a timer, not only
    /// when scraped, or samples pile up on a server nobody scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    fn render(&self, pool: PoolStats, cache: CacheStats) -> String {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!("clientd_db_pool_connections").set(pool.connections);
            metrics::gauge!("clientd_db_pool_idle_connections").set(pool.idle);
            metrics::gauge!("clientd_cache_entries", "kind" => "client").set(cache.clients as f64);
            metrics::gauge!("clientd_cache_entries", "kind" => "token").set(cache.tokens as f64);
            metrics::gauge!("clientd_cache_client_bytes").set(cache.client_bytes as f64);
            // 0 while the feed of changes is not heard: every read then goes to the database.
            metrics::gauge!("clientd_cache_trusted").set(u8::from(cache.trusted));
        });
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// What failed: an admin token (per source address) or a client secret (per client).
#[derive(Debug, Clone, Copy)]
pub enum FailureKind {
    Authentication,
    Verification,
}

impl FailureKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "authentication",
            Self::Verification => "verification",
        }
    }
}

/// The method as a metric label: the standard ones by name, anything else as `other`, so
/// made-up methods cannot mint new series.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::HEAD => "HEAD",
        M::OPTIONS => "OPTIONS",
        M::TRACE => "TRACE",
        M::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Middleware: counts and times every request under its route template, never its raw path,
/// so ids in paths cannot blow up the number of series.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = (request.extensions().get::<MatchedPath>())
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .record(method, route, response.status().as_u16(), started.elapsed());
    response
}
