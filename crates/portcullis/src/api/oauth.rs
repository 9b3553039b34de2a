//! Social sign-in (start, callback, the bearer code exchange, Google's id-token sign-in) and
//! the signed-in user's linked sign-in methods.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{AuthResponse, signed_in_response};
use super::views::{AccountList, Transport as TransportField};
use crate::http::auth::{Auth, ClientInfo, SameOrigin};
use crate::http::cookies::CookieSettings;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, Json, csrf};
use crate::pages::PageError;
use crate::service::oauth::{self, Intent, Landing, Returned, Start, accounts};
use crate::service::sessions::{self, Transport};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
        .routes(routes!(exchange))
        .routes(routes!(google_id_token))
        .routes(routes!(list_accounts))
        .routes(routes!(unlink_account))
}

/// A provider's name from the path: malformed ones are 404 like unknown ones.
pub struct ProviderName(String);

impl<S: Send + Sync> FromRequestParts<S> for ProviderName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NOT_FOUND)?;
        Ok(Self(name))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Where to send the browser afterwards: a path, or a URL on an allowed origin
    /// (default `/account`).
    redirect_to: Option<String>,
    /// Link the identity to the signed-in user instead of signing in (needs a session).
    link: Option<bool>,
    /// Prove again who the signed-in user is (an account without a password does so where a
    /// password would be asked for); needs a session.
    reauth: Option<bool>,
    /// `bearer`: the callback sends the browser to `redirect_to?code=…` for the app to
    /// exchange at `POST /api/auth/oauth/exchange`, instead of setting cookies.
    transport: Option<TransportField>,
}

/// Start social sign-in: 302 to the provider, with `state`, PKCE S256 and (OpenID) `nonce`.
#[utoipa::path(get, path = "/api/auth/oauth/{provider}/start", tag = "oauth", params(
        ("provider" = String, Path, description = "A configured provider: `google`, `github` or a configured name"),
        StartQuery,
    ),
    responses(
        (status = 302, description = "To the provider; sets the cookie that binds the sign-in to this browser"),
        (status = 400, body = Problem, description = "`redirect_not_allowed` or `oauth_failed` (the provider cannot be used now)"),
        (status = 401, body = Problem, description = "`unauthenticated`: `link` or `reauth` without a session"),
        (status = 403, body = Problem, description = "`csrf_failed`: `link` or `reauth` from another site"),
        (status = 404, body = Problem, description = "`not_found`: no such provider"),
        (status = 429, body = Problem, description = "`rate_limited`"),
    ))]
async fn start(
    State(state): State<AppState>,
    ProviderName(provider): ProviderName,
    ClientInfo(client): ClientInfo,
    query: Result<Query<StartQuery>, QueryRejection>,
    parts: Parts,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let intent = match (query.link, query.reauth) {
        (Some(true), Some(true)) => return Err(ApiError::field("reauth", "with_link")),
        (Some(true), _) => Intent::Link,
        (_, Some(true)) => Intent::Reauthenticate,
        _ => Intent::SignIn(query.transport.unwrap_or(TransportField::Cookie).into()),
    };
    let mut parts = parts;
    let session = match intent {
        Intent::SignIn(_) => None,
        // Acting for a session: not at another site's bidding.
        Intent::Link | Intent::Reauthenticate => {
            csrf::check_origin(&parts.headers, &state.origins)?;
            Some(Auth::from_request_parts(&mut parts, &state).await?.0)
        }
    };
    let request = Start {
        provider: &provider,
        redirect_to: query.redirect_to.as_deref(),
        intent,
    };
    let started = oauth::start(&state.core, request, session.as_ref(), &client).await?;
    let binding = state
        .cookies
        .set_oauth(started.binding.expose(), oauth::STATE_TTL_MS / 1000);
    Ok((binding, redirect(started.location.as_str())).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// The issuer of the authorization response (RFC 9207).
    iss: Option<String>,
    /// Set by the provider when the user declined or it refused.
    error: Option<String>,
}

/// The provider's redirect back: the identity is proven, then signs in, links or
/// re-authenticates; 302 to `redirect_to`.
#[utoipa::path(get, path = "/api/auth/oauth/{provider}/callback", tag = "oauth", params(
        ("provider" = String, Path, description = "The provider the sign-in started with"),
        CallbackQuery,
    ),
    responses(
        (status = 302, description = "To `redirect_to`: with session cookies, with `code` for a bearer app, or back after a link or re-authentication"),
        (status = 400, body = Problem, description = "`oauth_failed`: the state, the browser, the code or the provider's answer did not check out. Every error is an HTML page instead when the request asks for `text/html` (a browser back from the provider)"),
        (status = 401, body = Problem, description = "`unauthenticated`: the session that asked to link ended"),
        (status = 403, body = Problem, description = "`registration_disabled`, `user_banned` or `email_not_verified`"),
        (status = 404, body = Problem, description = "`not_found`: no such provider"),
        (status = 409, body = Problem, description = "`account_exists`: the address belongs to an account not linked to this identity, or the identity to another user"),
        (status = 429, body = Problem, description = "`rate_limited`"),
    ))]
async fn callback(
    State(state): State<AppState>,
    ProviderName(provider): ProviderName,
    ClientInfo(client): ClientInfo,
    query: Result<Query<CallbackQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let binding = CookieSettings::read(&headers, &state.cookies.oauth_name());
    let outcome = match &query {
        Ok(Query(query)) => {
            let returned = Returned {
                provider: &provider,
                code: query.code.as_deref(),
                state: query.state.as_deref(),
                iss: query.iss.as_deref(),
                error: query.error.as_deref(),
                binding: binding.as_deref(),
            };
            oauth::callback(&state.core, returned, &client).await
        }
        Err(_) => Err(crate::service::ServiceError::OauthFailed),
    };
    // The binding cookie has served, whatever the outcome.
    let clear = CookieJar::new().add(state.cookies.clear_oauth());
    match outcome {
        Ok(Landing::Session {
            redirect_to,
            signed_in,
        }) => {
            let sessions::Credentials::Cookie {
                session_token,
                csrf_token,
            } = signed_in.credentials
            else {
                return ApiError::from(crate::service::ServiceError::Internal(anyhow::anyhow!(
                    "a social sign-in opened a session without cookies"
                )))
                .into_response();
            };
            let jar = state.cookies.set(session_token.expose(), &csrf_token);
            (clear, jar, redirect(redirect_to.as_str())).into_response()
        }
        Ok(Landing::Redirect(to)) => (clear, redirect(to.as_str())).into_response(),
        // The browser came back from the provider: it gets a page it can act on.
        Err(err) if crate::pages::wants_html(&headers) => {
            let page = state.pages.fail_for(&headers, PageError::Service(err));
            (clear, page).into_response()
        }
        Err(err) => (clear, ApiError::from(err)).into_response(),
    }
}

/// 302 to `location`; nothing to cache.
fn redirect(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
        .into_response()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The one-time `code` the callback put on `redirect_to`.
    #[schema(value_type = String)]
    code: SecretString,
}

/// Exchange a bearer app's one-time code (60 s, one use) for bearer tokens.
#[utoipa::path(post, path = "/api/auth/oauth/exchange", tag = "oauth", request_body = ExchangeRequest,
    responses(
        (status = 200, body = AuthResponse, description = "Signed in, as at bearer sign-in"),
        (status = 400, body = Problem, description = "`invalid_token`: unknown, used or expired"),
        (status = 403, body = Problem, description = "`user_banned`"),
        (status = 429, body = Problem, description = "`rate_limited`"),
    ))]
async fn exchange(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Json(body): Json<ExchangeRequest>,
) -> ApiResult<Response> {
    let signed_in = oauth::exchange(&state.core, body.code.expose_secret(), &client).await?;
    Ok(signed_in_response(&state, StatusCode::OK, signed_in))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdTokenRequest {
    /// An id_token Google issued to this server's client id.
    #[schema(value_type = String)]
    id_token: SecretString,
    #[serde(default)]
    transport: TransportField,
}

/// Sign in with a Google id_token (One Tap, native apps).
#[utoipa::path(post, path = "/api/auth/oauth/google/id-token", tag = "oauth", request_body = IdTokenRequest,
    responses(
        (status = 200, body = AuthResponse, description = "Signed in, as at sign-in"),
        (status = 401, body = Problem, description = "`invalid_credentials`: the id_token does not check out"),
        (status = 403, body = Problem, description = "`registration_disabled`, `user_banned`, `email_not_verified` or `csrf_failed`"),
        (status = 404, body = Problem, description = "`not_found`: Google is not configured"),
        (status = 409, body = Problem, description = "`account_exists`"),
        (status = 429, body = Problem, description = "`rate_limited`"),
    ))]
async fn google_id_token(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientInfo(client): ClientInfo,
    Json(body): Json<IdTokenRequest>,
) -> ApiResult<Response> {
    let transport: Transport = body.transport.into();
    let signed_in = oauth::sign_in_with_id_token(
        &state.core,
        "google",
        body.id_token.expose_secret(),
        transport,
        &client,
    )
    .await?;
    Ok(signed_in_response(&state, StatusCode::OK, signed_in))
}

/// The signed-in user's linked sign-in methods.
#[utoipa::path(get, path = "/api/auth/accounts", tag = "oauth",
    responses(
        (status = 200, body = AccountList),
        (status = 401, body = Problem, description = "`unauthenticated`"),
    ))]
async fn list_accounts(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<axum::Json<AccountList>> {
    let rows = accounts::linked(&state.core, &auth).await?;
    Ok(axum::Json(AccountList::new(rows)))
}

/// Unlink the signed-in user's identity at a provider.
#[utoipa::path(delete, path = "/api/auth/accounts/{provider}", tag = "oauth",
    params(("provider" = String, Path, description = "The provider to unlink")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, body = Problem, description = "`unauthenticated`"),
        (status = 403, body = Problem, description = "`csrf_failed`"),
        (status = 404, body = Problem, description = "`not_found`: no identity of that provider is linked"),
        (status = 409, body = Problem, description = "`last_login_method`: no password and no other identity would be left"),
    ))]
async fn unlink_account(
    State(state): State<AppState>,
    Auth(auth): Auth,
    ClientInfo(client): ClientInfo,
    ProviderName(provider): ProviderName,
) -> ApiResult<StatusCode> {
    accounts::unlink(&state.core, &auth, &provider, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
