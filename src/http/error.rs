//! The one place where errors become RFC 9457 problem details.
//!
//! Handlers return `ApiError`; its response carries a `Problem` that `render_problems` turns
//! into the body, adding what only the request knows (`instance`, the request id). The same
//! middleware gives a problem body to every other error response: unknown routes, wrong
//! methods, timeouts and caught panics.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app;
use crate::domain::client::PatchError;
use crate::domain::oauth::{ErrorCode, OAuthError};
use crate::domain::refusal::Refusal;
use crate::domain::{FieldError, Invalid, Missing};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The media types PATCH accepts, as announced in `Accept-Patch`.
pub const ACCEPT_PATCH: &str = "application/json-patch+json, application/json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A client secret presented for verification did not verify.
    #[error("{0}")]
    SecretRefused(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("no {0} with this id")]
    NotFound(Missing),
    #[error("{0}")]
    Conflict(String),
    #[error("{BODY_TOO_LARGE}")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("send the patch as Content-Type: application/json-patch+json (or application/json)")]
    UnsupportedPatchType,
    #[error("{0}")]
    PreconditionFailed(String),
    /// An Idempotency-Key sent again with another request.
    #[error("{0}")]
    KeyReused(String),
    #[error("the request broke {} rule(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Unavailable(String),
    /// The database gave the request's transaction up for a concurrent one's sake: nothing
    /// was written, and the same request, sent again, is decided afresh.
    #[error(
        "a concurrent change to the same data got in the way; nothing was changed, send the request again"
    )]
    Contention,
    /// The request's statements ran out of the request's time (or waited too long for
    /// SQLite's write lock) and were rolled back: nothing was written.
    #[error(
        "the request did not complete in time (CLIENTD_REQUEST_TIMEOUT_SECS) and nothing was changed; retry later"
    )]
    TimedOut,
    /// Too many failed attempts from this address (or on this client): wait, then retry.
    #[error("{what}; retry in {} s", retry_seconds(*.retry_after))]
    TooManyRequests {
        what: &'static str,
        retry_after: std::time::Duration,
    },
    /// A refusal of the token endpoint's routes, answered as RFC 6749 5.2 says; `basic` when
    /// the client authenticated with `Authorization: Basic` (a 401 then challenges for it).
    #[error("{}", .error.description)]
    OAuth { error: OAuthError, basic: bool },
    /// The cause goes to the log only; the caller learns nothing of it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<Invalid> for ApiError {
    fn from(Invalid(errors): Invalid) -> Self {
        Self::Invalid(errors)
    }
}

impl ApiError {
    /// A body that does not fit: an unknown field is a typo (400), anything else a broken rule.
    pub fn from_misfit(misfit: crate::domain::json::Misfit) -> Self {
        if misfit.unknown_field {
            Self::BadRequest(format!("{} (at {})", misfit.message, misfit.pointer))
        } else {
            Self::Invalid(vec![FieldError::new(misfit.pointer, misfit.message)])
        }
    }
}

impl From<app::Error> for ApiError {
    fn from(error: app::Error) -> Self {
        use app::Error as E;
        match error {
            E::NotFound(missing) => Self::NotFound(missing),
            E::Forbidden(why) => Self::Forbidden(why.to_owned()),
            E::Invalid(invalid) => invalid.into(),
            E::Refused(refusal) => refusal.into(),
            E::Conflict(why) => Self::Conflict(why.to_owned()),
            E::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::Unavailable("the database is unavailable; retry in a few seconds".to_owned())
            }
            E::Contention(cause) => {
                tracing::warn!(error = %cause, "a transaction gave way to a concurrent one");
                Self::Contention
            }
            E::TimedOut(cause) => {
                tracing::warn!(error = %cause, "a statement ran out of the request's time");
                Self::TimedOut
            }
            E::Store(error) => Self::Internal(error.to_string()),
            E::OAuth(error) => Self::OAuth {
                error,
                basic: false,
            },
            E::TooManyClientFailures { retry_after } => Self::TooManyRequests {
                what: "too many failed authentications of this client from this address",
                retry_after,
            },
            E::TokensUnavailable(why) => Self::Unavailable(why),
            E::SecretRefused(failure) => Self::SecretRefused(failure.to_string()),
            E::TooManyFailures { retry_after, .. } => Self::TooManyRequests {
                what: "too many failed verifications of this client's secret",
                retry_after,
            },
            E::Randomness(error) => Self::Internal(error.to_string()),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Hidden => Self::NotFound(Missing::Client),
            Refusal::Forbidden(why) => Self::Forbidden(why.to_owned()),
            Refusal::Stale => Self::PreconditionFailed(refusal.to_string()),
            Refusal::NoSuchCredential => Self::NotFound(Missing::Credential),
            Refusal::Conflict(why) => Self::Conflict(why),
            Refusal::Invalid(invalid) => invalid.into(),
            Refusal::Malformed(why) => Self::BadRequest(why),
            Refusal::NeedsCredentials => Self::Internal(refusal.to_string()),
        }
    }
}

/// A patch refused before the client was read is answered as one refused under the lock.
impl From<PatchError> for ApiError {
    fn from(error: PatchError) -> Self {
        Refusal::from(error).into()
    }
}

/// A problem as handlers describe it, before the middleware knows where it happened.
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    /// Logged, never shown.
    cause: Option<String>,
}

impl ApiError {
    fn problem(self) -> Problem {
        use StatusCode as S;
        let (status, kind, title) = match &self {
            Self::BadRequest(_) => (S::BAD_REQUEST, "bad-request", "Malformed request"),
            Self::Unauthorized(_) => (S::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Self::SecretRefused(_) => (
                S::UNAUTHORIZED,
                "invalid-client-secret",
                "Client secret not accepted",
            ),
            Self::Forbidden(_) => (S::FORBIDDEN, "forbidden", "Permission missing"),
            Self::NotFound(_) => (S::NOT_FOUND, "not-found", "Not found"),
            Self::Conflict(_) => (S::CONFLICT, "conflict", "Conflict"),
            Self::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "payload-too-large", "Body too large"),
            Self::UnsupportedMediaType(_) | Self::UnsupportedPatchType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported content type",
            ),
            Self::PreconditionFailed(_) => (
                S::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            Self::Invalid(_) => (S::UNPROCESSABLE_ENTITY, "validation", "Validation failed"),
            Self::KeyReused(_) => (
                S::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            ),
            Self::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Self::Contention => (S::SERVICE_UNAVAILABLE, "contention", "Concurrent change"),
            Self::TimedOut => (S::SERVICE_UNAVAILABLE, "timeout", "Request timed out"),
            Self::TooManyRequests { .. } => (
                S::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many failed attempts",
            ),
            Self::OAuth { error, .. } if error.code == ErrorCode::InvalidClient => {
                (S::UNAUTHORIZED, "oauth", "Client authentication failed")
            }
            Self::OAuth { .. } => (S::BAD_REQUEST, "oauth", "Token request refused"),
            Self::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        };
        let (detail, errors, cause) = match self {
            Self::Invalid(errors) => (
                "the request breaks the rules listed in errors; fix each and send it again"
                    .to_owned(),
                errors,
                None,
            ),
            Self::Internal(cause) => (INTERNAL_DETAIL.to_owned(), Vec::new(), Some(cause)),
            other => (other.to_string(), Vec::new(), None),
        };
        Problem {
            status,
            kind,
            title,
            detail,
            errors,
            cause,
        }
    }
}

/// A wait in whole seconds, rounded up, as `Retry-After` gives it.
fn retry_seconds(wait: std::time::Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

const INTERNAL_DETAIL: &str =
    "the server failed to answer; quote the x-request-id header to the operator";

/// What a body over the limit is told, whichever layer found it too large.
const BODY_TOO_LARGE: &str =
    "the request body is larger than this server accepts (CLIENTD_BODY_LIMIT_BYTES)";

/// Marks an answer already in the OAuth error format, which is not made a problem.
#[derive(Debug, Clone, Copy)]
struct OAuthAnswer;

/// RFC 6749 5.2's body, with `Cache-Control: no-store` as 5.1 asks of every answer.
fn oauth_answer(error: &OAuthError, basic: bool) -> Response {
    let status = if error.code == ErrorCode::InvalidClient {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = serde_json::json!({"error": error.code, "error_description": error.description});
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if basic && status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="clientd""#),
        );
    }
    response.extensions_mut().insert(OAuthAnswer);
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::OAuth { error, basic } = &self {
            return oauth_answer(error, *basic);
        }
        // A refused client secret is no admin credential: challenging for one would invite
        // a browser to prompt for a token.
        let unauthorized = matches!(self, Self::Unauthorized(_));
        let patch_type = matches!(self, Self::UnsupportedPatchType);
        let retry_after = match &self {
            Self::TooManyRequests { retry_after, .. } => Some(retry_seconds(*retry_after)),
            _ => None,
        };
        let problem = self.problem();
        let mut response = problem.status.into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if patch_type {
            response.headers_mut().insert(
                HeaderName::from_static("accept-patch"),
                HeaderValue::from_static(ACCEPT_PATCH),
            );
        }
        if unauthorized {
            let headers = response.headers_mut();
            for challenge in [r#"Bearer realm="clientd""#, r#"Basic realm="clientd""#] {
                headers.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
        }
        response.extensions_mut().insert(problem);
        response
    }
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    instance: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
    /// On the token endpoint's routes, the RFC 6749 code and text too, so that OAuth
    /// libraries read the problem as well as people do.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

/// Whether a path is one of the token endpoint's (under a tenant, or its metadata).
fn is_oauth_route(path: &str) -> bool {
    path.contains("/oauth2/") || path.contains("/.well-known/oauth-authorization-server")
}

/// The RFC 6749 code closest to a problem's status.
fn oauth_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            "temporarily_unavailable"
        }
        status if status.is_server_error() => "server_error",
        StatusCode::UNAUTHORIZED => "invalid_client",
        _ => "invalid_request",
    }
}

/// Middleware: writes every error response as problem+json and logs server faults once.
pub async fn render_problems(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let instance = request.uri().path().to_owned();
    let request_id = (request.headers().get("x-request-id"))
        .and_then(|id| id.to_str().ok())
        .map(str::to_owned);
    let mut response = next.run(request).await;
    if response.extensions().get::<OAuthAnswer>().is_some() {
        return response;
    }
    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if is_bare_error(&response) => generic_problem(response.status(), &method, &instance),
        None => return response,
    };
    let cause = problem.cause.as_deref().unwrap_or(&problem.detail);
    // A 503 (the database away, a transaction given up, a request out of time) is the
    // weather, not a fault of clientd's: a warning. Any other 5xx is a bug to look into.
    if problem.status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(status = 503, cause, "request failed");
    } else if problem.status.is_server_error() {
        tracing::error!(status = problem.status.as_u16(), cause, "request failed");
    }
    let body = ProblemBody {
        kind: format!("urn:clientd:problem:{}", problem.kind),
        title: problem.title,
        status: problem.status.as_u16(),
        detail: &problem.detail,
        instance: &instance,
        request_id: request_id.as_deref(),
        errors: &problem.errors,
        error: is_oauth_route(&instance).then(|| oauth_code(problem.status)),
        error_description: is_oauth_route(&instance).then_some(problem.detail.as_str()),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    if problem.status == StatusCode::SERVICE_UNAVAILABLE {
        // Every 503 (the request timeout's own included) says when to try again.
        (parts.headers.entry(header::RETRY_AFTER)).or_insert(HeaderValue::from(1));
    }
    parts.status = problem.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Response::from_parts(parts, Body::from(json))
}

/// An error response that no handler described: axum's or tower-http's own.
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    let is_problem = (response.headers().get(header::CONTENT_TYPE))
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    (status.is_client_error() || status.is_server_error()) && !is_problem
}

fn generic_problem(status: StatusCode, method: &Method, path: &str) -> Problem {
    use StatusCode as S;
    let (kind, title, detail) = match status {
        S::NOT_FOUND => (
            "unknown-route",
            "Unknown route",
            format!("no resource at {path}; /openapi.yaml lists every route"),
        ),
        S::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not supported on {path}; the Allow header lists what is"),
        ),
        S::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "Body too large",
            BODY_TOO_LARGE.to_owned(),
        ),
        S::SERVICE_UNAVAILABLE | S::REQUEST_TIMEOUT => (
            "timeout",
            "Request timed out",
            "the request did not complete in time (CLIENTD_REQUEST_TIMEOUT_SECS); a change it made is whole or not made at all: retry with the same Idempotency-Key to have it done exactly once"
                .to_owned(),
        ),
        status if status.is_server_error() => (
            "internal",
            "Internal server error",
            INTERNAL_DETAIL.to_owned(),
        ),
        status => (
            "bad-request",
            status.canonical_reason().unwrap_or("Bad request"),
            "the request was refused; /openapi.yaml describes what this route accepts".to_owned(),
        ),
    };
    Problem {
        status,
        kind,
        title,
        detail,
        errors: Vec::new(),
        cause: None,
    }
}
