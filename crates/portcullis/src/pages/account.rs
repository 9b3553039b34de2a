//! The account page: profile, password, email, sessions and linked sign-in methods, each a
//! form of its own posting to `/account/…`; every success answers 303 back with a notice.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use portcullis_core::SessionId;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::{Landing, notice};
use super::i18n::date;
use super::{CsrfOnly, Form, FormErrors, PageError, Pages, Visitor, merge, query_or_default};
use crate::service::ServiceResult;
use crate::service::email::{self, EmailChange};
use crate::service::oauth::accounts;
use crate::service::password::{self, PasswordChange};
use crate::service::profile::{self, ProfilePatch};
use crate::service::sessions::{self, Authenticated};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account_page))
        .route("/account/profile", post(save_profile))
        .route("/account/password", post(change_password))
        .route("/account/email", post(change_email))
        .route("/account/sessions/revoke-others", post(revoke_others))
        .route("/account/sessions/{id}/revoke", post(revoke_session))
        .route("/account/accounts/{provider}/unlink", post(unlink))
}

#[derive(Serialize)]
struct SessionItem {
    id: String,
    created: String,
    last_seen: String,
    ip: Option<String>,
    device: String,
    current: bool,
}

#[derive(Serialize)]
struct LinkedItem {
    provider: String,
    display_name: String,
    email: Option<String>,
    since: String,
}

#[derive(Serialize)]
struct ProviderLink {
    display_name: String,
    url: String,
}

/// The account page as it stands, with a notice or a form's errors and values.
async fn render(
    state: &AppState,
    visitor: &Visitor,
    auth: &Authenticated,
    notice: Option<&str>,
    values: BTreeMap<&str, String>,
    errors: &FormErrors,
) -> Response {
    let page = match view(state, visitor, auth).await {
        Ok(page) => page,
        Err(err) => return state.pages.fail(visitor, err.into()),
    };
    state.pages.render_form(
        visitor,
        "account.html",
        merge(
            json!({ "notice": notice, "values": values }),
            [page, errors.context()],
        ),
        errors,
    )
}

async fn view(state: &AppState, visitor: &Visitor, auth: &Authenticated) -> ServiceResult<Value> {
    let core = &state.core;
    let words = &visitor.words;
    let sessions: Vec<SessionItem> = sessions::list(core, &auth.user.id)
        .await?
        .into_iter()
        .map(|s| SessionItem {
            current: s.id == auth.session.id,
            id: s.id.to_string(),
            created: date(words, s.created_at),
            last_seen: date(words, s.last_seen_at),
            device: s.user_agent.map(|ua| device(&ua)).unwrap_or_default(),
            ip: s.ip,
        })
        .collect();
    let settings = core.settings.get();
    let linked_rows = accounts::linked(core, auth).await?;
    let display = |name: &str| {
        core.providers
            .get(name)
            .map_or_else(|| name.to_owned(), |p| p.display_name().to_owned())
    };
    let linked: Vec<LinkedItem> = linked_rows
        .iter()
        .map(|row| LinkedItem {
            display_name: display(&row.provider),
            provider: row.provider.clone(),
            email: row.email.clone(),
            since: date(words, row.created_at),
        })
        .collect();
    let start = |name: &str, query: &str| format!("/api/auth/oauth/{name}/start?{query}");
    let linkable: Vec<ProviderLink> = core
        .providers
        .iter()
        .filter(|p| {
            settings.provider_enabled(p.name())
                && !linked_rows.iter().any(|r| r.provider == p.name())
        })
        .map(|p| ProviderLink {
            display_name: p.display_name().to_owned(),
            url: start(
                p.name(),
                "link=true&redirect_to=%2Faccount%3Fnotice%3Dlinked",
            ),
        })
        .collect();
    let reauth: Vec<ProviderLink> = linked_rows
        .iter()
        .filter(|r| settings.provider_enabled(&r.provider))
        .map(|r| ProviderLink {
            display_name: display(&r.provider),
            url: start(
                &r.provider,
                "reauth=true&redirect_to=%2Faccount%3Fnotice%3Dreauthenticated",
            ),
        })
        .collect();
    let has_password = core.store.password_hash(&auth.user.id).await?.is_some();
    let user = &auth.user;
    Ok(
        json!({ "user": json!({ "name": user.name, "username": user.username, "email": user.email, "email_verified": user.email_verified, "image": user.image, "created": date(words, user.created_at) }), "has_password": has_password, "sessions": sessions, "linked": linked, "linkable": linkable, "reauth": reauth }),
    )
}

/// A short, readable name of a browser and system from its user agent.
fn device(user_agent: &str) -> String {
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/", "curl/"]
        .iter()
        .find(|b| user_agent.contains(*b))
        .map(|b| match *b {
            "Edg/" => "Edge",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            "Safari/" => "Safari",
            _ => "curl",
        });
    let system = ["Windows", "Android", "iPhone", "iPad", "Mac OS X", "Linux"]
        .iter()
        .find(|s| user_agent.contains(*s))
        .map(|s| if *s == "Mac OS X" { "macOS" } else { s });
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) => user_agent.chars().take(60).collect(),
    }
}

async fn account_page(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    query: Result<Query<Landing>, QueryRejection>,
) -> Response {
    let Some(auth) = &visitor.auth else {
        return Pages::to_login(&visitor, &uri);
    };
    let notice = notice(query_or_default::<Landing>(query).notice.as_deref());
    render(
        &state,
        &visitor,
        auth,
        notice,
        BTreeMap::new(),
        &FormErrors::none(),
    )
    .await
}

/// The signed-in visitor whose form post may act, or the answer that says why not.
fn acting<'a>(
    state: &AppState,
    visitor: &'a Visitor,
    csrf: Option<&str>,
) -> Result<&'a Authenticated, Box<Response>> {
    let Some(auth) = &visitor.auth else {
        return Err(Box::new(Pages::see_other(
            visitor,
            "/login?return_to=%2Faccount",
        )));
    };
    visitor
        .check_form(&state.origins, csrf)
        .map_err(|err| state.pages.fail(visitor, err))?;
    Ok(auth)
}

/// After a form's use case: 303 back with `notice`, or the page again with the errors.
async fn back(
    state: &AppState,
    visitor: &Visitor,
    auth: &Authenticated,
    outcome: ServiceResult<()>,
    notice: &str,
    order: &[&str],
    values: BTreeMap<&str, String>,
) -> Response {
    match outcome {
        Ok(()) => Pages::see_other(visitor, &format!("/account?notice={notice}")),
        Err(err) => {
            let errors = FormErrors::of(visitor, err, order);
            render(state, visitor, auth, None, values, &errors).await
        }
    }
}

#[derive(Deserialize)]
struct ProfileForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    username: String,
}

async fn save_profile(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<ProfileForm>,
) -> Response {
    let auth = match acting(&state, &visitor, form.csrf.as_deref()) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let cleared = |value: &str| Some(Some(value.trim().to_owned()).filter(|v| !v.is_empty()));
    let patch = ProfilePatch {
        name: cleared(&form.name),
        username: cleared(&form.username),
        image: None,
    };
    let outcome = profile::update(&state.core, auth, patch).await.map(drop);
    let values = BTreeMap::from([("name", form.name), ("username", form.username)]);
    back(
        &state,
        &visitor,
        auth,
        outcome,
        "saved",
        &["name", "username"],
        values,
    )
    .await
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: Option<String>,
    current_password: Option<String>,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<PasswordForm>,
) -> Response {
    let auth = match acting(&state, &visitor, form.csrf.as_deref()) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let request = PasswordChange {
        current_password: form
            .current_password
            .filter(|p| !p.is_empty())
            .map(SecretString::from),
        new_password: SecretString::from(form.new_password),
    };
    let outcome = password::change(&state.core, auth, request, &visitor.client).await;
    let order = ["current_password", "new_password"];
    back(
        &state,
        &visitor,
        auth,
        outcome,
        "password_changed",
        &order,
        BTreeMap::new(),
    )
    .await
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: Option<String>,
    #[serde(default)]
    new_email: String,
    password: Option<String>,
}

async fn change_email(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<EmailForm>,
) -> Response {
    let auth = match acting(&state, &visitor, form.csrf.as_deref()) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let request = EmailChange {
        new_email: form.new_email.clone(),
        password: form
            .password
            .filter(|p| !p.is_empty())
            .map(SecretString::from),
    };
    let outcome = email::change(&state.core, auth, request, &visitor.client).await;
    let values = BTreeMap::from([("new_email", form.new_email)]);
    back(
        &state,
        &visitor,
        auth,
        outcome,
        "email_change_sent",
        &["new_email", "password"],
        values,
    )
    .await
}

async fn revoke_others(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let auth = match acting(&state, &visitor, form.csrf.as_deref()) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let outcome = sessions::revoke_all(&state.core, auth, true, &visitor.client).await;
    back(
        &state,
        &visitor,
        auth,
        outcome,
        "saved",
        &[],
        BTreeMap::new(),
    )
    .await
}

async fn revoke_session(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let auth = match acting(&state, &visitor, form.csrf.as_deref()) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let Ok(session_id) = id.parse::<SessionId>() else {
        return state.pages.fail(&visitor, PageError::NotFound);
    };
    let outcome = sessions::revoke(&state.core, auth, &session_id, &visitor.client).await;
    if session_id == auth.session.id && outcome.is_ok() {
        // Revoking this browser's own session is signing out: its cookies go too.
        return (
            state.cookies.clear(),
            Pages::see_other(&visitor, "/login?notice=signed_out"),
        )
            .into_response();
    }
    back(
        &state,
        &visitor,
        auth,
        outcome,
        "saved",
        &[],
        BTreeMap::new(),
    )
    .await
}

async fn unlink(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(provider): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let auth = match acting(&state, &visitor, form.csrf.as_deref()) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let outcome = accounts::unlink(&state.core, auth, &provider, &visitor.client).await;
    back(
        &state,
        &visitor,
        auth,
        outcome,
        "saved",
        &[],
        BTreeMap::new(),
    )
    .await
}
