//! OAuth clients: the canonical client document (DESIGN section 3), its defaults and rules,
//! the Nexus create request, and SailPoint-style JSON Patch.

mod auth;
mod create;
mod credentials;
mod patch;
mod rules;
pub mod secret_policy;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::Invalid;
use super::credential::Credential;
use super::integer;
use super::json::object;
use super::refusal::Refusal;
use super::tenant::TenantId;
use super::time::Timestamp;
use super::token::Grants;

pub use auth::{ClientAuthMethod, check_auth_method};
pub use create::CreateClient;
pub use credentials::{CredentialChange, decide_add, decide_expiry, decide_remove};
pub use patch::{ClientPatch, PatchError};
pub use rules::MAX_DOCUMENT_BYTES;
pub use secret_policy::{CreateSecretPolicy, SecretPolicy};

/// A client id: 1 to 64 letters, digits, `.`, `_` and `-`; generated as 32 lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(text: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if (1..=64).contains(&text.len()) && text.chars().all(allowed) {
            Ok(Self(text.to_owned()))
        } else {
            Err("must be 1 to 64 letters, digits, '.', '_' or '-'".to_owned())
        }
    }

    /// 128 random bits (a v4 UUID) as 32 lowercase hex characters.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppType {
    RegularWeb,
    Spa,
    Native,
    NonInteractive,
}

impl AppType {
    pub const ALL: [AppType; 4] = [
        Self::RegularWeb,
        Self::Spa,
        Self::Native,
        Self::NonInteractive,
    ];

    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_value(Value::from(text)).map_err(|_| {
            format!("unknown app type {text:?}; use regular_web, spa, native or non_interactive")
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegularWeb => "regular_web",
            Self::Spa => "spa",
            Self::Native => "native",
            Self::NonInteractive => "non_interactive",
        }
    }

    /// Servers and machines can keep a secret; browsers and devices cannot.
    pub fn client_type(self) -> ClientType {
        match self {
            Self::RegularWeb | Self::NonInteractive => ClientType::Confidential,
            Self::Spa | Self::Native => ClientType::Public,
        }
    }

    pub fn default_grant_types(self) -> Vec<GrantType> {
        match self {
            Self::NonInteractive => vec![GrantType::ClientCredentials],
            _ => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientType {
    Confidential,
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessType {
    Online,
    Offline,
}

/// An OAuth grant type by its RFC name; SailPoint's upper-case names are accepted as aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantType {
    #[serde(rename = "authorization_code", alias = "AUTHORIZATION_CODE")]
    AuthorizationCode,
    #[serde(rename = "client_credentials", alias = "CLIENT_CREDENTIALS")]
    ClientCredentials,
    #[serde(rename = "refresh_token", alias = "REFRESH_TOKEN")]
    RefreshToken,
    #[serde(rename = "implicit")]
    Implicit,
    #[serde(rename = "password")]
    Password,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mobile {
    #[serde(
        default,
        deserialize_with = "object",
        skip_serializing_if = "Option::is_none"
    )]
    pub ios: Option<Ios>,
    #[serde(
        default,
        deserialize_with = "object",
        skip_serializing_if = "Option::is_none"
    )]
    pub android: Option<Android>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ios {
    pub team_id: Option<String>,
    pub app_bundle_identifier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Android {
    pub keystore_hash: Option<String>,
    pub app_package_name: Option<String>,
}

/// Every field of a client a caller may change with JSON Patch, but `tenant`. In the canonical
/// (camelCase) names; lists and optional values read `null` as empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSettings {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub business_name: Option<String>,
    #[serde(default)]
    pub homepage_url: Option<String>,
    pub client_auth_method: ClientAuthMethod,
    pub grant_types: Vec<GrantType>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub redirect_uris: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub allowed_logout_urls: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub allowed_web_origins: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub allowed_cors_origins: Vec<String>,
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub initiate_login_uri: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub mobile: Option<Mobile>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub owners: Vec<String>,
    #[serde(default)]
    pub product_name: Option<String>,
    #[serde(default)]
    pub application_name: Option<String>,
    #[serde(default, rename = "client_upn_key")]
    pub client_upn_key: Option<String>,
    /// The lifetimes take any integer-valued JSON number (a patch may set `1e3`), as
    /// openapi.yaml's `type: integer` promises, and keep it as the integer.
    #[serde(deserialize_with = "integer::whole")]
    pub access_token_validity_seconds: i64,
    #[serde(deserialize_with = "integer::whole")]
    pub refresh_token_validity_seconds: i64,
    #[serde(deserialize_with = "integer::whole")]
    pub id_token_expiration: i64,
    #[serde(deserialize_with = "integer::whole")]
    pub refresh_token_reuse_interval: i64,
    #[serde(deserialize_with = "integer::whole")]
    pub refresh_token_absolute_lifetime: i64,
    #[serde(deserialize_with = "integer::whole")]
    pub refresh_token_inactivity_lifetime: i64,
    pub is_refresh_token_rotation_enabled: bool,
    pub is_refresh_token_absolute_expiration_enabled: bool,
    pub is_refresh_token_inactivity_lifetime_enabled: bool,
    pub allow_cross_origin_authentication: bool,
    pub enabled: bool,
    pub strong_auth_supported: bool,
    pub claims_supported: bool,
    pub access_type: AccessType,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub scope: Vec<String>,
    /// What the client's access tokens may be for (`aud`): absolute URIs; a token request
    /// names one of them, or gets them all.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub audiences: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub trusted_metadata: Map<String, Value>,
    /// Always shown, every member null by default; a document stored before it existed
    /// reads as the empty policy.
    #[serde(default, deserialize_with = "object_or_empty")]
    pub secret_policy: SecretPolicy,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An object, with `null` as its empty value (not an array of its members).
fn object_or_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(object(deserializer)?.unwrap_or_default())
}

/// Defaults, documented in openapi.yaml.
pub mod defaults {
    pub const ACCESS_TOKEN_VALIDITY_SECONDS: i64 = 3_600;
    pub const REFRESH_TOKEN_VALIDITY_SECONDS: i64 = 2_592_000;
    pub const ID_TOKEN_EXPIRATION: i64 = 36_000;
    pub const REFRESH_TOKEN_REUSE_INTERVAL: i64 = 0;
    pub const REFRESH_TOKEN_ABSOLUTE_LIFETIME: i64 = 2_592_000;
    pub const REFRESH_TOKEN_INACTIVITY_LIFETIME: i64 = 1_296_000;
}

/// A client as stored: what callers set, plus what only clientd sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: ClientId,
    pub tenant: TenantId,
    pub app_type: AppType,
    pub settings: ClientSettings,
    pub manually_created: bool,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub last_used: Option<Timestamp>,
}

impl Client {
    pub fn client_type(&self) -> ClientType {
        self.app_type.client_type()
    }

    /// The canonical document: what create, read, list and patch return. Serializing it
    /// writes the JSON straight from the client, without building a `Value` first.
    pub fn document(&self) -> Document<'_> {
        Document {
            settings: &self.settings,
            id: &self.id,
            tenant: &self.tenant,
            app_type: self.app_type,
            client_type: self.client_type(),
            callback_urls: &self.settings.redirect_uris,
            manually_created: self.manually_created,
            internal: false,
            created: Stamp(self.created),
            modified: Stamp(self.modified),
            last_used: self.last_used.map(Stamp),
        }
    }

    /// The document as a JSON value, for what JSON Patch applies to.
    pub fn document_value(&self) -> Value {
        serde_json::to_value(self.document()).unwrap_or(Value::Null)
    }

    /// A strong validator of the document: any change to it changes the tag.
    pub fn etag(&self) -> String {
        etag_of(&serde_json::to_vec(&self.document()).unwrap_or_default())
    }
}

/// The ETag of a serialized document: a strong validator, as `"` + 24 hex digits + `"`.
pub fn etag_of(document: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(document);
    let hex: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The canonical client document: the patchable settings, then what only clientd sets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document<'a> {
    #[serde(flatten)]
    settings: &'a ClientSettings,
    id: &'a ClientId,
    tenant: &'a TenantId,
    app_type: AppType,
    #[serde(rename = "type")]
    client_type: ClientType,
    callback_urls: &'a [String],
    manually_created: bool,
    internal: bool,
    created: Stamp,
    modified: Stamp,
    last_used: Option<Stamp>,
}

/// A timestamp as documents show it: RFC 3339 in UTC with milliseconds.
struct Stamp(Timestamp);

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        serializer.serialize_str(&text)
    }
}

/// May the caller change this client (its document, credentials or secrets)? A client in a
/// tenant the caller cannot read is answered as one that does not exist.
pub fn writable(client: &Client, grants: &Grants) -> Result<(), Refusal> {
    if !grants.can_read(&client.tenant) {
        Err(Refusal::Hidden)
    } else if !grants.can_write(&client.tenant) {
        Err(Refusal::Forbidden(
            "this token may read but not change this tenant's clients",
        ))
    } else {
        Ok(())
    }
}

/// The change a JSON Patch makes, checked against the caller's grants and `If-Match`.
/// None when the patch changes nothing, so nothing is written.
pub fn decide_patch(
    current: &Client,
    credentials: Option<&[Credential]>,
    patch: &ClientPatch,
    grants: &Grants,
    if_match: Option<&[String]>,
    now: Timestamp,
) -> Result<Option<Client>, Refusal> {
    writable(current, grants)?;
    if let Some(tags) = if_match {
        let etag = current.etag();
        if !tags.iter().any(|tag| tag == "*" || *tag == etag) {
            return Err(Refusal::Stale);
        }
    }
    let patched = patch.apply(current)?;
    if patched.tenant != current.tenant && !grants.can_write(&patched.tenant) {
        return Err(Refusal::Forbidden(
            "moving a client needs write permission on both tenants",
        ));
    }
    if patched == *current {
        return Ok(None);
    }
    let method = patched.settings.client_auth_method;
    if method != current.settings.client_auth_method {
        let credentials = credentials.ok_or(Refusal::NeedsCredentials)?;
        check_auth_method(method, credentials, now)
            .map_err(|why| Invalid::one("/clientAuthMethod", why))?;
    }
    Ok(Some(Client {
        modified: now,
        ..patched
    }))
}

#[cfg(test)]
mod tests;
