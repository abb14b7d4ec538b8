//! One HTTP call of a clientd server, and what can go wrong with it, as the exit codes tell.

use std::process::ExitCode;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use url::Url;

use crate::domain::secret::SecretString;

/// Why a command did not do what it was asked; each is its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The command line, or a file it names, cannot make a request (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The server answered with an error (exit 1).
    #[error("{}", refusal_text(.0))]
    Refused(Box<Answer>),
    /// No answer: nothing listens there, a name does not resolve, a timeout (exit 3).
    #[error("cannot reach {url}: {why}")]
    Unreachable { url: String, why: String },
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Refused(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable { .. } => 3,
        })
    }
}

/// A server's answer: its status, the headers the commands care about, and its JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// A problem answer as lines for standard error: its status and title, its detail, and each
/// broken rule.
fn refusal_text(answer: &Answer) -> String {
    let text = |name: &str| answer.body.get(name).and_then(Value::as_str);
    let mut lines = vec![match text("title") {
        Some(title) => format!("{} {title}", answer.status.as_u16()),
        None => answer.status.to_string(),
    }];
    match text("detail") {
        Some(detail) => lines.push(format!("  {detail}")),
        // Not a problem document: a proxy's page, say. Its start tells what answered.
        None if !answer.body.is_null() => {
            let body = answer.body.to_string();
            lines.push(format!("  {}", body.chars().take(300).collect::<String>()));
        }
        None => {}
    }
    for error in (answer.body.get("errors").and_then(Value::as_array))
        .into_iter()
        .flatten()
    {
        let field = error.get("pointer").and_then(Value::as_str).unwrap_or("");
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        lines.push(format!("  {field}: {message}"));
    }
    if let Some(id) = text("request_id") {
        lines.push(format!("  (request id {id})"));
    }
    lines.join("\n")
}

/// A clientd server and the token to call it with.
pub struct Api {
    http: reqwest::Client,
    base: Url,
    authorization: HeaderValue,
}

/// The most a command reads of an answer: the largest list page is far below.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

impl Api {
    pub fn new(base: Url, token: &SecretString) -> Result<Self, Failure> {
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Failure::Usage(format!(
                "--url (CLIENTD_URL) must be an http:// or https:// URL, not {base}"
            )));
        }
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", token.expose()))
            .map_err(|_| Failure::Usage("the token holds characters a header cannot".into()))?;
        authorization.set_sensitive(true);
        // rustls needs its cryptography chosen once per process; ring is what sqlx uses too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("clientd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Failure::Usage(format!("cannot set up HTTP: {error}")))?;
        Ok(Self {
            http,
            base,
            authorization,
        })
    }

    /// The URL of a path given as segments, each percent-encoded, under the base URL's path.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http
            .request(method, url)
            .header(header::AUTHORIZATION, self.authorization.clone())
            .header(header::ACCEPT, "application/json")
    }

    /// Sends a request: a 2xx answer, or the failure a non-2xx answer or no answer is.
    pub async fn send(&self, request: RequestBuilder) -> Result<Answer, Failure> {
        let unreachable = |url: &str, error: reqwest::Error| Failure::Unreachable {
            url: url.to_owned(),
            why: describe(&error),
        };
        let url = self.base.as_str().trim_end_matches('/').to_owned();
        let mut response = request.send().await.map_err(|e| unreachable(&url, e))?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(&url, e))? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failure::Unreachable {
                    url,
                    why: "its answer is larger than 16 MiB: is this a clientd server?".into(),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        let answer = Answer {
            status,
            headers,
            body,
        };
        if status.is_success() {
            Ok(answer)
        } else {
            Err(Failure::Refused(Box::new(answer)))
        }
    }
}

/// reqwest's error with its causes, which say what actually failed (refused, DNS, TLS).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "no answer in time".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
