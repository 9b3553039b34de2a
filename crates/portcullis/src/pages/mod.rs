//! Hosted pages: sign-in, sign-up, the emailed links' pages, the account and the admin
//! console, server-rendered and usable without JavaScript. Every form is a plain HTML form
//! posting `application/x-www-form-urlencoded` to its page's path, carrying a `csrf` token
//! (see [`visitor`]); a success answers 303 (post/redirect/get). Handlers adapt: they call
//! the same service functions as the JSON API and render what they answer.

mod account;
mod admin;
mod assets;
mod auth;
pub mod i18n;
pub mod templates;
mod visitor;

use axum::Router;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::Cookie;
use minijinja::Environment;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use self::assets::Assets;
use self::i18n::{Catalogues, Words};
pub use self::visitor::{Form, Visitor};
use crate::config::Config;
use crate::http::ApiError;
use crate::http::error::service_parts;
use crate::service::ServiceError;
use crate::state::AppState;

pub struct Pages {
    env: Environment<'static>,
    catalogues: Catalogues,
    assets: Assets,
    product: String,
    csp: HeaderValue,
}

/// What went wrong, as a page says it.
#[derive(Debug)]
pub enum PageError {
    /// A form without its token, with a wrong one, or from another site.
    Csrf,
    NotFound,
    /// Not for this user (an admin page).
    Forbidden,
    /// A body that is not a form.
    BadForm,
    Service(ServiceError),
}

impl From<ServiceError> for PageError {
    fn from(err: ServiceError) -> Self {
        Self::Service(err)
    }
}

impl PageError {
    /// Status, and the catalogue key of what the page says.
    fn parts(&self) -> (StatusCode, String) {
        match self {
            Self::Csrf => (StatusCode::FORBIDDEN, "error.csrf_failed".into()),
            Self::NotFound => (StatusCode::NOT_FOUND, "error.not_found".into()),
            Self::Forbidden => (StatusCode::FORBIDDEN, "error.forbidden".into()),
            Self::BadForm => (StatusCode::BAD_REQUEST, "error.bad_form".into()),
            Self::Service(err) => {
                let (status, code, _) = service_parts(err);
                if let ServiceError::Internal(cause) = err {
                    tracing::error!(error = format!("{cause:#}"), "internal error");
                }
                (status, format!("error.{code}"))
            }
        }
    }
}

/// A form's errors as its page shows them: a message next to each field concerned, one for
/// the whole form, the field to focus (the first with an error, in the form's order), and
/// the status of the answer.
pub struct FormErrors {
    pub fields: std::collections::BTreeMap<String, String>,
    pub form: Option<String>,
    pub focus: Option<String>,
    pub status: StatusCode,
    pub retry_after: Option<u64>,
}

impl FormErrors {
    pub fn none() -> Self {
        Self {
            fields: Default::default(),
            form: None,
            focus: None,
            status: StatusCode::OK,
            retry_after: None,
        }
    }

    /// `err` as the form with fields `order` shows it, in `visitor`'s words: rule violations
    /// next to their fields, wrong credentials next to the password field (the same words
    /// whether the account exists or not), a taken address or username next to its field,
    /// anything else for the whole form.
    pub fn of(visitor: &Visitor, err: ServiceError, order: &[&str]) -> Self {
        let words = &visitor.words;
        let say = |key: &str| {
            words
                .get(key)
                .or_else(|| words.get("error.generic"))
                .cloned()
                .unwrap_or_default()
        };
        let (status, code, _) = service_parts(&err);
        let first_of = |candidates: &[&str]| {
            order
                .iter()
                .find(|field| candidates.contains(field))
                .map(|field| (*field).to_owned())
        };
        let mut fields = std::collections::BTreeMap::new();
        let mut form = None;
        let mut retry_after = None;
        match &err {
            ServiceError::Invalid(violations) => {
                for (field, rule) in violations.fields() {
                    let message = words
                        .get(&format!("error.field.{rule}"))
                        .or_else(|| words.get("error.field.invalid"))
                        .cloned()
                        .unwrap_or_default();
                    fields.insert(field.clone(), message);
                }
            }
            ServiceError::RateLimited {
                retry_after: seconds,
            } => {
                retry_after = Some(*seconds);
                form = Some(say("error.rate_limited").replace("{seconds}", &seconds.to_string()));
            }
            _ => {
                let target = match &err {
                    ServiceError::InvalidCredentials | ServiceError::ReauthenticationRequired => {
                        first_of(&["password", "current_password"])
                    }
                    ServiceError::EmailTaken => first_of(&["email", "new_email"]),
                    ServiceError::UsernameTaken => first_of(&["username"]),
                    _ => None,
                };
                let message = say(&format!("error.{code}"));
                match target {
                    Some(field) => {
                        fields.insert(field, message);
                    }
                    None => form = Some(message),
                }
            }
        }
        let focus = order
            .iter()
            .find(|field| fields.contains_key(**field))
            .map(|field| (*field).to_owned());
        Self {
            fields,
            form,
            focus,
            status,
            retry_after,
        }
    }

    /// The variables a form template reads: `errors`, `form_error`, `focus`.
    pub fn context(&self) -> Value {
        json!({ "errors": self.fields, "form_error": self.form, "focus": self.focus })
    }
}

/// The signed-in user as the page chrome shows them.
#[derive(Serialize)]
struct Me<'a> {
    name: Option<&'a str>,
    email: &'a str,
    admin: bool,
}

impl Pages {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let theme = config.pages.theme_dir.as_deref();
        // Forms post to our own paths, and a sign-in may send the browser on to an allowed
        // origin: `form-action` must allow the redirect after the post.
        let origins = config.server.origins().join(" ");
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
             form-action 'self' {origins}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        );
        Ok(Self {
            // Debug builds (the tests) refuse a variable a template names but a page does not give.
            env: templates::environment(theme, cfg!(debug_assertions))?,
            catalogues: Catalogues::load(theme)?,
            assets: Assets::load(theme)?,
            product: config.accounts.product_name.clone(),
            csp: HeaderValue::from_str(&csp)?,
        })
    }

    /// `template` rendered for `visitor`, with `page` (the page's own variables) beside the
    /// chrome every page has: language and words, product, assets, form token, the user.
    pub fn render(
        &self,
        visitor: &Visitor,
        template: &str,
        page: Value,
        status: StatusCode,
    ) -> Response {
        let me = visitor.auth.as_ref().map(|auth| Me {
            name: auth.user.name.as_deref(),
            email: &auth.user.email,
            admin: auth.user.role.is_admin(),
        });
        let chrome = json!({
            "lang": visitor.lang,
            "t": &*visitor.words,
            "product": self.product,
            "assets": self.assets.urls(),
            "csrf": visitor.csrf,
            "me": me,
        });
        self.respond(
            template,
            merge(chrome, [page]),
            status,
            visitor.new_form_cookie.clone(),
        )
    }

    fn respond(
        &self,
        template: &str,
        ctx: Value,
        status: StatusCode,
        cookie: Option<Cookie<'static>>,
    ) -> Response {
        let ctx = minijinja::Value::from(minijinja::value::Serde(ctx));
        let html = match self.env.get_template(template).and_then(|t| t.render(ctx)) {
            Ok(html) => html,
            Err(err) => {
                tracing::error!(template, error = %err, "a page could not be rendered");
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
        };
        let mut response = (status, html).into_response();
        if let Some(cookie) = cookie
            && let Ok(value) = HeaderValue::from_str(&cookie.to_string())
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        self.page_headers(response.headers_mut());
        response
    }

    fn page_headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        // With `no-referrer` browsers send `Origin: null` on a page's own form posts.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }

    /// A form's page: `render` with the errors' status, and `Retry-After` when a limit
    /// refused it.
    pub fn render_form(
        &self,
        visitor: &Visitor,
        template: &str,
        page: Value,
        errors: &FormErrors,
    ) -> Response {
        let mut response = self.render(visitor, template, page, errors.status);
        if let Some(seconds) = errors.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// An error page for `visitor`.
    pub fn fail(&self, visitor: &Visitor, error: PageError) -> Response {
        let (status, key) = error.parts();
        let retry = match &error {
            PageError::Service(ServiceError::RateLimited { retry_after }) => Some(*retry_after),
            _ => None,
        };
        let page = json!({
            "title": "titles.problem",
            "message": key,
            "retry_after": retry,
            "failure": true,
        });
        let mut response = self.render(visitor, "message.html", page, status);
        if let Some(seconds) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// An error page where there is no visitor (a request that could not be read).
    pub fn fail_in(&self, lang: &str, words: &Words, error: PageError) -> Response {
        let (status, key) = error.parts();
        let ctx = json!({
            "lang": lang,
            "t": &**words,
            "product": self.product,
            "assets": self.assets.urls(),
            "csrf": "",
            "me": null,
            "title": "titles.problem",
            "message": key,
            "failure": true,
        });
        self.respond("message.html", ctx, status, None)
    }

    /// An error page in the language `headers` ask for.
    pub fn fail_for(&self, headers: &HeaderMap, error: PageError) -> Response {
        let (lang, words) = self.language(headers);
        self.fail_in(lang, &words, error)
    }

    /// 303 to `to` (post/redirect/get), with the visitor's new cookies.
    pub fn see_other(visitor: &Visitor, to: &str) -> Response {
        let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        if let Some(cookie) = &visitor.new_form_cookie
            && let Ok(value) = HeaderValue::from_str(&cookie.to_string())
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    /// A page that needs a session, opened without one: 303 to `/login?return_to=` it.
    pub fn to_login(visitor: &Visitor, uri: &Uri) -> Response {
        let here = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let query = serde_urlencoded::to_string([("return_to", here)]).unwrap_or_default();
        Self::see_other(visitor, &format!("/login?{query}"))
    }
}

/// `base` (an object) with the fields of each of `more` over it.
/// A form that carries nothing but its `csrf` token (buttons that act: sign out, revoke, …).
#[derive(Deserialize)]
pub struct CsrfOnly {
    pub csrf: Option<String>,
}

/// A page's query, or its defaults when it does not parse: a bad link still shows the page.
pub fn query_or_default<T: Default>(query: Result<Query<T>, QueryRejection>) -> T {
    query.map(|Query(q)| q).unwrap_or_default()
}

pub fn merge<const N: usize>(mut base: Value, more: [Value; N]) -> Value {
    if let Value::Object(fields) = &mut base {
        for extra in more {
            if let Value::Object(extra) = extra {
                fields.extend(extra);
            }
        }
    }
    base
}

/// Every page's route; merged beside the API's.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(account::router())
        .merge(admin::router())
        .route("/assets/{hash}/{name}", get(asset))
}

/// A static file under its content hash: cached for a year, as the next version is another
/// URL.
async fn asset(
    State(state): State<AppState>,
    Path((hash, name)): Path<(String, String)>,
) -> Response {
    match state.pages.assets.get(&hash, &name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes.clone(),
        )
            .into_response(),
        None => ApiError::NOT_FOUND.into_response(),
    }
}

/// Whether a request comes from a browser navigating (it asks for HTML), not an API client.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The router's fallback: a page for a browser that asked for a page, else problem+json.
pub async fn not_found(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    if wants_html(&headers) && !uri.path().starts_with("/api/") {
        return state.pages.fail_for(&headers, PageError::NotFound);
    }
    ApiError::NOT_FOUND.into_response()
}
