//! The admin console (role `admin`; others get a 403 page): users (search, filters, pages),
//! one user (edit, role, ban, unban, unlock, sessions, delete after a confirmation), the
//! audit log, suspicious activity and the runtime settings.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use portcullis_core::{SessionId, UserId};
use portcullis_store::{AuditFilter, Page, UserFilter, UserRow};
use serde::{Deserialize, Serialize};
use serde_json::Map;
use serde_json::{Value, json};

use super::auth::notice;
use super::i18n::date;
use super::{CsrfOnly, Form, FormErrors, PageError, Pages, Visitor, merge, query_or_default};
use crate::service::admin::{self, AdminAction, AdminPatch};
use crate::service::audit::Action;
use crate::service::sessions::Authenticated;
use crate::service::{ServiceError, ServiceResult, audit_trail, settings};
use crate::state::AppState;
use crate::time::parse_rfc3339;

const PER_PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(users_page))
        .route("/admin/users/{id}", get(user_page))
        .route("/admin/users/{id}/edit", post(edit))
        .route("/admin/users/{id}/role", post(set_role))
        .route("/admin/users/{id}/ban", post(ban))
        .route("/admin/users/{id}/unban", post(unban))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/users/{id}/sessions/revoke", post(revoke_sessions))
        .route(
            "/admin/users/{id}/sessions/{sid}/revoke",
            post(revoke_session),
        )
        .route("/admin/users/{id}/delete", get(delete_page).post(delete))
        .route("/admin/audit", get(audit_page))
        .route("/admin/suspicious", get(suspicious_page))
        .route("/admin/settings", get(settings_page).post(save_settings))
}

/// The signed-in admin, or the answer for anyone else: to the login page without a
/// session, a 403 page without the role.
fn admin<'a>(
    state: &AppState,
    visitor: &'a Visitor,
    uri: &Uri,
) -> Result<&'a Authenticated, Box<Response>> {
    match &visitor.auth {
        None => Err(Box::new(Pages::to_login(visitor, uri))),
        Some(auth) if auth.user.role.is_admin() => Ok(auth),
        Some(_) => Err(Box::new(state.pages.fail(visitor, PageError::Forbidden))),
    }
}

/// As [`admin`], for a form post, whose token is checked too.
fn acting<'a>(
    state: &AppState,
    visitor: &'a Visitor,
    uri: &Uri,
    csrf: Option<&str>,
) -> Result<&'a Authenticated, Box<Response>> {
    let auth = admin(state, visitor, uri)?;
    visitor
        .check_form(&state.origins, csrf)
        .map_err(|err| state.pages.fail(visitor, err))?;
    Ok(auth)
}

#[derive(Serialize)]
struct UserItem {
    id: String,
    email: String,
    name: Option<String>,
    username: Option<String>,
    role: String,
    email_verified: bool,
    banned: bool,
    created: String,
    last_login: Option<String>,
}

fn user_item(visitor: &Visitor, user: UserRow, now: i64) -> UserItem {
    UserItem {
        banned: user.is_banned(now),
        id: user.id.to_string(),
        created: date(&visitor.words, user.created_at),
        last_login: user.last_login_at.map(|at| date(&visitor.words, at)),
        email: user.email,
        name: user.name,
        username: user.username,
        role: user.role.as_str().to_owned(),
        email_verified: user.email_verified,
    }
}

/// Links to the pages of a list: the current query with another `page`.
fn pages_of(path: &str, query: &[(&str, String)], page: i64, total: i64) -> Value {
    let last = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |to: i64| {
        let mut pairs: Vec<(&str, String)> = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect();
        pairs.push(("page", to.to_string()));
        format!(
            "{path}?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    };
    json!({ "page": page, "last": last, "total": total, "previous": (page > 1).then(|| link(page - 1)), "next": (page < last).then(|| link(page + 1)) })
}

#[derive(Debug, Default, Deserialize)]
struct UserQuery {
    q: Option<String>,
    role: Option<String>,
    banned: Option<String>,
    page: Option<i64>,
    notice: Option<String>,
}

async fn users_page(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> Response {
    if let Err(answer) = admin(&state, &visitor, &uri) {
        return *answer;
    }
    let query = query_or_default(query);
    let page = query.page.unwrap_or(1).max(1);
    let now = state.core.now();
    let q = query.q.clone().unwrap_or_default().trim().to_owned();
    let role = query.role.clone().filter(|r| !r.is_empty());
    let banned = match query.banned.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let filter = UserFilter {
        q: Some(q.clone()).filter(|q| !q.is_empty()),
        role: role.clone(),
        banned,
        now,
    };
    let window = Page {
        limit: PER_PAGE,
        offset: (page - 1).saturating_mul(PER_PAGE),
    };
    let found = match admin::list_users(&state.core, filter, window).await {
        Ok(found) => found,
        Err(err) => return state.pages.fail(&visitor, err.into()),
    };
    let users: Vec<UserItem> = found
        .users
        .into_iter()
        .map(|u| user_item(&visitor, u, now))
        .collect();
    let kept = [
        ("q", q.clone()),
        ("role", role.clone().unwrap_or_default()),
        ("banned", query.banned.clone().unwrap_or_default()),
    ];
    state.pages.render(
        &visitor,
        "admin/users.html",
        json!({ "section": "users", "users": users, "q": q, "role": role, "banned": query.banned, "roles": state.core.policy.roles.names().collect::<Vec<_>>(), "pages": pages_of("/admin", &kept, page, found.total), "notice": notice(query.notice.as_deref()) }),
        StatusCode::OK,
    )
}

#[derive(Serialize)]
struct SessionItem {
    id: String,
    created: String,
    last_seen: String,
    ip: Option<String>,
    user_agent: Option<String>,
}

async fn user_view(state: &AppState, visitor: &Visitor, id: &UserId) -> ServiceResult<Value> {
    let core = &state.core;
    let (user, accounts) = admin::user_with_accounts(core, id).await?;
    let now = core.now();
    let words = &visitor.words;
    let sessions: Vec<SessionItem> = admin::sessions_of(core, id)
        .await?
        .into_iter()
        .map(|s| SessionItem {
            id: s.id.to_string(),
            created: date(words, s.created_at),
            last_seen: date(words, s.last_seen_at),
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    let linked: Vec<Value> = accounts
        .into_iter()
        .map(|a| json!({ "provider": a.provider, "email": a.email, "since": date(words, a.created_at) }))
        .collect();
    let ban = user.is_banned(now).then(|| {
        json!({ "reason": user.ban_reason.clone(), "until": user.ban_expires_at.map(|at| date(words, at)) })
    });
    Ok(
        json!({ "user": user_item(visitor, user, now), "ban": ban, "sessions": sessions, "linked": linked, "roles": core.policy.roles.names().collect::<Vec<_>>() }),
    )
}

async fn render_user(
    state: &AppState,
    visitor: &Visitor,
    id: &UserId,
    notice: Option<&str>,
    values: BTreeMap<&str, String>,
    errors: &FormErrors,
) -> Response {
    match user_view(state, visitor, id).await {
        Ok(view) => state.pages.render_form(
            visitor,
            "admin/user.html",
            merge(
                json!({ "section": "users", "notice": notice, "values": values }),
                [view, errors.context()],
            ),
            errors,
        ),
        Err(err) => state.pages.fail(visitor, err.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn user_page(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
    query: Result<Query<NoticeQuery>, QueryRejection>,
) -> Response {
    if let Err(answer) = admin(&state, &visitor, &uri) {
        return *answer;
    }
    let Ok(id) = id.parse::<UserId>() else {
        return state.pages.fail(&visitor, PageError::NotFound);
    };
    let notice = notice(query_or_default(query).notice.as_deref());
    render_user(
        &state,
        &visitor,
        &id,
        notice,
        BTreeMap::new(),
        &FormErrors::none(),
    )
    .await
}

/// Carries out an admin action from a form on a user's page: 303 back to the page (or to
/// the list, once deleted), or the page again with the error.
#[allow(clippy::too_many_arguments)]
async fn act(
    state: &AppState,
    visitor: &Visitor,
    uri: &Uri,
    id: &str,
    csrf: Option<&str>,
    action: ServiceResult<AdminAction>,
    order: &[&str],
    values: BTreeMap<&str, String>,
) -> Response {
    let auth = match acting(state, visitor, uri, csrf) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let Ok(id) = id.parse::<UserId>() else {
        return state.pages.fail(visitor, PageError::NotFound);
    };
    let outcome = match action {
        Ok(action) => admin::act(&state.core, auth, &id, action, &visitor.client).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(Some(_)) => Pages::see_other(visitor, &format!("/admin/users/{id}?notice=saved")),
        Ok(None) => Pages::see_other(visitor, "/admin?notice=saved"),
        Err(ServiceError::NotFound) => state.pages.fail(visitor, PageError::NotFound),
        Err(err) => {
            let errors = FormErrors::of(visitor, err, order);
            render_user(state, visitor, &id, None, values, &errors).await
        }
    }
}

#[derive(Deserialize)]
struct EditForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    email_verified: Option<String>,
}

async fn edit(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> Response {
    let cleared = |value: &str| Some(Some(value.trim().to_owned()).filter(|v| !v.is_empty()));
    let patch = AdminPatch {
        name: cleared(&form.name),
        username: cleared(&form.username),
        email: Some(form.email.trim().to_owned()),
        email_verified: Some(form.email_verified.is_some()),
    };
    let values = BTreeMap::from([
        ("name", form.name),
        ("username", form.username),
        ("email", form.email),
    ]);
    let order = ["email", "name", "username"];
    act(
        &state,
        &visitor,
        &uri,
        &id,
        form.csrf.as_deref(),
        patch.into_action(),
        &order,
        values,
    )
    .await
}

#[derive(Deserialize)]
struct RoleForm {
    csrf: Option<String>,
    #[serde(default)]
    role: String,
}

async fn set_role(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    let action = state
        .core
        .policy
        .roles
        .parse(&form.role)
        .map(AdminAction::SetRole)
        .ok_or_else(|| ServiceError::field("role", "unknown_role"));
    act(
        &state,
        &visitor,
        &uri,
        &id,
        form.csrf.as_deref(),
        action,
        &["role"],
        BTreeMap::new(),
    )
    .await
}

#[derive(Deserialize)]
struct BanForm {
    csrf: Option<String>,
    #[serde(default)]
    reason: String,
    /// `datetime-local`, read as UTC; empty for a ban without end.
    #[serde(default)]
    expires_at: String,
}

async fn ban(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<BanForm>,
) -> Response {
    let expires = form.expires_at.trim();
    let expires = (!expires.is_empty()).then(|| {
        // `2026-12-31T18:00` from a datetime-local input: seconds and UTC added.
        if expires.len() == 16 {
            format!("{expires}:00Z")
        } else {
            expires.to_owned()
        }
    });
    let action = admin::ban(&state.core, &form.reason, expires.as_deref());
    let values = BTreeMap::from([("reason", form.reason), ("expires_at", form.expires_at)]);
    act(
        &state,
        &visitor,
        &uri,
        &id,
        form.csrf.as_deref(),
        action,
        &["reason", "expires_at"],
        values,
    )
    .await
}

/// A form that is only a button: `action` on user `id`.
async fn button(
    state: &AppState,
    visitor: &Visitor,
    uri: &Uri,
    id: &str,
    form: CsrfOnly,
    action: Result<AdminAction, ServiceError>,
) -> Response {
    let csrf = form.csrf.as_deref();
    act(state, visitor, uri, id, csrf, action, &[], BTreeMap::new()).await
}

async fn unban(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    button(&state, &visitor, &uri, &id, form, Ok(AdminAction::Unban)).await
}

async fn revoke_sessions(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    button(
        &state,
        &visitor,
        &uri,
        &id,
        form,
        Ok(AdminAction::RevokeSessions(None)),
    )
    .await
}

async fn revoke_session(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path((id, sid)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let action = sid
        .parse::<SessionId>()
        .map(|sid| AdminAction::RevokeSessions(Some(sid)))
        .map_err(|_| ServiceError::NotFound);
    button(&state, &visitor, &uri, &id, form, action).await
}

async fn unlock(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let auth = match acting(&state, &visitor, &uri, form.csrf.as_deref()) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let Ok(id) = id.parse::<UserId>() else {
        return state.pages.fail(&visitor, PageError::NotFound);
    };
    match admin::unlock(&state.core, auth, &id, &visitor.client).await {
        Ok(()) => Pages::see_other(&visitor, &format!("/admin/users/{id}?notice=saved")),
        Err(err) => state.pages.fail(&visitor, err.into()),
    }
}

async fn delete_page(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    if let Err(answer) = admin(&state, &visitor, &uri) {
        return *answer;
    }
    let Ok(id) = id.parse::<UserId>() else {
        return state.pages.fail(&visitor, PageError::NotFound);
    };
    match admin::user(&state.core, &id).await {
        Ok(user) => state.pages.render(
            &visitor,
            "admin/delete.html",
            json!({ "section": "users", "user": user_item(&visitor, user, state.core.now()) }),
            StatusCode::OK,
        ),
        Err(err) => state.pages.fail(&visitor, err.into()),
    }
}

async fn delete(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    button(&state, &visitor, &uri, &id, form, Ok(AdminAction::Delete)).await
}

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    user_id: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<i64>,
}

#[derive(Serialize)]
struct EventItem {
    at: String,
    action: String,
    outcome: String,
    actor: Option<String>,
    subject: Option<String>,
    ip: Option<String>,
    detail: String,
}

async fn audit_page(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    if let Err(answer) = admin(&state, &visitor, &uri) {
        return *answer;
    }
    let query = query_or_default(query);
    let page = query.page.unwrap_or(1).max(1);
    let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    // `date` inputs give a day: from its start, until the end of the `until` day.
    let day = |value: &Option<String>, end: bool| {
        nonempty(value).map(|d| {
            let at = parse_rfc3339(&format!("{}T00:00:00Z", d.trim())).ok_or(());
            at.map(|at| if end { at + 86_400_000 } else { at })
        })
    };
    let (since, until) = (day(&query.since, false), day(&query.until, true));
    let mut errors = FormErrors::none();
    if since.as_ref().is_some_and(Result::is_err) || until.as_ref().is_some_and(Result::is_err) {
        errors = FormErrors::of(
            &visitor,
            ServiceError::field("since", "invalid_timestamp"),
            &["since"],
        );
    }
    let filter = AuditFilter {
        user_id: nonempty(&query.user_id),
        action: nonempty(&query.action),
        since: since.and_then(Result::ok),
        until: until.and_then(Result::ok),
    };
    let window = Page {
        limit: PER_PAGE,
        offset: (page - 1).saturating_mul(PER_PAGE),
    };
    let found = match audit_trail::events(&state.core, filter, window).await {
        Ok(found) => found,
        Err(err @ ServiceError::Invalid(_)) => {
            errors = FormErrors::of(&visitor, err, &["action"]);
            audit_trail::EventPage {
                events: Vec::new(),
                total: 0,
            }
        }
        Err(err) => return state.pages.fail(&visitor, err.into()),
    };
    let events: Vec<EventItem> = found
        .events
        .into_iter()
        .map(|e| EventItem {
            at: date(&visitor.words, e.at),
            action: e.action,
            outcome: e.outcome,
            actor: e.actor_user_id,
            subject: e.subject_user_id,
            ip: e.ip,
            detail: e.detail,
        })
        .collect();
    let kept = [
        ("user_id", query.user_id.clone().unwrap_or_default()),
        ("action", query.action.clone().unwrap_or_default()),
        ("since", query.since.clone().unwrap_or_default()),
        ("until", query.until.clone().unwrap_or_default()),
    ];
    let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    state.pages.render_form(
        &visitor,
        "admin/audit.html",
        merge(json!({ "section": "audit", "events": events, "actions": actions, "filter": kept.iter().cloned().collect::<BTreeMap<&str, String>>(), "pages": pages_of("/admin/audit", &kept, page, found.total) }), [errors.context()]),
        &errors,
    )
}

#[derive(Debug, Default, Deserialize)]
struct WindowQuery {
    window: Option<String>,
}

async fn suspicious_page(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    query: Result<Query<WindowQuery>, QueryRejection>,
) -> Response {
    if let Err(answer) = admin(&state, &visitor, &uri) {
        return *answer;
    }
    let window = query_or_default(query)
        .window
        .filter(|w| !w.trim().is_empty())
        .unwrap_or_else(|| "1h".into());
    let words = &visitor.words;
    match audit_trail::suspicious(&state.core, &window).await {
        Ok(found) => {
            let by_ip: Vec<Value> = found
                .by_ip
                .into_iter()
                .map(|g| json!({ "ip": g.ip, "failures": g.failures, "accounts": g.accounts, "first": date(words, g.first_seen), "last": date(words, g.last_seen) }))
                .collect();
            let by_account: Vec<Value> = found
                .by_account
                .into_iter()
                .map(|g| json!({ "key": g.login_key, "user_id": g.user_id, "failures": g.failures, "ips": g.ips, "first": date(words, g.first_seen), "last": date(words, g.last_seen) }))
                .collect();
            state.pages.render(
                &visitor,
                "admin/suspicious.html",
                merge(json!({ "section": "suspicious", "window": window, "since": date(words, found.since), "by_ip": by_ip, "by_account": by_account }), [FormErrors::none().context()]),
                StatusCode::OK,
            )
        }
        Err(err) => {
            let errors = FormErrors::of(&visitor, err, &["window"]);
            state.pages.render_form(
                &visitor,
                "admin/suspicious.html",
                merge(json!({ "section": "suspicious", "window": window, "since": "", "by_ip": json!([]), "by_account": json!([]) }), [errors.context()]),
                &errors,
            )
        }
    }
}

/// A setting as the form shows it: its value in force, its default, and whether it is set.
#[derive(Serialize)]
struct Switch {
    key: String,
    label: String,
    current: bool,
    default: bool,
    choice: &'static str,
}

fn switches(state: &AppState) -> Vec<Switch> {
    let settings = state.core.settings.get();
    let defaults = state.core.settings.defaults();
    let switch =
        |key: &str, label: String, current: bool, default: bool, stored: Option<bool>| Switch {
            key: key.to_owned(),
            label,
            current,
            default,
            choice: match stored {
                None => "default",
                Some(true) => "on",
                Some(false) => "off",
            },
        };
    let stored = |current: bool, default: bool| (current != default).then_some(current);
    let mut list = vec![
        switch(
            "registration_open",
            String::new(),
            settings.registration_open,
            defaults.registration_open,
            stored(settings.registration_open, defaults.registration_open),
        ),
        switch(
            "password_login",
            String::new(),
            settings.password_login,
            defaults.password_login,
            stored(settings.password_login, defaults.password_login),
        ),
        switch(
            "email_verification_required",
            String::new(),
            settings.email_verification_required,
            defaults.email_verification_required,
            stored(
                settings.email_verification_required,
                defaults.email_verification_required,
            ),
        ),
    ];
    for provider in state.core.providers.iter() {
        let name = provider.name();
        let current = settings.provider_enabled(name);
        list.push(switch(
            &format!("provider.{name}"),
            provider.display_name().to_owned(),
            current,
            true,
            stored(current, true),
        ));
    }
    list
}

async fn settings_page(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    query: Result<Query<NoticeQuery>, QueryRejection>,
) -> Response {
    if let Err(answer) = admin(&state, &visitor, &uri) {
        return *answer;
    }
    let notice = notice(query_or_default(query).notice.as_deref());
    state.pages.render(
        &visitor,
        "admin/settings.html",
        merge(
            json!({ "section": "settings", "switches": switches(&state), "notice": notice }),
            [FormErrors::none().context()],
        ),
        StatusCode::OK,
    )
}

/// The settings form: each switch `default`, `on` or `off`.
async fn save_settings(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let auth = match acting(&state, &visitor, &uri, form.get("csrf").map(String::as_str)) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let choice = |raw: &str| match raw {
        "on" => Some(serde_json::Value::Bool(true)),
        "off" => Some(serde_json::Value::Bool(false)),
        "default" => Some(serde_json::Value::Null),
        _ => None,
    };
    let mut patch = Map::new();
    let mut providers = Map::new();
    for (key, raw) in &form {
        if key == "csrf" {
            continue;
        }
        let value = choice(raw).unwrap_or(serde_json::Value::String(raw.clone()));
        match key.strip_prefix("provider.") {
            Some(name) => {
                providers.insert(name.to_owned(), value);
            }
            None => {
                patch.insert(key.clone(), value);
            }
        }
    }
    if !providers.is_empty() {
        patch.insert("providers".into(), serde_json::Value::Object(providers));
    }
    match settings::update(&state.core, auth, patch, &visitor.client).await {
        Ok(_) => Pages::see_other(&visitor, "/admin/settings?notice=saved"),
        Err(err) => {
            let errors = FormErrors::of(
                &visitor,
                err,
                &[
                    "registration_open",
                    "password_login",
                    "email_verification_required",
                    "providers",
                ],
            );
            state.pages.render_form(
                &visitor,
                "admin/settings.html",
                merge(
                    json!({ "section": "settings", "switches": switches(&state), "notice": null }),
                    [errors.context()],
                ),
                &errors,
            )
        }
    }
}
