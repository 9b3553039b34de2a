//! The session and CSRF cookies of the cookie transport.

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

pub const SESSION: &str = "portcullis_session";
pub const CSRF: &str = "portcullis_csrf";
/// Binds a social sign-in under way to the browser that started it.
pub const OAUTH: &str = "portcullis_oauth";

/// Cookie names and attributes, fixed at start-up.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    prefix: &'static str,
    secure: bool,
    max_age_secs: i64,
}

impl CookieSettings {
    pub fn new(prefix: &'static str, secure: bool, max_age_secs: i64) -> Self {
        Self {
            prefix,
            secure,
            max_age_secs,
        }
    }

    /// `__Host-` for `Secure` cookies, nothing for plain-http development.
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    pub fn session_name(&self) -> String {
        format!("{}{SESSION}", self.prefix)
    }

    pub fn csrf_name(&self) -> String {
        format!("{}{CSRF}", self.prefix)
    }

    pub fn oauth_name(&self) -> String {
        format!("{}{OAUTH}", self.prefix)
    }

    /// The cookie that binds a social sign-in to this browser, for as long as it may take.
    pub fn set_oauth(&self, binding: &str, max_age_secs: i64) -> CookieJar {
        CookieJar::new().add(self.build(self.oauth_name(), binding.to_owned(), true, max_age_secs))
    }

    /// Expires the binding cookie (the callback has used it, whatever the outcome).
    pub fn clear_oauth(&self) -> Cookie<'static> {
        self.build(self.oauth_name(), String::new(), true, 0)
    }

    /// The value of cookie `name` in the request, if any.
    pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
        CookieJar::from_headers(headers)
            .get(name)
            .map(|c| c.value().to_owned())
    }

    /// Sets both cookies for a new session.
    pub fn set(&self, session_token: &str, csrf_token: &str) -> CookieJar {
        CookieJar::new()
            .add(self.build(
                self.session_name(),
                session_token.to_owned(),
                true,
                self.max_age_secs,
            ))
            .add(self.build(
                self.csrf_name(),
                csrf_token.to_owned(),
                false,
                self.max_age_secs,
            ))
    }

    /// Expires both cookies.
    pub fn clear(&self) -> CookieJar {
        CookieJar::new()
            .add(self.build(self.session_name(), String::new(), true, 0))
            .add(self.build(self.csrf_name(), String::new(), false, 0))
    }

    /// A cookie of ours: path `/`, `SameSite=Lax`, `Secure` unless plain-http development.
    pub fn build(
        &self,
        name: String,
        value: String,
        http_only: bool,
        max_age: i64,
    ) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .secure(self.secure)
            .http_only(http_only)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::seconds(max_age))
            .build()
    }
}
