//! Sign-up, sign-in, refresh and sign-out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_core::{Email, Password, PlainToken, UserId};
use portcullis_store::{NewUser, UserRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::validate::{self, Violations};
use super::views::{SessionView, UserView};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::links::{self, Link};
use crate::auth::service::{self, Credentials, LoginName, Verdict};
use crate::auth::{Auth, ClientInfo, SameOrigin, SessionGrant, Transport};
use crate::change::{self, Change};
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, Json};
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

/// A new account that must verify its email before signing in.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    user: UserView,
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

/// Create an account and sign in (or, where email verification is required before sign-in,
/// only create it). A verification link goes to the address either way.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, body = AuthResponse, description = "Account created and signed in; `{user}` alone where verification is required first"),
        (status = 403, body = Problem, description = "`registration_disabled` or `csrf_failed`"),
        (status = 409, body = Problem, description = "`email_taken`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn register(
    State(state): State<AppState>,
    _: SameOrigin,
    client: ClientInfo,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Response> {
    if !state.config.registration_open {
        return Err(ApiError::Forbidden(
            "registration_disabled",
            "registration is closed",
        ));
    }
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
    let credential = service::hash_password(&state, password).await?;
    let id = UserId::new().to_string();
    let mut change = Change::begin(&state).await?;
    change
        .create_user(&NewUser {
            id: id.clone(),
            email: email.as_str().to_owned(),
            name,
            username: None,
            role: state.config.default_role.clone(),
            email_verified: false,
            credential: Some(credential),
            created_at: state.now(),
        })
        .await?;
    let user = change.user_by_id(&id).await?.ok_or(ApiError::NotFound)?;
    change
        .audit(AuditEvent::by_user(Action::UserRegistered, &client, &id))
        .await?;
    links::send_link(&state, &mut change, Link::VerifyEmail, &id, &user.email).await?;
    change
        .audit(AuditEvent::by_user(
            Action::EmailVerificationSent,
            &client,
            &id,
        ))
        .await?;
    metrics::counter!(crate::metrics::REGISTRATIONS).increment(1);
    if state.config.require_email_verification() {
        change.commit().await?;
        let user = UserView::new(user, state.now());
        return Ok((StatusCode::CREATED, axum::Json(Registered { user })).into_response());
    }
    let grant = service::start_session(&state, &mut change, &user, body.transport, &client).await?;
    change.commit().await?;
    Ok(signed_in(&state, StatusCode::CREATED, user, grant))
}

/// Sign in with a password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = AuthResponse, description = "Signed in; cookie transport sets cookies instead of returning tokens"),
        (status = 401, body = Problem, description = "`invalid_credentials`"),
        (status = 403, body = Problem, description = "`user_banned` or `email_not_verified` (only after a correct password), or `csrf_failed`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn login(
    State(state): State<AppState>,
    _: SameOrigin,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    let (login, identifier) = match (&body.email, &body.username) {
        (Some(email), None) => (LoginName::Email(email.trim()), email.trim()),
        (None, Some(username)) => (LoginName::Username(username.trim()), username.trim()),
        _ => return Err(ApiError::field("email", "required")),
    };
    let password = Password::for_verification(&body.password)
        .map_err(|rule| ApiError::field("password", rule.code()))?;
    let failure = |refusal: Refusal, user_id: Option<&str>| {
        metrics::counter!(crate::metrics::LOGINS, "outcome" => refusal.reason()).increment(1);
        let event = AuditEvent::new(Action::LoginFailed, &client)
            .outcome(refusal.outcome())
            .login_key(login_key(&state, identifier))
            .detail(json!({ "reason": refusal.reason() }));
        match user_id {
            Some(id) => event.subject(id),
            None => event,
        }
    };
    let (user_id, verified, rehash) = match service::check_password(&state, login, password).await?
    {
        Verdict::Valid { user, hash, rehash } => (user.id, hash, rehash),
        Verdict::Invalid { user } => {
            let event = failure(Refusal::WrongPassword, user.as_ref().map(|u| u.id.as_str()));
            change::record(&state, event).await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    // What the password check read is read again, locked, in the transaction that starts the
    // session: a reset, password change or ban committed while the hash was being verified
    // wins, and one that comes after waits for this commit and then ends this session too.
    let mut change = Change::begin(&state).await?;
    let user = change.lock_user(&user_id).await?;
    let hash = change.lock_password_hash(&user_id).await?;
    let checked = match (user, hash) {
        (Some(user), Some(hash)) if hash == verified => match Refusal::of(&state, &user) {
            Some(refusal) => Err(refusal),
            None => Ok(user),
        },
        _ => Err(Refusal::WrongPassword),
    };
    let user = match checked {
        Ok(user) => user,
        Err(refusal) => {
            change.audit(failure(refusal, Some(&user_id))).await?;
            change.commit().await?;
            return Err(refusal.into_error());
        }
    };
    if let Some(credential) = &rehash {
        change
            .set_password(&user.id, &credential.hash, &credential.scheme, state.now())
            .await?;
    }
    let grant = service::start_session(&state, &mut change, &user, body.transport, &client).await?;
    let event = AuditEvent::by_user(Action::LoginSucceeded, &client, &user.id).detail(json!({
        "session_id": grant.session.id,
        "transport": body.transport.as_str(),
        "password_rehashed": rehash.is_some(),
    }));
    change.audit(event).await?;
    change.commit().await?;
    metrics::counter!(crate::metrics::LOGINS, "outcome" => "success").increment(1);
    Ok(signed_in(&state, StatusCode::OK, user, grant))
}

/// Why a sign-in is refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// Not the password, or no longer: it changed while it was being checked.
    WrongPassword,
    /// The password was right; the account is banned.
    Banned,
    /// The password was right; the address must be verified first.
    Unverified,
}

impl Refusal {
    /// What policy says about a user whose password was right.
    fn of(state: &AppState, user: &UserRow) -> Option<Self> {
        if user.is_banned(state.now()) {
            Some(Self::Banned)
        } else if state.config.require_email_verification() && !user.email_verified {
            Some(Self::Unverified)
        } else {
            None
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::WrongPassword => "invalid_credentials",
            Self::Banned => "banned",
            Self::Unverified => "email_not_verified",
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Self::WrongPassword => Outcome::Failure,
            Self::Banned | Self::Unverified => Outcome::Denied,
        }
    }

    fn into_error(self) -> ApiError {
        match self {
            Self::WrongPassword => ApiError::InvalidCredentials,
            Self::Banned => ApiError::Forbidden("user_banned", "this account is banned"),
            Self::Unverified => ApiError::Forbidden(
                "email_not_verified",
                "verify your email address before signing in",
            ),
        }
    }
}

/// The audit trail's pseudonym for a sign-in identifier: the same for every spelling of one
/// address, and meaningless without the server secret.
fn login_key(state: &AppState, identifier: &str) -> String {
    state
        .token_hasher
        .digest("audit_login", &identifier.to_lowercase())
}

/// The response for a new session: tokens in the body, or cookies.
fn signed_in(state: &AppState, status: StatusCode, user: UserRow, grant: SessionGrant) -> Response {
    let user = UserView::new(
        UserRow {
            last_login_at: Some(grant.session.created_at),
            ..user
        },
        grant.session.created_at,
    );
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
    client: ClientInfo,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let (access_token, refresh_token) =
        service::refresh(&state, &body.refresh_token, &client).await?;
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
async fn logout(
    State(state): State<AppState>,
    auth: Auth,
    client: ClientInfo,
) -> ApiResult<Response> {
    let mut change = Change::begin(&state).await?;
    change
        .revoke_session(&auth.user.id, &auth.session.id, state.now())
        .await?;
    let event = AuditEvent::by_user(Action::Logout, &client, &auth.user.id)
        .detail(json!({ "session_id": auth.session.id }));
    change.audit(event).await?;
    change.commit().await?;
    Ok(match auth.transport {
        Transport::Cookie => (StatusCode::NO_CONTENT, state.cookies.clear()).into_response(),
        Transport::Bearer => StatusCode::NO_CONTENT.into_response(),
    })
}
