//! Sign-up, sign-in, refresh and sign-out.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_core::password_hash::ARGON2ID;
use portcullis_core::{Email, Password, PlainToken, UserId};
use portcullis_store::{NewUser, UserRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::validate::{self, Violations};
use super::views::{SessionView, UserView};
use crate::auth::service::{self, Credentials, LoginName};
use crate::auth::{Auth, ClientInfo, SessionGrant, Transport};
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, Json, csrf};
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
    password: String,
    name: Option<String>,
    #[serde(default)]
    transport: Transport,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Sign in by email, or by `username`: exactly one of the two.
    email: Option<String>,
    username: Option<String>,
    password: String,
    #[serde(default)]
    transport: Transport,
}

/// The signed-in user and session; bearer sign-ins add the tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    user: UserView,
    session: SessionView,
    #[serde(flatten)]
    tokens: Option<TokenResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    refresh_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
}

impl TokenResponse {
    fn new(state: &AppState, access_token: String, refresh_token: &PlainToken) -> Self {
        Self {
            access_token,
            refresh_token: refresh_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: state.tokens.ttl_secs(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, body = AuthResponse, description = "Account created and signed in"),
        (status = 403, body = Problem, description = "`registration_disabled` or `csrf_failed`"),
        (status = 409, body = Problem, description = "`email_taken`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Response> {
    if !state.config.registration_open {
        return Err(ApiError::Forbidden(
            "registration_disabled",
            "registration is closed",
        ));
    }
    csrf::check_origin(&headers, &state.origins)?;
    let mut violations = Violations::default();
    let email = violations.check("email", Email::parse(&body.email), |e| e.code());
    let password = validate::new_password(
        &mut violations,
        "password",
        &body.password,
        &state.policy,
        email.as_ref(),
    );
    let name = body.name.as_deref().map(validate::name).transpose();
    let name = violations.check("name", name, |code| code);
    let (Some(email), Some(password), Some(name)) = (email, password, name) else {
        return Err(violations.into_error());
    };
    let password_hash = state
        .hash_pool
        .run(move |hasher| hasher.hash(&password))
        .await??;
    let user = state
        .store
        .create_user(&NewUser {
            id: UserId::new().to_string(),
            email: email.as_str().to_owned(),
            name,
            role: state.config.default_role.clone(),
            email_verified: false,
            password_hash,
            password_scheme: ARGON2ID.into(),
            now: state.now(),
        })
        .await?;
    tracing::info!(action = "user.registered", user_id = %user.id, "user registered");
    metrics::counter!(crate::metrics::REGISTRATIONS).increment(1);
    let grant = service::start_session(&state, &user, body.transport, client).await?;
    Ok(signed_in(&state, StatusCode::CREATED, user, grant))
}

/// Sign in with a password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = AuthResponse, description = "Signed in; cookie transport sets cookies instead of returning tokens"),
        (status = 401, body = Problem, description = "`invalid_credentials`"),
        (status = 403, body = Problem, description = "`user_banned` (after a correct password) or `csrf_failed`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    csrf::check_origin(&headers, &state.origins)?;
    let login = match (&body.email, &body.username) {
        (Some(email), None) => LoginName::Email(email.trim()),
        (None, Some(username)) => LoginName::Username(username.trim()),
        _ => return Err(ApiError::field("email", "required")),
    };
    let password = Password::for_verification(&body.password)
        .map_err(|rule| ApiError::field("password", rule.code()))?;
    let outcome = |label: &'static str| {
        metrics::counter!(crate::metrics::LOGINS, "outcome" => label).increment(1)
    };
    let user = match service::check_password(&state, login, password).await {
        Ok(user) => user,
        Err(err) => {
            if matches!(err, ApiError::InvalidCredentials) {
                tracing::info!(action = "user.login_failed", ip = ?client.ip, "sign-in failed");
                outcome("invalid_credentials");
            }
            return Err(err);
        }
    };
    if user.banned {
        outcome("banned");
        return Err(ApiError::Forbidden("user_banned", "this account is banned"));
    }
    outcome("success");
    tracing::info!(action = "user.login_succeeded", user_id = %user.id, "signed in");
    let grant = service::start_session(&state, &user, body.transport, client).await?;
    Ok(signed_in(&state, StatusCode::OK, user, grant))
}

/// The response for a new session: tokens in the body, or cookies.
fn signed_in(state: &AppState, status: StatusCode, user: UserRow, grant: SessionGrant) -> Response {
    let user = UserView::from(UserRow {
        last_login_at: Some(grant.session.created_at),
        ..user
    });
    let current = grant.session.id.clone();
    let session = SessionView::new(grant.session, &current);
    match grant.credentials {
        Credentials::Bearer {
            access_token,
            refresh_token,
        } => {
            let tokens = TokenResponse::new(state, access_token, &refresh_token);
            (
                status,
                axum::Json(AuthResponse {
                    user,
                    session,
                    tokens: Some(tokens),
                }),
            )
                .into_response()
        }
        Credentials::Cookie {
            session_token,
            csrf_token,
        } => {
            let jar = state.cookies.set(session_token.expose(), &csrf_token);
            (
                status,
                jar,
                axum::Json(AuthResponse {
                    user,
                    session,
                    tokens: None,
                }),
            )
                .into_response()
        }
    }
}

/// Exchange a refresh token for new tokens; the presented one dies.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem, description = "`invalid_refresh_token` or `refresh_token_reused`"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let (access_token, refresh_token) = service::refresh(&state, &body.refresh_token).await?;
    Ok(axum::Json(TokenResponse::new(
        &state,
        access_token,
        &refresh_token,
    )))
}

/// Sign out: the current session is revoked and cookies are cleared.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = Problem, description = "`unauthenticated`"),
        (status = 403, body = Problem, description = "`csrf_failed`"),
    ))]
async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    state
        .store
        .revoke_session(&auth.user.id, &auth.session.id, state.now())
        .await?;
    tracing::info!(action = "user.logout", user_id = %auth.user.id, session_id = %auth.session.id, "signed out");
    Ok(match auth.transport {
        Transport::Cookie => (StatusCode::NO_CONTENT, state.cookies.clear()).into_response(),
        Transport::Bearer => StatusCode::NO_CONTENT.into_response(),
    })
}
