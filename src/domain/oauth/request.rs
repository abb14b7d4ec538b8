//! What a request to the token, introspection or revocation endpoint carries: its form
//! parameters (each at most once, RFC 6749 3.2) and how the client authenticates (one way
//! per request, RFC 6749 2.3).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::assertion::JWT_BEARER;
use super::error::OAuthError;
use crate::domain::secret::SecretString;

/// A form body's parameters, refused if one is repeated. No `Debug`: it holds secrets.
#[derive(Default)]
pub struct Form(Vec<(String, String)>);

/// More parameters than any request to these endpoints has: a body of thousands of names is
/// refused after this many, so its cost is bounded by what it may hold, not by its size.
const MAX_PARAMETERS: usize = 32;
/// The longest name a refusal quotes back.
const MAX_QUOTED: usize = 64;

impl Form {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (count, (name, value)) in url::form_urlencoded::parse(body).enumerate() {
            let quoted: String = name.chars().take(MAX_QUOTED).collect();
            if count >= MAX_PARAMETERS {
                return Err(OAuthError::invalid_request(format!(
                    "the body holds more than {MAX_PARAMETERS} parameters"
                )));
            }
            if value.contains('\0') || name.contains('\0') {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {quoted:?} holds a NUL character"
                )));
            }
            // RFC 6749 3.2: parameters sent without a value are treated as omitted.
            if value.is_empty() {
                continue;
            }
            if !names.insert(name.clone()) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {quoted:?} is repeated; send each parameter once"
                )));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        (self.0.iter())
            .find(|(seen, _)| seen == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("the parameter {name:?} is missing"))
        })
    }
}

/// How a client says who it is. No `Debug`: it holds a secret or an assertion.
pub enum ClientProof {
    /// `Authorization: Basic` (client_secret_basic).
    Basic {
        client_id: String,
        secret: SecretString,
    },
    /// `client_id` and `client_secret` in the body (client_secret_post).
    Post {
        client_id: String,
        secret: SecretString,
    },
    /// `client_assertion` (private_key_jwt); the client is the assertion's `iss`.
    Assertion {
        client_id: Option<String>,
        assertion: String,
    },
    /// A `client_id` alone: a public client, which cannot authenticate.
    IdOnly { client_id: String },
}

impl ClientProof {
    /// Whether the proof came by Basic, whose refusal carries `WWW-Authenticate: Basic`.
    pub fn is_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }

    /// The client id the request names, before anything is checked.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::IdOnly { client_id } => Some(client_id),
            Self::Assertion { client_id, .. } => client_id.as_deref(),
        }
    }

    /// The one way the request authenticates its client. `basic` is the `Authorization`
    /// header's credentials after `Basic `, if it had any.
    pub fn read(basic: Option<&str>, form: &Form) -> Result<Self, OAuthError> {
        let post_secret = form.get("client_secret");
        let assertion = form.get("client_assertion");
        let assertion_type = form.get("client_assertion_type");
        let form_id = form.get("client_id");
        let ways = [basic.is_some(), post_secret.is_some(), assertion.is_some()];
        if ways.iter().filter(|&&used| used).count() > 1 {
            return Err(OAuthError::invalid_request(
                "the request authenticates the client more than one way; use exactly one of Authorization: Basic, client_secret, or client_assertion",
            ));
        }
        if assertion.is_some() != assertion_type.is_some() {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion and client_assertion_type go together; client_assertion_type is {JWT_BEARER}"
            )));
        }
        if let Some(header) = basic {
            let (client_id, secret) = basic_credentials(header)?;
            if form_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body is not the client of Authorization: Basic",
                ));
            }
            return Ok(Self::Basic { client_id, secret });
        }
        if let Some(secret) = post_secret {
            let client_id = form.require("client_id")?.to_owned();
            let secret = SecretString::new(secret.to_owned());
            return Ok(Self::Post { client_id, secret });
        }
        if let (Some(assertion), Some(kind)) = (assertion, assertion_type) {
            if kind != JWT_BEARER {
                return Err(OAuthError::invalid_client(format!(
                    "client_assertion_type {kind:?} is not supported; use {JWT_BEARER}"
                )));
            }
            return Ok(Self::Assertion {
                client_id: form_id.map(str::to_owned),
                assertion: assertion.to_owned(),
            });
        }
        match form_id {
            Some(client_id) => Ok(Self::IdOnly {
                client_id: client_id.to_owned(),
            }),
            None => Err(OAuthError::invalid_client(
                "the client did not authenticate: send Authorization: Basic, client_id with client_secret, or a client_assertion",
            )),
        }
    }
}

/// RFC 6749 2.3.1: base64 of `client_id:client_secret`, each form-urlencoded first.
fn basic_credentials(header: &str) -> Result<(String, SecretString), OAuthError> {
    let malformed = || {
        OAuthError::invalid_client(
            "Authorization: Basic must hold base64 of client_id:client_secret, each form-urlencoded",
        )
    };
    let decoded = STANDARD.decode(header.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |part: &str| -> Result<String, OAuthError> {
        let text: String = url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .map(|(_, value)| value.into_owned())
            .collect();
        if text.contains('\0') {
            return Err(malformed());
        }
        Ok(text)
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    if id.is_empty() || secret.is_empty() {
        return Err(malformed());
    }
    Ok((id, SecretString::new(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::oauth::error::ErrorCode;

    fn form(body: &str) -> Form {
        Form::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn a_repeated_parameter_is_refused_and_an_empty_one_ignored() {
        let error = Form::parse(b"scope=a&scope=b").err().unwrap();
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        assert!(error.description.contains("\"scope\" is repeated"));
        assert_eq!(form("scope=&grant_type=x").get("scope"), None);
        let many: Vec<String> = (0..=MAX_PARAMETERS).map(|i| format!("p{i}=1")).collect();
        let error = Form::parse(many.join("&").as_bytes()).err().unwrap();
        assert!(
            error.description.contains("more than"),
            "{}",
            error.description
        );
    }

    #[test]
    fn basic_credentials_are_form_urlencoded() {
        let header = STANDARD.encode("my%2Bclient:s%3Acret+x");
        match ClientProof::read(Some(&header), &form("")).unwrap() {
            ClientProof::Basic { client_id, secret } => {
                assert_eq!(client_id, "my+client");
                assert_eq!(secret.expose(), "s:cret x");
            }
            _ => panic!("not read as Basic"),
        }
    }

    #[test]
    fn a_client_authenticates_one_way_only() {
        let header = STANDARD.encode("c:s");
        let code = |proof: Result<ClientProof, OAuthError>| proof.err().map(|e| e.code);
        let both = ClientProof::read(Some(&header), &form("client_id=c&client_secret=s"));
        assert_eq!(code(both), Some(ErrorCode::InvalidRequest));
        let assertion = format!(
            "client_secret=s&client_id=c&client_assertion=x&client_assertion_type={JWT_BEARER}"
        );
        let mixed = ClientProof::read(None, &form(&assertion));
        assert_eq!(code(mixed), Some(ErrorCode::InvalidRequest));
        let none = ClientProof::read(None, &form("grant_type=client_credentials"));
        assert_eq!(code(none), Some(ErrorCode::InvalidClient));
        for bad in ["", "bm9jb2xvbg", "!!"] {
            let proof = ClientProof::read(Some(bad), &form(""));
            assert_eq!(code(proof), Some(ErrorCode::InvalidClient), "{bad}");
        }
    }
}
