//! One HTTP call of a clientd server, and what can go wrong with it, as the exit codes tell.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use url::{Host, Url};

use super::output::printable;
use crate::domain::secret::SecretString;

/// Why a command did not do what it was asked; each is its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The command line, or a file it names, cannot make a request (exit 2).
    #[error("{0}")]
    Usage(String),
    /// This machine failed the command: its answer could not be written out (exit 2).
    #[error("{0}")]
    Local(String),
    /// Standard output closed before the answer was printed in full (exit 2 after a write;
    /// a read ends quietly).
    #[error("standard output was closed before the answer was printed in full")]
    OutputClosed,
    /// The server answered with an error (exit 1).
    #[error("{}", refusal_text(.0))]
    Refused(Box<Answer>),
    /// No answer from a clientd: nothing listens there, a name does not resolve, a timeout,
    /// or what answered is not clientd (exit 3).
    #[error("cannot reach {url}: {why}")]
    Unreachable { url: String, why: String },
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Refused(_) => 1,
            Failure::Usage(_) | Failure::Local(_) | Failure::OutputClosed => 2,
            Failure::Unreachable { .. } => 3,
        })
    }
}

/// A server's answer: its status, its headers, and its JSON body (null when it has none).
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
/// broken rule; an OAuth refusal (RFC 6749 5.2) as its error code and description. The
/// server's text is made printable: it may hold what a caller stored.
fn refusal_text(answer: &Answer) -> String {
    let text = |name: &str| answer.body.get(name).and_then(Value::as_str).map(printable);
    if let (None, Some(error)) = (text("title"), text("error")) {
        let description = text("error_description").unwrap_or_default();
        return format!("error: {error}: {description}");
    }
    let mut lines = vec![match text("title") {
        Some(title) => format!("{} {title}", answer.status.as_u16()),
        None => answer.status.to_string(),
    }];
    if let Some(detail) = text("detail") {
        lines.push(format!("  {detail}"));
    }
    for error in (answer.body.get("errors").and_then(Value::as_array))
        .into_iter()
        .flatten()
    {
        let part = |name| {
            error
                .get(name)
                .and_then(Value::as_str)
                .map_or_else(String::new, printable)
        };
        lines.push(format!("  {}: {}", part("pointer"), part("message")));
    }
    if let Some(id) = text("request_id") {
        lines.push(format!("  (request id {id})"));
    }
    lines.join("\n")
}

/// A clientd server, and the admin token to call it with if the command takes one.
pub struct Api {
    http: reqwest::Client,
    base: Url,
    authorization: Option<HeaderValue>,
}

/// What a command sends the server to say who it is.
pub enum Credentials<'a> {
    /// An admin API token, sent with every request.
    AdminToken(&'a SecretString),
    /// A client's secret or signed assertion, which the command puts in its request itself.
    Client,
}

impl Credentials<'_> {
    /// What messages call them.
    fn name(&self) -> &'static str {
        match self {
            Credentials::AdminToken(_) => "the token",
            Credentials::Client => "the client's credentials",
        }
    }
}

/// The most a command reads of an answer: the largest list page is far below.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Where a `localhost` name is sent, whatever the resolver says (port 0: the URL's).
const LOOPBACK: [SocketAddr; 2] = [
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
];

impl Api {
    /// A client of the server at `base`. Credentials go over plain http only to this
    /// machine, unless `insecure_http` says the caller accepts that anyone on the way may
    /// read them.
    pub fn new(base: Url, credentials: Credentials, insecure_http: bool) -> Result<Self, Failure> {
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Failure::Usage(format!(
                "--url (CLIENTD_URL) must be an http:// or https:// URL, not {}",
                base.scheme()
            )));
        }
        // Messages print the URL; a password in it would go with them.
        if !base.username().is_empty() || base.password().is_some() {
            let instead = match credentials {
                Credentials::AdminToken(_) => {
                    "the token is the credential (CLIENTD_TOKEN or --token-file)"
                }
                Credentials::Client => "the client's own flags carry its credentials",
            };
            return Err(Failure::Usage(format!(
                "--url (CLIENTD_URL) must not hold a user or password: {instead}"
            )));
        }
        may_send_credentials(&base, &credentials, insecure_http)?;
        let authorization = match credentials {
            Credentials::AdminToken(token) => Some(sensitive(
                &format!("Bearer {}", token.expose()),
                "the token",
            )?),
            Credentials::Client => None,
        };
        // rustls needs its cryptography chosen once per process; ring is what sqlx uses too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            // A redirect elsewhere would drop the credentials and end in a puzzling 401.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("clientd/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&base) {
            // An HTTP_PROXY would get credentials in the clear, and reach its own loopback.
            http = http.no_proxy();
        }
        if let Some(Host::Domain(name)) = base.host()
            && is_localhost_name(name)
        {
            // What is sent over plain http as loopback must reach loopback: no resolver,
            // /etc/hosts or DNS server decides where a localhost name goes (RFC 6761 6.3).
            http = http.resolve_to_addrs(name, &LOOPBACK);
        }
        let http = (http.build())
            .map_err(|error| Failure::Local(format!("cannot set up HTTP: {error}")))?;
        Ok(Self {
            http,
            base,
            authorization,
        })
    }

    /// The URL of a path given as segments, each percent-encoded, under the base URL's path.
    /// An id of "", "." or ".." would name another route, so it is refused.
    pub fn url(&self, segments: &[&str]) -> Result<Url, Failure> {
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
            return Err(Failure::Usage(format!("'{bad}' is not an id")));
        }
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        Ok(url)
    }

    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = (self.http.request(method, url)).header(header::ACCEPT, "application/json");
        match &self.authorization {
            Some(authorization) => request.header(header::AUTHORIZATION, authorization.clone()),
            None => request,
        }
    }

    /// Sends a request: a 2xx answer, or the failure a non-2xx answer or no answer is.
    pub async fn send(&self, request: RequestBuilder) -> Result<Answer, Failure> {
        self.exchange(request, Retry::CheckFirst).await
    }

    /// Sends a request that may be sent again whatever became of it (a token request): a
    /// lost answer needs no warning.
    pub async fn send_retryable(&self, request: RequestBuilder) -> Result<Answer, Failure> {
        self.exchange(request, Retry::Harmless).await
    }

    async fn exchange(&self, request: RequestBuilder, retry: Retry) -> Result<Answer, Failure> {
        let request = (request.build()).map_err(|error| {
            Failure::Usage(format!("cannot make the request: {}", describe(&error)))
        })?;
        // A write whose answer is lost may still have been done: say so, so nobody retries
        // a rotation blindly.
        let may_be_done = if request.method() == Method::GET || retry == Retry::Harmless {
            ""
        } else {
            "; the server may have done it: check before retrying (an --idempotency-key makes \
             a retry safe)"
        };
        let url = self.base.as_str().trim_end_matches('/').to_owned();
        let unreachable = |error: reqwest::Error, sent: bool| Failure::Unreachable {
            url: url.clone(),
            why: format!(
                "{}{}",
                describe(&error),
                if sent || !error.is_connect() {
                    may_be_done
                } else {
                    ""
                }
            ),
        };
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(|e| unreachable(e, false))?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(e, true))? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(self.not_clientd("an answer larger than 16 MiB"));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_redirection() {
            let to = (headers.get(header::LOCATION))
                .and_then(|l| l.to_str().ok())
                .unwrap_or("?");
            return Err(self.not_clientd(&format!("a redirect to {}", printable(to))));
        }
        let body = match serde_json::from_slice(&bytes) {
            _ if bytes.is_empty() => Value::Null,
            Ok(body) => body,
            Err(_) => return Err(self.not_clientd(&format!("a {status} answer that is not JSON"))),
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

    /// An answer no clientd gives: something else listens at the URL.
    pub fn not_clientd(&self, what: &str) -> Failure {
        Failure::Unreachable {
            url: self.base.as_str().trim_end_matches('/').to_owned(),
            why: format!("it sent {what}: is --url (CLIENTD_URL) a clientd server?"),
        }
    }
}

/// Whether a request that lost its answer may simply be sent again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    CheckFirst,
    Harmless,
}

/// A header value that carries `what` (a credential), kept out of what reqwest's `Debug`
/// shows.
pub fn sensitive(text: &str, what: &str) -> Result<HeaderValue, Failure> {
    let mut value = HeaderValue::try_from(text).map_err(|_| {
        Failure::Usage(format!(
            "cannot send {what}: a header cannot hold some of its characters"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Whether credentials may go to `url`: over https always; over plain http only to this
/// machine (loopback), or anywhere once the caller accepts the risk (`insecure_http`). On any
/// other path a plain http request is readable, and the token or client secret in it: who
/// reads it acts as its owner until it is revoked or rotated. Checked before connecting.
fn may_send_credentials(
    url: &Url,
    credentials: &Credentials,
    insecure_http: bool,
) -> Result<(), Failure> {
    if url.scheme() == "https" || insecure_http || is_loopback(url) {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    Err(Failure::Usage(format!(
        "refusing to send {} over plain http:// to {host}, which is not this machine \
         (loopback): anyone on the way could read them and act with them. Use an https:// \
         URL in --url (CLIENTD_URL), or pass --insecure-http (CLIENTD_INSECURE_HTTP=true) \
         to accept that risk",
        credentials.name()
    )))
}

/// This machine, as a URL's host: `localhost` and names under it (RFC 6761 6.3; `Api::new`
/// pins where they resolve to), 127.0.0.0/8, and `::1` (also as `::ffff:127.x.y.z`).
/// `0.0.0.0` is an address to listen on, not to call: not loopback.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => is_localhost_name(name),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// `localhost`, `api.localhost`, ..., with or without the root's trailing dot.
fn is_localhost_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name == "localhost" || name.ends_with(".localhost")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn may_send(url: &str, insecure_http: bool) -> bool {
        let url = Url::parse(url).unwrap();
        [
            Credentials::AdminToken(&SecretString::new("t".to_owned())),
            Credentials::Client,
        ]
        .iter()
        .all(|credentials| may_send_credentials(&url, credentials, insecure_http).is_ok())
    }

    #[test]
    fn a_token_goes_over_plain_http_only_to_this_machine() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.5.6.7",
            "http://127.1/base/",
            "http://localhost:8080",
            "http://LOCALHOST.",
            "http://api.localhost",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]",
            "https://example.com",
            "https://10.0.0.1:8443",
            "https://[2001:db8::1]",
        ] {
            assert!(may_send(url, false), "{url} is refused");
        }
        for url in [
            "http://10.0.0.1",
            "http://10.1.2.3:9",
            "http://192.168.1.10:8080",
            "http://example.com",
            "http://localhost.example.com",
            "http://notlocalhost",
            "http://[2001:db8::1]",
            "http://[::ffff:10.0.0.1]",
            "http://0.0.0.0:8080",
            "http://[::]:8080",
        ] {
            assert!(!may_send(url, false), "{url} is allowed");
            assert!(
                may_send(url, true),
                "{url} is refused despite --insecure-http"
            );
        }
    }

    #[test]
    fn the_refusal_says_what_to_change() {
        let url = Url::parse("http://10.1.2.3:9").unwrap();
        let refused = may_send_credentials(&url, &Credentials::Client, false).unwrap_err();
        let text = refused.to_string();
        assert!(matches!(refused, Failure::Usage(_)), "exit 2");
        for part in [
            "10.1.2.3",
            "https://",
            "--insecure-http",
            "CLIENTD_INSECURE_HTTP=true",
        ] {
            assert!(text.contains(part), "{part} missing: {text}");
        }
    }
}
