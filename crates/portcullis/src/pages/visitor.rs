//! Who is looking at a page: their session (the API's cookie session), their language, and
//! the token every form of theirs carries. Before sign-in the token is bound to a cookie of
//! its own (`__Host-portcullis_form`, set on the first page); after, to the session, as the
//! API's CSRF token is. A form post is refused (403, nothing changed) without the token, with
//! a wrong one, from an `Origin` off the allow-list (`null` included) or a cross-site fetch.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum_extra::extract::cookie::Cookie;
use portcullis_core::{PlainToken, secrets_equal};
use serde::de::DeserializeOwned;

use super::i18n::Words;
use super::{PageError, Pages};
use crate::http::auth::ClientInfo;
use crate::http::cookies::CookieSettings;
use crate::http::csrf;
use crate::http::json::essence;
use crate::service::sessions::{self, Authenticated, Presented};
use crate::service::{Client, Core};
use crate::state::AppState;

/// The pre-session cookie that form tokens are bound to before sign-in.
const FORM_COOKIE: &str = "portcullis_form";
/// What a form token before sign-in is hashed under.
const FORM_PURPOSE: &str = "form_csrf";

pub struct Visitor {
    pub auth: Option<Authenticated>,
    pub lang: String,
    pub words: Words,
    pub client: Client,
    /// The token the visitor's forms carry.
    pub csrf: String,
    /// A pre-session cookie minted for this visitor, to set with the answer.
    pub new_form_cookie: Option<Cookie<'static>>,
    headers: HeaderMap,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ClientInfo(client) = ClientInfo::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let (lang, words) = state.pages.language(&parts.headers);
        let core = &state.core;
        let session_token = CookieSettings::read(&parts.headers, &state.cookies.session_name())
            .and_then(|raw| PlainToken::parse(&raw));
        let auth = match &session_token {
            None => None,
            Some(token) => {
                match sessions::authenticate(core, Presented::SessionCookie(token)).await {
                    Ok(auth) => {
                        sessions::slide(core, &auth).await.map_err(|e| {
                            state.pages.fail_in(lang, &words, PageError::Service(e))
                        })?;
                        Some(auth)
                    }
                    Err(crate::service::ServiceError::Unauthenticated) => None,
                    Err(err) => {
                        return Err(state.pages.fail_in(lang, &words, PageError::Service(err)));
                    }
                }
            }
        };
        let form_name = format!("{}{FORM_COOKIE}", state.cookies.prefix());
        let (csrf, new_form_cookie) = match (&auth, session_token) {
            (Some(_), Some(token)) => (sessions::csrf_token(core, &token), None),
            _ => {
                let existing = CookieSettings::read(&parts.headers, &form_name)
                    .and_then(|raw| PlainToken::parse(&raw));
                match existing {
                    Some(token) => (form_token(core, &token), None),
                    None => {
                        let token = PlainToken::generate();
                        let cookie =
                            state
                                .cookies
                                .build(form_name, token.expose().to_owned(), true, 86_400);
                        (form_token(core, &token), Some(cookie))
                    }
                }
            }
        };
        Ok(Self {
            auth,
            lang: lang.to_owned(),
            words,
            client,
            csrf,
            new_form_cookie,
            headers: parts.headers.clone(),
        })
    }
}

impl Visitor {
    /// Whether a form post may act: from this site, carrying this visitor's token. A visitor
    /// who had no pre-session cookie yet cannot have a valid token.
    pub fn check_form(&self, origins: &[String], token: Option<&str>) -> Result<(), PageError> {
        csrf::check_origin(&self.headers, origins).map_err(|_| PageError::Csrf)?;
        match token {
            Some(token) if self.new_form_cookie.is_none() && secrets_equal(token, &self.csrf) => {
                Ok(())
            }
            _ => Err(PageError::Csrf),
        }
    }
}

fn form_token(core: &Core, token: &PlainToken) -> String {
    core.token_hasher.digest(FORM_PURPOSE, token.expose())
}

/// A page's form post (`application/x-www-form-urlencoded`), parsed into `T`; anything else is
/// an error page (415, or 400 for a body that does not parse).
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (lang, words) = state.pages.language(req.headers());
        let pages = &state.pages;
        let fail = |error| pages.fail_in(lang, &words, error);
        if essence(req.headers().get(header::CONTENT_TYPE)).as_deref()
            != Some("application/x-www-form-urlencoded")
        {
            return Err(fail(PageError::BadForm));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| fail(PageError::BadForm))?;
        serde_urlencoded::from_bytes(&bytes)
            .map(Form)
            .map_err(|_| fail(PageError::BadForm))
    }
}

impl Pages {
    /// The negotiated language of a request.
    pub fn language(&self, headers: &HeaderMap) -> (&str, Words) {
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        self.catalogues.negotiate(accept)
    }
}
