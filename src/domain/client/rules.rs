//! The rules a client's settings must keep, checked after every create and every patch.
//! Pointers name the canonical (camelCase) fields.

use url::Url;

use super::{ClientAuthMethod, ClientSettings, ClientType, GrantType, Mobile};
use crate::domain::json::json_size;
use crate::domain::text::{check_members, multi_line, single_line};
use crate::domain::{Invalid, Violations};

const MAX_TEXT: usize = 200;
const MAX_DESCRIPTION: usize = 1_000;
const MAX_LIST: usize = 100;
/// The longest URL or URI a client may list (browsers and proxies cope with 2,048).
const MAX_URL: usize = 2_048;
/// `scheme://host:port`: a DNS name is at most 253 characters.
const MAX_ORIGIN: usize = 300;
const MAX_SCOPE: usize = 200;
const MAX_TRUSTED_METADATA_BYTES: usize = 4_096;
/// The largest client document clientd stores, as JSON. Every field within its own limits
/// stays well under it; it also bounds what a JSON Patch may build while it is applied.
pub const MAX_DOCUMENT_BYTES: usize = 128 * 1024;

impl ClientSettings {
    pub fn check(&self, client_type: ClientType) -> Result<(), Invalid> {
        let mut v = Violations::default();
        v.check("/name", bounded(&self.name, MAX_TEXT));
        if let Some(description) = &self.description {
            v.check(
                "/description",
                multi_line(description).and_then(|()| length(description, MAX_DESCRIPTION)),
            );
        }
        for (pointer, value) in [
            ("/businessName", &self.business_name),
            ("/productName", &self.product_name),
            ("/applicationName", &self.application_name),
            ("/client_upn_key", &self.client_upn_key),
        ] {
            text(&mut v, pointer, value.as_deref(), MAX_TEXT);
        }
        if let Some(url) = &self.homepage_url {
            v.check("/homepageUrl", web_url(url, &["http", "https"]));
        }
        if let Some(mobile) = &self.mobile {
            check_mobile(&mut v, mobile);
        }
        for (pointer, url) in [
            ("/logoUrl", &self.logo_url),
            ("/initiateLoginUri", &self.initiate_login_uri),
        ] {
            if let Some(url) = url {
                v.check(pointer, web_url(url, &["https"]));
            }
        }
        list(&mut v, "/redirectUris", &self.redirect_uris, redirect_uri);
        list(
            &mut v,
            "/allowedLogoutUrls",
            &self.allowed_logout_urls,
            |u| web_url(u, &["http", "https"]),
        );
        list(
            &mut v,
            "/allowedWebOrigins",
            &self.allowed_web_origins,
            origin,
        );
        list(
            &mut v,
            "/allowedCorsOrigins",
            &self.allowed_cors_origins,
            origin,
        );
        list(&mut v, "/owners", &self.owners, |owner| {
            bounded(owner, MAX_TEXT)
        });
        list(&mut v, "/scope", &self.scope, |scope| {
            scope_token(scope).and_then(|()| at_most(scope, MAX_SCOPE))
        });
        list(&mut v, "/audiences", &self.audiences, audience);
        self.check_grants(&mut v, client_type);
        self.check_lifetimes(&mut v);
        self.secret_policy.check(&mut v);
        if client_type == ClientType::Public && !self.secret_policy.is_empty() {
            v.add(
                "/secretPolicy",
                "a PUBLIC client (spa, native) has no secret: leave its secret policy empty",
            );
        }
        let metadata_size = serde_json::to_vec(&self.trusted_metadata).map_or(0, |b| b.len());
        if metadata_size > MAX_TRUSTED_METADATA_BYTES {
            v.add(
                "/trustedMetadata",
                format!("must be at most {MAX_TRUSTED_METADATA_BYTES} bytes of JSON"),
            );
        }
        check_members(&mut v, "/trustedMetadata", &self.trusted_metadata);
        if v.is_empty() && json_size(self) > MAX_DOCUMENT_BYTES {
            v.add(
                "/",
                format!("the client would take more than {MAX_DOCUMENT_BYTES} bytes of JSON; shorten its lists"),
            );
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(v.into_invalid())
        }
    }

    fn check_grants(&self, v: &mut Violations, client_type: ClientType) {
        match (client_type, self.client_auth_method) {
            (ClientType::Public, ClientAuthMethod::None) => {}
            (ClientType::Public, _) => v.add(
                "/clientAuthMethod",
                "a PUBLIC client (spa, native) cannot keep a secret or key: it must be none",
            ),
            (ClientType::Confidential, ClientAuthMethod::None) => v.add(
                "/clientAuthMethod",
                "none is only for PUBLIC clients; a CONFIDENTIAL client must authenticate",
            ),
            (ClientType::Confidential, _) => {}
        }
        if self.grant_types.is_empty() {
            v.add("/grantTypes", "name at least one grant type");
        }
        for (i, grant) in self.grant_types.iter().enumerate() {
            if self.grant_types[..i].contains(grant) {
                v.add(format!("/grantTypes/{i}"), "is listed twice");
            }
            if *grant == GrantType::ClientCredentials && client_type == ClientType::Public {
                v.add(
                    format!("/grantTypes/{i}"),
                    "a PUBLIC client (spa, native) cannot use client_credentials",
                );
            }
        }
    }

    fn check_lifetimes(&self, v: &mut Violations) {
        let positive = [
            (
                "/accessTokenValiditySeconds",
                self.access_token_validity_seconds,
            ),
            (
                "/refreshTokenValiditySeconds",
                self.refresh_token_validity_seconds,
            ),
            ("/idTokenExpiration", self.id_token_expiration),
            (
                "/refreshTokenAbsoluteLifetime",
                self.refresh_token_absolute_lifetime,
            ),
            (
                "/refreshTokenInactivityLifetime",
                self.refresh_token_inactivity_lifetime,
            ),
        ];
        for (pointer, seconds) in positive {
            if !(1..=i64::from(i32::MAX)).contains(&seconds) {
                v.add(
                    pointer,
                    format!("must be a whole number of seconds from 1 to {}", i32::MAX),
                );
            }
        }
        if !(0..=i64::from(i32::MAX)).contains(&self.refresh_token_reuse_interval) {
            v.add(
                "/refreshTokenReuseInterval",
                format!("must be a whole number of seconds from 0 to {}", i32::MAX),
            );
        }
        if self.is_refresh_token_rotation_enabled
            && !self.is_refresh_token_absolute_expiration_enabled
        {
            v.add(
                "/isRefreshTokenRotationEnabled",
                "rotating refresh tokens needs isRefreshTokenAbsoluteExpirationEnabled: true",
            );
        }
        if self.is_refresh_token_absolute_expiration_enabled
            && self.is_refresh_token_inactivity_lifetime_enabled
            && self.refresh_token_inactivity_lifetime > self.refresh_token_absolute_lifetime
        {
            v.add(
                "/refreshTokenInactivityLifetime",
                "must not exceed refreshTokenAbsoluteLifetime when both are enabled",
            );
        }
    }
}

fn text(v: &mut Violations, pointer: &str, value: Option<&str>, max: usize) {
    if let Some(value) = value {
        v.check(pointer, bounded(value, max));
    }
}

/// One line of 1 to `max` characters, not only spaces.
fn bounded(value: &str, max: usize) -> Result<(), String> {
    length(value, max).and_then(|()| single_line(value))
}

fn length(value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() || value.chars().count() > max {
        Err(format!("must be 1 to {max} characters, not only spaces"))
    } else {
        Ok(())
    }
}

fn at_most(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(())
    }
}

/// The iOS and Android identifiers: short single-line text each.
fn check_mobile(v: &mut Violations, mobile: &Mobile) {
    let ios = mobile.ios.as_ref();
    let android = mobile.android.as_ref();
    for (pointer, value) in [
        (
            "/mobile/ios/team_id",
            ios.and_then(|i| i.team_id.as_deref()),
        ),
        (
            "/mobile/ios/app_bundle_identifier",
            ios.and_then(|i| i.app_bundle_identifier.as_deref()),
        ),
        (
            "/mobile/android/keystore_hash",
            android.and_then(|a| a.keystore_hash.as_deref()),
        ),
        (
            "/mobile/android/app_package_name",
            android.and_then(|a| a.app_package_name.as_deref()),
        ),
    ] {
        text(v, pointer, value, MAX_TEXT);
    }
}

fn list(
    v: &mut Violations,
    pointer: &str,
    items: &[String],
    rule: impl Fn(&str) -> Result<(), String>,
) {
    if items.len() > MAX_LIST {
        v.add(pointer, format!("may hold at most {MAX_LIST} entries"));
        return;
    }
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            v.add(format!("{pointer}/{i}"), "is listed twice");
        } else if let Err(message) = rule(item) {
            v.add(format!("{pointer}/{i}"), message);
        }
    }
}

/// An absolute URL with one of `schemes`, a host, and no fragment.
fn web_url(text: &str, schemes: &[&str]) -> Result<(), String> {
    single_line(text).and_then(|()| at_most(text, MAX_URL))?;
    let wanted = schemes.join(" or ");
    let url = Url::parse(text).map_err(|_| format!("must be an absolute {wanted} URL"))?;
    if !schemes.contains(&url.scheme()) || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("must be an absolute {wanted} URL"));
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment (#...)".to_owned());
    }
    Ok(())
}

/// RFC 6749 section 3.1.2: an absolute URI without a fragment, on an allow-list of schemes:
/// `https`, `http` (loopback and development), and the private-use schemes of native apps,
/// which RFC 8252 section 7.1 names by reversed domain (`com.example.app:/callback`).
fn redirect_uri(text: &str) -> Result<(), String> {
    single_line(text).and_then(|()| at_most(text, MAX_URL))?;
    let url = Url::parse(text).map_err(|_| "must be an absolute URI (with a scheme)".to_owned())?;
    if url.fragment().is_some() {
        return Err("must not have a fragment (#...)".to_owned());
    }
    match url.scheme() {
        "http" | "https" if url.host_str().is_none_or(str::is_empty) => {
            Err("must name a host".to_owned())
        }
        "http" | "https" => Ok(()),
        scheme if scheme.contains('.') => Ok(()),
        scheme => Err(format!(
            "must use https, http or a native app's reverse-domain scheme (com.example.app:/cb), not {scheme}:"
        )),
    }
}

/// An access token audience (RFC 8707 `resource`): an absolute URI without a fragment.
fn audience(text: &str) -> Result<(), String> {
    single_line(text).and_then(|()| at_most(text, MAX_URL))?;
    let url = Url::parse(text)
        .map_err(|_| "must be an absolute URI, like https://api.acme.example".to_owned())?;
    if url.fragment().is_some() {
        return Err("must not have a fragment (#...)".to_owned());
    }
    Ok(())
}

/// `scheme://host[:port]`, as browsers send in `Origin`; `*.` may lead the host.
fn origin(text: &str) -> Result<(), String> {
    single_line(text).and_then(|()| at_most(text, MAX_ORIGIN))?;
    let message =
        || "must be an origin: http(s)://host[:port], without path, query or fragment".to_owned();
    let url = Url::parse(text).map_err(|_| message())?;
    let bare = url.path() == "/"
        && !text.ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none();
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !url.username().is_empty()
        || !bare
    {
        return Err(message());
    }
    Ok(())
}

/// RFC 6749 section 3.3: one or more of %x21 / %x23-5B / %x5D-7E.
fn scope_token(text: &str) -> Result<(), String> {
    let allowed =
        |c: char| c == '\x21' || ('\x23'..='\x5b').contains(&c) || ('\x5d'..='\x7e').contains(&c);
    if !text.is_empty() && text.chars().all(allowed) {
        Ok(())
    } else {
        Err("must be an RFC 6749 scope token: printable ASCII without spaces, quotes or backslashes".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_have_no_path() {
        assert!(origin("https://app.example.com").is_ok());
        assert!(origin("http://localhost:3000").is_ok());
        assert!(origin("https://*.example.com").is_ok());
        for bad in [
            "https://app.example.com/",
            "https://a.com/x",
            "ftp://a.com",
            "a.com",
            "https://a.com?x=1",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uris_are_absolute_without_fragment() {
        assert!(redirect_uri("https://app.example.com/callback?x=1").is_ok());
        assert!(redirect_uri("com.example.app:/oauth2redirect").is_ok());
        for bad in [
            "/callback",
            "https://a.com/cb#frag",
            "javascript:alert(1)",
            "vbscript:msgbox(1)",
            "customscheme:/cb",
            "https://a.com/\u{0}",
            "not a uri",
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        assert!(scope_token("read:clients").is_ok());
        for bad in ["", "two words", "quo\"te", "back\\slash", "é"] {
            assert!(scope_token(bad).is_err(), "{bad:?}");
        }
    }
}
