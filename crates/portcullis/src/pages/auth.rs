//! The pages before and around a session: sign-in, sign-up, sign-out, and the pages the
//! emailed links open (a GET shows the form; only its post uses the token).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CsrfOnly, Form, FormErrors, PageError, Pages, Visitor, merge, query_or_default};
use crate::service::credentials::LoginName;
use crate::service::password::PasswordReset;
use crate::service::registration::{self, Registered, Registration};
use crate::service::sessions::{Credentials, SignedIn, Transport};
use crate::service::sign_in::{self, SignIn};
use crate::service::{ServiceError, email, password, redirects, sign_out};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/signup", get(signup_page).post(signup))
        .route("/logout", post(logout))
        .route("/forgot-password", get(forgot_page).post(forgot))
        .route("/reset-password", get(reset_page).post(reset))
        .route("/verify-email", get(verify_page).post(verify))
}

/// What the pages read from their query: where to go next, a notice to show, a link's token.
#[derive(Debug, Default, Deserialize)]
pub struct Landing {
    pub return_to: Option<String>,
    pub notice: Option<String>,
    pub token: Option<String>,
}

/// Notices the pages show after a redirect; anything else in `?notice=` is ignored.
const NOTICES: [&str; 10] = [
    "signed_out",
    "password_reset",
    "email_verified",
    "check_inbox",
    "reset_sent",
    "saved",
    "password_changed",
    "email_change_sent",
    "linked",
    "reauthenticated",
];

pub fn notice(raw: Option<&str>) -> Option<&'static str> {
    NOTICES.iter().copied().find(|n| Some(*n) == raw)
}

/// Where a signed-in browser goes: `return_to` when it is on the allow-list, else `/account`.
fn destination(state: &AppState, return_to: Option<&str>) -> String {
    return_to
        .filter(|raw| !raw.is_empty())
        .and_then(|raw| redirects::allowed_target(&state.core, raw).ok())
        .unwrap_or_else(|| "/account".to_owned())
}

async fn home(visitor: Visitor) -> Response {
    let to = if visitor.auth.is_some() {
        "/account"
    } else {
        "/login"
    };
    Pages::see_other(&visitor, to)
}

/// One provider's button: its label and where it starts.
#[derive(Serialize)]
struct ProviderButton {
    display_name: String,
    url: String,
}

fn login_form(
    state: &AppState,
    visitor: &Visitor,
    return_to: Option<&str>,
    values: BTreeMap<&str, String>,
    errors: &FormErrors,
    notice: Option<&str>,
) -> Response {
    let settings = state.core.settings.get();
    let after = destination(state, return_to);
    let providers: Vec<ProviderButton> = state
        .core
        .providers
        .iter()
        .filter(|p| settings.provider_enabled(p.name()))
        .map(|p| ProviderButton {
            display_name: p.display_name().to_owned(),
            url: format!(
                "/api/auth/oauth/{}/start?{}",
                p.name(),
                serde_urlencoded::to_string([("redirect_to", after.as_str())]).unwrap_or_default()
            ),
        })
        .collect();
    state.pages.render_form(
        visitor,
        "login.html",
        merge(json!({ "return_to": return_to.unwrap_or_default(), "return_query": return_query(return_to), "password_login": settings.password_login, "registration_open": settings.registration_open, "providers": providers, "values": values, "notice": notice }), [errors.context()]),
        errors,
    )
}

async fn login_page(
    State(state): State<AppState>,
    visitor: Visitor,
    query: Result<Query<Landing>, QueryRejection>,
) -> Response {
    let query = query_or_default::<Landing>(query);
    if visitor.auth.is_some() {
        return Pages::see_other(&visitor, &destination(&state, query.return_to.as_deref()));
    }
    let notice = notice(query.notice.as_deref());
    login_form(
        &state,
        &visitor,
        query.return_to.as_deref(),
        BTreeMap::new(),
        &FormErrors::none(),
        notice,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    return_to: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(err) = visitor.check_form(&state.origins, form.csrf.as_deref()) {
        return state.pages.fail(&visitor, err);
    }
    let identifier = form.email.trim().to_owned();
    let login = if identifier.contains('@') {
        LoginName::Email(identifier.clone())
    } else {
        LoginName::Username(identifier.clone())
    };
    let request = SignIn {
        // The API's budget: a page is another door to the same sign-in, not a second budget.
        endpoint: "POST /api/auth/login",
        login,
        password: SecretString::from(form.password),
        transport: Transport::Cookie,
    };
    match sign_in::sign_in(&state.core, request, &visitor.client)
        .await
        .and_then(|outcome| outcome.into_result())
    {
        Ok(signed_in) => signed_in_to(&state, &visitor, signed_in, form.return_to.as_deref()),
        Err(err) => {
            let errors = FormErrors::of(&visitor, err, &["email", "password"]);
            let values = BTreeMap::from([("email", identifier)]);
            login_form(
                &state,
                &visitor,
                form.return_to.as_deref(),
                values,
                &errors,
                None,
            )
        }
    }
}

/// `?return_to=…` to carry the destination between the sign-in and sign-up pages.
fn return_query(return_to: Option<&str>) -> String {
    return_to
        .filter(|r| !r.is_empty())
        .map(|r| {
            format!(
                "?{}",
                serde_urlencoded::to_string([("return_to", r)]).unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

/// 303 to where a new session goes next, with its cookies.
fn signed_in_to(
    state: &AppState,
    visitor: &Visitor,
    signed_in: SignedIn,
    return_to: Option<&str>,
) -> Response {
    let Credentials::Cookie {
        session_token,
        csrf_token,
    } = signed_in.credentials
    else {
        return state.pages.fail(
            visitor,
            PageError::Service(ServiceError::Internal(anyhow::anyhow!(
                "a page sign-in without cookies"
            ))),
        );
    };
    let jar = state.cookies.set(session_token.expose(), &csrf_token);
    (
        jar,
        Pages::see_other(visitor, &destination(state, return_to)),
    )
        .into_response()
}

fn signup_form(
    state: &AppState,
    visitor: &Visitor,
    return_to: Option<&str>,
    values: BTreeMap<&str, String>,
    errors: &FormErrors,
) -> Response {
    if !state.core.settings.get().registration_open {
        return state.pages.fail(
            visitor,
            PageError::Service(ServiceError::RegistrationDisabled),
        );
    }
    state.pages.render_form(
        visitor,
        "signup.html",
        merge(json!({ "return_to": return_to.unwrap_or_default(), "return_query": return_query(return_to), "values": values }), [errors.context()]),
        errors,
    )
}

async fn signup_page(
    State(state): State<AppState>,
    visitor: Visitor,
    query: Result<Query<Landing>, QueryRejection>,
) -> Response {
    let query = query_or_default::<Landing>(query);
    if visitor.auth.is_some() {
        return Pages::see_other(&visitor, &destination(&state, query.return_to.as_deref()));
    }
    signup_form(
        &state,
        &visitor,
        query.return_to.as_deref(),
        BTreeMap::new(),
        &FormErrors::none(),
    )
}

#[derive(Deserialize)]
struct SignupForm {
    csrf: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    name: Option<String>,
    return_to: Option<String>,
}

async fn signup(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<SignupForm>,
) -> Response {
    if let Err(err) = visitor.check_form(&state.origins, form.csrf.as_deref()) {
        return state.pages.fail(&visitor, err);
    }
    let name = form.name.filter(|n| !n.trim().is_empty());
    let registration = Registration {
        email: form.email.clone(),
        password: SecretString::from(form.password),
        name: name.clone(),
        transport: Transport::Cookie,
    };
    match registration::register(&state.core, registration, &visitor.client).await {
        Ok(Registered::SignedIn(signed_in)) => {
            signed_in_to(&state, &visitor, *signed_in, form.return_to.as_deref())
        }
        // Post/redirect/get: a reload does not post the form again, and the sign-in page
        // keeps the destination for when the address is verified.
        Ok(Registered::Unverified(_) | Registered::Accepted) => {
            let query = return_query(form.return_to.as_deref());
            let to = if query.is_empty() {
                "/login?notice=check_inbox".to_owned()
            } else {
                format!("/login{query}&notice=check_inbox")
            };
            Pages::see_other(&visitor, &to)
        }
        Err(ServiceError::RegistrationDisabled) => state.pages.fail(
            &visitor,
            PageError::Service(ServiceError::RegistrationDisabled),
        ),
        Err(err) => {
            let errors = FormErrors::of(&visitor, err, &["email", "password", "name"]);
            let values =
                BTreeMap::from([("email", form.email), ("name", name.unwrap_or_default())]);
            signup_form(&state, &visitor, form.return_to.as_deref(), values, &errors)
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let Some(auth) = &visitor.auth else {
        return Pages::see_other(&visitor, "/login");
    };
    if let Err(err) = visitor.check_form(&state.origins, form.csrf.as_deref()) {
        return state.pages.fail(&visitor, err);
    }
    if let Err(err) = sign_out::sign_out(&state.core, auth, &visitor.client).await {
        return state.pages.fail(&visitor, err.into());
    }
    (
        state.cookies.clear(),
        Pages::see_other(&visitor, "/login?notice=signed_out"),
    )
        .into_response()
}

async fn forgot_page(
    State(state): State<AppState>,
    visitor: Visitor,
    query: Result<Query<Landing>, QueryRejection>,
) -> Response {
    let notice = notice(query_or_default::<Landing>(query).notice.as_deref());
    state.pages.render(
        &visitor,
        "forgot.html",
        merge(
            json!({ "values": json!({}), "notice": notice }),
            [FormErrors::none().context()],
        ),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: Option<String>,
    #[serde(default)]
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<EmailForm>,
) -> Response {
    if let Err(err) = visitor.check_form(&state.origins, form.csrf.as_deref()) {
        return state.pages.fail(&visitor, err);
    }
    match password::forgot(&state.core, &form.email, visitor.client.clone()).await {
        Ok(()) => Pages::see_other(&visitor, "/forgot-password?notice=reset_sent"),
        Err(err) => {
            let errors = FormErrors::of(&visitor, err, &["email"]);
            state.pages.render_form(
                &visitor,
                "forgot.html",
                merge(
                    json!({ "values": BTreeMap::from([("email", form.email)]), "notice": null }),
                    [errors.context()],
                ),
                &errors,
            )
        }
    }
}

fn reset_form(state: &AppState, visitor: &Visitor, token: &str, errors: &FormErrors) -> Response {
    state.pages.render_form(
        visitor,
        "reset.html",
        merge(
            json!({ "token": token, "values": json!({}) }),
            [errors.context()],
        ),
        errors,
    )
}

/// The reset link's page: the form, the token in it, nothing used up yet.
async fn reset_page(
    State(state): State<AppState>,
    visitor: Visitor,
    query: Result<Query<Landing>, QueryRejection>,
) -> Response {
    match query_or_default::<Landing>(query)
        .token
        .filter(|t| !t.is_empty())
    {
        Some(token) => reset_form(&state, &visitor, &token, &FormErrors::none()),
        None => state
            .pages
            .fail(&visitor, PageError::Service(ServiceError::InvalidToken)),
    }
}

#[derive(Deserialize)]
struct ResetForm {
    csrf: Option<String>,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<ResetForm>,
) -> Response {
    if let Err(err) = visitor.check_form(&state.origins, form.csrf.as_deref()) {
        return state.pages.fail(&visitor, err);
    }
    let request = PasswordReset {
        token: SecretString::from(form.token.clone()),
        new_password: SecretString::from(form.new_password),
    };
    match password::reset(&state.core, request, &visitor.client).await {
        Ok(()) => (
            state.cookies.clear(),
            Pages::see_other(&visitor, "/login?notice=password_reset"),
        )
            .into_response(),
        Err(err @ ServiceError::Invalid(_)) => reset_form(
            &state,
            &visitor,
            &form.token,
            &FormErrors::of(&visitor, err, &["new_password"]),
        ),
        Err(err) => state.pages.fail(&visitor, err.into()),
    }
}

/// The verification link's page: a button that posts the token; opening it uses nothing.
async fn verify_page(
    State(state): State<AppState>,
    visitor: Visitor,
    query: Result<Query<Landing>, QueryRejection>,
) -> Response {
    match query_or_default::<Landing>(query)
        .token
        .filter(|t| !t.is_empty())
    {
        Some(token) => state.pages.render(
            &visitor,
            "verify.html",
            json!({ "token": token }),
            StatusCode::OK,
        ),
        None => state
            .pages
            .fail(&visitor, PageError::Service(ServiceError::InvalidToken)),
    }
}

#[derive(Deserialize)]
struct VerifyForm {
    csrf: Option<String>,
    #[serde(default)]
    token: String,
}

async fn verify(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<VerifyForm>,
) -> Response {
    if let Err(err) = visitor.check_form(&state.origins, form.csrf.as_deref()) {
        return state.pages.fail(&visitor, err);
    }
    match email::verify(
        &state.core,
        &SecretString::from(form.token),
        &visitor.client,
    )
    .await
    {
        Ok(_) if visitor.auth.is_some() => {
            Pages::see_other(&visitor, "/account?notice=email_verified")
        }
        Ok(_) => Pages::see_other(&visitor, "/login?notice=email_verified"),
        Err(err) => state.pages.fail(&visitor, err.into()),
    }
}
