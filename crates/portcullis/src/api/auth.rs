//! Sign-up, sign-in, refresh and sign-out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{Accepted, SessionView, Transport as TransportField, UserView, accepted};
use crate::http::auth::{Auth, ClientInfo, SameOrigin};
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, Json};
use crate::service::credentials::LoginName;
use crate::service::refresh::Refreshed;
use crate::service::registration::{self, Registration};
use crate::service::sessions::{Credentials, SignedIn, Transport};
use crate::service::sign_in::{self, SignIn};
use crate::service::{refresh, sign_out};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    #[schema(value_type = String)]
    password: SecretString,
    name: Option<String>,
    #[serde(default)]
    transport: TransportField,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Sign in by email, or by `username`: exactly one of the two.
    email: Option<String>,
    username: Option<String>,
    #[schema(value_type = String)]
    password: SecretString,
    #[serde(default)]
    transport: TransportField,
}

/// What a quiet sign-up says, whatever the address.
const SIGN_UP_ACCEPTED: &str = "Check your inbox: a message tells you how to continue.";

/// A new account that must verify its email before signing in.
#[derive(Debug, Serialize, ToSchema)]
// Serialisation never meets an unknown field; this makes the schema closed
// (`additionalProperties: false`), so that a signed-in answer is not also a `Registered`.
#[serde(deny_unknown_fields)]
pub struct Registered {
    user: UserView,
}

/// The signed-in user and session; bearer sign-ins add the tokens.
#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    user: UserView,
    session: SessionView,
    /// Bearer transport only, as are the three fields below.
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Bearer")]
    token_type: Option<&'static str>,
    /// Seconds until the access token expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
}

impl AuthResponse {
    fn new(user: UserView, session: SessionView, tokens: Option<TokenResponse>) -> Self {
        let (access_token, refresh_token, token_type, expires_in) = match tokens {
            Some(t) => (
                Some(t.access_token),
                Some(t.refresh_token),
                Some(t.token_type),
                Some(t.expires_in),
            ),
            None => (None, None, None, None),
        };
        Self {
            user,
            session,
            access_token,
            refresh_token,
            token_type,
            expires_in,
        }
    }
}

impl std::fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthResponse")
            .field("user", &self.user)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The answer to a sign-up: signed in, or, where the address must be verified before
/// sign-in, the new account alone.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
// Describes the 201 only: the handler answers with the variants' bodies, never this enum.
#[allow(dead_code, clippy::large_enum_variant)]
enum RegisterResponse {
    SignedIn(AuthResponse),
    Registered(Registered),
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    refresh_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenResponse(**redacted**)")
    }
}

impl TokenResponse {
    fn new(state: &AppState, refreshed: Refreshed) -> Self {
        Self {
            access_token: refreshed.access_token,
            refresh_token: refreshed.refresh_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: state.core.tokens.ttl_secs(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(value_type = String)]
    refresh_token: SecretString,
}

/// Create an account and sign in (or, where email verification is required before sign-in,
/// only create it). A verification link goes to the address either way.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 429, body = Problem, description = "`rate_limited`: too many attempts; retry after `Retry-After` seconds"),
        (status = 201, body = RegisterResponse, description = "Account created and signed in; `{user}` alone where verification is required first"),
        (status = 202, body = Accepted, description = "Quiet sign-up (`PORTCULLIS_QUIET_SIGNUP`): the same answer for a new and a taken address; the next step arrives by mail"),
        (status = 403, body = Problem, description = "`registration_disabled` or `csrf_failed`"),
        (status = 409, body = Problem, description = "`email_taken`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn register(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientInfo(client): ClientInfo,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Response> {
    let registration = Registration {
        email: body.email,
        password: body.password,
        name: body.name,
        transport: body.transport.into(),
    };
    Ok(
        match registration::register(&state.core, registration, &client).await? {
            registration::Registered::SignedIn(signed_in) => {
                signed_in_response(&state, StatusCode::CREATED, *signed_in)
            }
            registration::Registered::Unverified(user) => {
                let user = UserView::new(&user, state.core.now());
                (StatusCode::CREATED, axum::Json(Registered { user })).into_response()
            }
            registration::Registered::Accepted => accepted(SIGN_UP_ACCEPTED).into_response(),
        },
    )
}

/// Sign in with a password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 429, body = Problem, description = "`rate_limited`: too many attempts, or the account is locked out after repeated failures; retry after `Retry-After` seconds"),
        (status = 200, body = AuthResponse, description = "Signed in; cookie transport sets cookies instead of returning tokens"),
        (status = 401, body = Problem, description = "`invalid_credentials`"),
        (status = 403, body = Problem, description = "`user_banned` or `email_not_verified` (only after a correct password), or `csrf_failed`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn login(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientInfo(client): ClientInfo,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    let login = match (body.email, body.username) {
        (Some(email), None) => LoginName::Email(email),
        (None, Some(username)) => LoginName::Username(username),
        _ => return Err(ApiError::field("email", "required")),
    };
    let request = SignIn {
        endpoint: "POST /api/auth/login",
        login,
        password: body.password,
        transport: body.transport.into(),
    };
    let signed_in = sign_in::sign_in(&state.core, request, &client)
        .await?
        .into_result()?;
    Ok(signed_in_response(&state, StatusCode::OK, signed_in))
}

/// The response for a new session: tokens in the body, or cookies.
pub(super) fn signed_in_response(
    state: &AppState,
    status: StatusCode,
    signed_in: SignedIn,
) -> Response {
    let now = signed_in.session.created_at;
    let current = signed_in.session.id;
    let user = UserView::new(&signed_in.user, now);
    let session = SessionView::new(signed_in.session, &current);
    match signed_in.credentials {
        Credentials::Bearer {
            access_token,
            refresh_token,
        } => {
            let tokens = TokenResponse::new(
                state,
                Refreshed {
                    access_token,
                    refresh_token,
                },
            );
            let body = AuthResponse::new(user, session, Some(tokens));
            (status, axum::Json(body)).into_response()
        }
        Credentials::Cookie {
            session_token,
            csrf_token,
        } => {
            let jar = state.cookies.set(session_token.expose(), &csrf_token);
            let body = AuthResponse::new(user, session, None);
            (status, jar, axum::Json(body)).into_response()
        }
    }
}

/// Exchange a refresh token for new tokens; the presented one dies.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 429, body = Problem, description = "`rate_limited`: too many attempts; retry after `Retry-After` seconds"),
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem, description = "`invalid_refresh_token` or `refresh_token_reused`"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let refreshed = refresh::refresh(&state.core, &body.refresh_token, &client).await?;
    Ok(axum::Json(TokenResponse::new(&state, refreshed)))
}

/// Sign out: the current session is revoked and cookies are cleared.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = Problem, description = "`unauthenticated`"),
        (status = 403, body = Problem, description = "`csrf_failed`"),
    ))]
async fn logout(
    State(state): State<AppState>,
    Auth(auth): Auth,
    ClientInfo(client): ClientInfo,
) -> ApiResult<Response> {
    sign_out::sign_out(&state.core, &auth, &client).await?;
    Ok(match auth.transport {
        Transport::Cookie => (StatusCode::NO_CONTENT, state.cookies.clear()).into_response(),
        Transport::Bearer => StatusCode::NO_CONTENT.into_response(),
    })
}
