//! Requests as one caller, and the answers they get.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::TestApp;

/// Requests as one caller.
pub struct Client<'a> {
    pub(super) app: &'a TestApp,
    pub(super) authorization: Option<String>,
}

impl Client<'_> {
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, None).await
    }

    /// GETs `path` until its answer satisfies `done`, for what is written in the background
    /// (a secret's last use): at most five seconds.
    pub async fn get_until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let answer = self.get(path).await;
            if done(&answer.json) {
                return answer.json;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path} never got there: {}",
                answer.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> TestResponse {
        let mut request = self.app.http.request(method, self.app.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.send_raw(request).await
    }

    /// Sends a request built by the test, adding this caller's credentials.
    pub async fn send_raw(&self, mut request: reqwest::RequestBuilder) -> TestResponse {
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        TestResponse::read(request.send().await.unwrap()).await
    }

    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.http.request(method, self.app.url(path))
    }

    pub async fn patch(&self, path: &str, body: Value) -> TestResponse {
        let request = self
            .raw(reqwest::Method::PATCH, path)
            .header("content-type", "application/json-patch+json")
            .body(body.to_string());
        self.send_raw(request).await
    }
}

pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub json: Value,
}

impl TestResponse {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and problem type, and returns it.
    pub fn assert_problem(&self, status: u16, kind: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        let problem = &self.json;
        assert_eq!(
            problem["type"],
            format!("urn:clientd:problem:{kind}"),
            "{}",
            self.text
        );
        assert_eq!(problem["status"], status);
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(
            problem["instance"]
                .as_str()
                .is_some_and(|i| i.starts_with('/'))
        );
        problem
    }

    /// Asserts a 422 whose errors point at exactly these fields.
    pub fn assert_invalid(&self, pointers: &[&str]) {
        let problem = self.assert_problem(422, "validation");
        let found: Vec<_> = (problem["errors"].as_array().unwrap().iter())
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        assert_eq!(found, pointers, "{}", self.text);
    }

    /// Asserts a 422 whose errors point at these fields, in any order.
    pub fn assert_invalid_fields(&self, pointers: &[&str]) {
        let problem = self.assert_problem(422, "validation");
        let mut found: Vec<_> = (problem["errors"].as_array().unwrap().iter())
            .map(|e| e["pointer"].as_str().unwrap().to_owned())
            .collect();
        found.sort();
        let mut expected: Vec<_> = pointers.iter().map(|p| p.to_string()).collect();
        expected.sort();
        assert_eq!(found, expected, "{}", self.text);
    }
}
