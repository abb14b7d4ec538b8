//! The Nexus create request (snake_case, `client_metadata`, `mobile`) and its mapping onto the
//! canonical client, with defaults for everything left out.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    AccessType, AppType, Client, ClientAuthMethod, ClientId, ClientSettings, ClientType,
    CreateSecretPolicy, GrantType, Mobile, check_auth_method, defaults,
};
use crate::domain::integer;
use crate::domain::json::{object, without_negative_zero};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::{FieldError, Invalid};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    pub id: Option<String>,
    pub name: String,
    pub app_type: AppType,
    pub description: Option<String>,
    pub business_name: Option<String>,
    pub homepage_url: Option<String>,
    pub logo_uri: Option<String>,
    pub initiate_login_uri: Option<String>,
    pub callbacks: Option<Vec<String>>,
    pub allowed_logout_urls: Option<Vec<String>>,
    pub web_origins: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub grant_types: Option<Vec<GrantType>>,
    #[serde(default, deserialize_with = "object")]
    pub mobile: Option<Mobile>,
    #[serde(default, deserialize_with = "object")]
    pub client_metadata: Option<ClientMetadata>,
    pub client_auth_method: Option<ClientAuthMethod>,
    /// The lifetimes take any integer-valued number: `3600.0` and `3.6e3` are 3600, as JSON
    /// Schema's `integer` reads them.
    #[serde(default, deserialize_with = "integer::option")]
    pub access_token_validity_seconds: Option<i64>,
    #[serde(default, deserialize_with = "integer::option")]
    pub refresh_token_validity_seconds: Option<i64>,
    #[serde(default, deserialize_with = "integer::option")]
    pub id_token_expiration: Option<i64>,
    #[serde(default, deserialize_with = "integer::option")]
    pub refresh_token_reuse_interval: Option<i64>,
    #[serde(default, deserialize_with = "integer::option")]
    pub refresh_token_absolute_lifetime: Option<i64>,
    #[serde(default, deserialize_with = "integer::option")]
    pub refresh_token_inactivity_lifetime: Option<i64>,
    pub is_refresh_token_rotation_enabled: Option<bool>,
    pub is_refresh_token_absolute_expiration_enabled: Option<bool>,
    pub is_refresh_token_inactivity_lifetime_enabled: Option<bool>,
    pub allow_cross_origin_authentication: Option<bool>,
    pub enabled: Option<bool>,
    pub strong_auth_supported: Option<bool>,
    pub claims_supported: Option<bool>,
    pub access_type: Option<AccessType>,
    pub scope: Option<Vec<String>>,
    pub audiences: Option<Vec<String>>,
    pub trusted_metadata: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "object")]
    pub secret_policy: Option<CreateSecretPolicy>,
}

/// Nexus's `client_metadata`; `owners` is a comma-separated string.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientMetadata {
    pub owners: Option<String>,
    #[serde(rename = "productName")]
    pub product_name: Option<String>,
    pub client_upn_key: Option<String>,
    #[serde(rename = "applicationName")]
    pub application_name: Option<String>,
    #[serde(rename = "manuallyCreated")]
    pub manually_created: Option<bool>,
}

impl CreateClient {
    /// The client this request describes, or every broken rule, pointing into the request.
    pub fn into_client(self, tenant: TenantId, now: Timestamp) -> Result<Client, Invalid> {
        let id = match &self.id {
            Some(id) => ClientId::parse(id).map_err(|message| Invalid::one("/id", message))?,
            None => ClientId::generate(),
        };
        let app_type = self.app_type;
        let manually_created = (self.client_metadata.as_ref())
            .and_then(|metadata| metadata.manually_created)
            .unwrap_or(false);
        let settings = self.into_settings();
        check_new_settings(&settings, app_type.client_type(), now)?;
        Ok(Client {
            id,
            tenant,
            app_type,
            settings,
            manually_created,
            created: now,
            modified: now,
            last_used: None,
        })
    }

    /// The canonical settings: the request's fields, with a default for each one left out.
    fn into_settings(self) -> ClientSettings {
        let client_type = self.app_type.client_type();
        let grant_types = (self.grant_types).unwrap_or_else(|| self.app_type.default_grant_types());
        let access_type = (self.access_type).unwrap_or_else(|| implied_access_type(&grant_types));
        let metadata = self.client_metadata.unwrap_or_default();
        ClientSettings {
            name: self.name,
            description: self.description,
            business_name: self.business_name,
            homepage_url: self.homepage_url,
            client_auth_method: (self.client_auth_method)
                .unwrap_or(ClientAuthMethod::default_for(client_type)),
            grant_types,
            redirect_uris: self.callbacks.unwrap_or_default(),
            allowed_logout_urls: self.allowed_logout_urls.unwrap_or_default(),
            allowed_web_origins: self.web_origins.unwrap_or_default(),
            allowed_cors_origins: self.allowed_origins.unwrap_or_default(),
            logo_url: self.logo_uri,
            initiate_login_uri: self.initiate_login_uri,
            mobile: self.mobile,
            owners: split_owners(metadata.owners.as_deref()),
            product_name: metadata.product_name,
            application_name: metadata.application_name,
            client_upn_key: metadata.client_upn_key,
            access_token_validity_seconds: (self.access_token_validity_seconds)
                .unwrap_or(defaults::ACCESS_TOKEN_VALIDITY_SECONDS),
            refresh_token_validity_seconds: (self.refresh_token_validity_seconds)
                .unwrap_or(defaults::REFRESH_TOKEN_VALIDITY_SECONDS),
            id_token_expiration: self
                .id_token_expiration
                .unwrap_or(defaults::ID_TOKEN_EXPIRATION),
            refresh_token_reuse_interval: (self.refresh_token_reuse_interval)
                .unwrap_or(defaults::REFRESH_TOKEN_REUSE_INTERVAL),
            refresh_token_absolute_lifetime: (self.refresh_token_absolute_lifetime)
                .unwrap_or(defaults::REFRESH_TOKEN_ABSOLUTE_LIFETIME),
            refresh_token_inactivity_lifetime: (self.refresh_token_inactivity_lifetime)
                .unwrap_or(defaults::REFRESH_TOKEN_INACTIVITY_LIFETIME),
            is_refresh_token_rotation_enabled: self
                .is_refresh_token_rotation_enabled
                .unwrap_or(false),
            is_refresh_token_absolute_expiration_enabled: (self
                .is_refresh_token_absolute_expiration_enabled)
                .unwrap_or(false),
            is_refresh_token_inactivity_lifetime_enabled: (self
                .is_refresh_token_inactivity_lifetime_enabled)
                .unwrap_or(false),
            allow_cross_origin_authentication: self
                .allow_cross_origin_authentication
                .unwrap_or(false),
            enabled: self.enabled.unwrap_or(true),
            strong_auth_supported: self.strong_auth_supported.unwrap_or(false),
            claims_supported: self.claims_supported.unwrap_or(false),
            access_type,
            scope: self.scope.unwrap_or_default(),
            audiences: self.audiences.unwrap_or_default(),
            trusted_metadata: without_negative_zero(self.trusted_metadata.unwrap_or_default()),
            secret_policy: self.secret_policy.map(Into::into).unwrap_or_default(),
        }
    }
}

/// Refresh tokens imply offline access unless the caller says otherwise.
fn implied_access_type(grant_types: &[GrantType]) -> AccessType {
    if grant_types.contains(&GrantType::RefreshToken) {
        AccessType::Offline
    } else {
        AccessType::Online
    }
}

/// `client_metadata.owners`, one comma-separated string, as a list without blanks.
fn split_owners(owners: Option<&str>) -> Vec<String> {
    (owners.unwrap_or(""))
        .split(',')
        .map(str::trim)
        .filter(|owner| !owner.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every rule a new client's settings break, pointing into the request.
fn check_new_settings(
    settings: &ClientSettings,
    client_type: ClientType,
    now: Timestamp,
) -> Result<(), Invalid> {
    let mut errors = settings
        .check(client_type)
        .err()
        .map_or_else(Vec::new, |Invalid(e)| e);
    // A new client has no credentials yet, so no method that needs one.
    if let Err(why) = check_auth_method(settings.client_auth_method, &[], now) {
        errors.push(FieldError::new("/clientAuthMethod", why));
    }
    if !errors.is_empty() {
        return Err(Invalid(
            errors.into_iter().map(to_request_pointer).collect(),
        ));
    }
    Ok(())
}

/// Points a rule broken in the canonical document at the request field it came from.
fn to_request_pointer(error: FieldError) -> FieldError {
    let (field, rest) = match error.pointer[1..].split_once('/') {
        Some((field, rest)) => (field.to_owned(), format!("/{rest}")),
        None => (error.pointer[1..].to_owned(), String::new()),
    };
    let pointer = match field.as_str() {
        "redirectUris" => format!("/callbacks{rest}"),
        "allowedWebOrigins" => format!("/web_origins{rest}"),
        "allowedCorsOrigins" => format!("/allowed_origins{rest}"),
        "logoUrl" => "/logo_uri".to_owned(),
        // owners arrive as one comma-separated string
        "owners" => "/client_metadata/owners".to_owned(),
        "productName" | "applicationName" | "client_upn_key" => format!("/client_metadata/{field}"),
        // its members are snake_case in the create body too
        "secretPolicy" => format!("/secret_policy{}", snake_case(&rest)),
        _ => format!("/{}{rest}", snake_case(&field)),
    };
    FieldError::new(pointer, error.message)
}

fn snake_case(camel: &str) -> String {
    let mut snake = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_pointers_map_back_to_request_fields() {
        let cases = [
            ("/redirectUris/1", "/callbacks/1"),
            ("/allowedCorsOrigins/0", "/allowed_origins/0"),
            ("/initiateLoginUri", "/initiate_login_uri"),
            ("/owners/2", "/client_metadata/owners"),
            ("/productName", "/client_metadata/productName"),
            (
                "/isRefreshTokenRotationEnabled",
                "/is_refresh_token_rotation_enabled",
            ),
            ("/grantTypes/0", "/grant_types/0"),
            (
                "/secretPolicy/maxAgeSeconds",
                "/secret_policy/max_age_seconds",
            ),
        ];
        for (canonical, request) in cases {
            assert_eq!(
                to_request_pointer(FieldError::new(canonical, "x")).pointer,
                request
            );
        }
    }
}
