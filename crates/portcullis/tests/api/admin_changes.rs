//! Admins changing users: fields, roles (never the last admin), bans that end live sessions
//! at once and lift themselves when they expire, sessions, and deletion that leaves nothing
//! of the user behind.

use portcullis::time::rfc3339;
use portcullis_core::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// An admin and an ordinary user (email, tokens, id).
async fn admin_and_user(app: &TestApp) -> (String, String, Tokens, String) {
    let admin = app.admin().await.access;
    let email = unique_email();
    let user = app.register(&email).await;
    let id = app.user_id(&user.access).await;
    (admin, email, user, id)
}

async fn send(request: reqwest::RequestBuilder, admin: &str) -> reqwest::Response {
    request.bearer_auth(admin).send().await.unwrap()
}

#[tokio::test]
async fn admins_set_only_the_admin_fields() {
    let app = spawn_app().await;
    let (admin, _, user, id) = admin_and_user(&app).await;
    let path = format!("/api/admin/users/{id}");
    let new_email = unique_email();
    let patched = send(
        app.patch(&path).json(&json!({
            "name": "Grace Hopper", "username": "grace", "email": new_email, "email_verified": true
        })),
        &admin,
    )
    .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let body: Value = patched.json().await.unwrap();
    assert_eq!(body["name"], "Grace Hopper");
    assert_eq!(body["username"], "grace");
    assert_eq!(body["email"], new_email.as_str());
    assert_eq!(body["email_verified"], true);

    for refused in [
        json!({"role": "admin"}),
        json!({"image": "https://example.com/a.png"}),
        json!({"banned": false}),
        json!({"email": "not an address"}),
        json!({"username": "x"}),
    ] {
        let response = send(app.patch(&path).json(&refused), &admin).await;
        assert_problem(response, 422, "validation_failed").await;
    }
    let me: Value = app.me(&user.access).await.json().await.unwrap();
    assert_eq!(me["role"], "user", "nothing refused was written");

    let other = unique_email();
    app.register(&other).await;
    let taken = send(app.patch(&path).json(&json!({"email": other})), &admin).await;
    assert_problem(taken, 409, "email_taken").await;
    let missing = send(
        app.patch("/api/admin/users/01900000-0000-7000-8000-000000000000")
            .json(&json!({"name": "Nobody"})),
        &admin,
    )
    .await;
    assert_problem(missing, 404, "not_found").await;
}

#[tokio::test]
async fn roles_come_from_the_configured_set_and_take_effect_at_once() {
    let app =
        spawn_app_with(|c| c.accounts.roles = vec!["user".into(), "admin".into(), "editor".into()])
            .await;
    let (admin, _, user, id) = admin_and_user(&app).await;
    let role = |role: &str| {
        app.client
            .put(app.url(&format!("/api/admin/users/{id}/role")))
            .json(&json!({ "role": role }))
    };
    let unknown = send(role("superuser"), &admin).await;
    let body = assert_problem(unknown, 422, "validation_failed").await;
    assert_eq!(body["fields"]["role"], "unknown_role");

    let editor: Value = send(role("editor"), &admin).await.json().await.unwrap();
    assert_eq!(editor["role"], "editor");
    assert_problem(
        app.get("/api/admin/users")
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
    let promoted = send(role("admin"), &admin).await;
    assert_eq!(promoted.status(), StatusCode::OK);
    let with_old_token = app
        .get("/api/admin/users")
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_old_token.status(),
        StatusCode::OK,
        "promotion needs no new token"
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_banned_or_deleted() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    let id = app.user_id(&admin).await;
    let demote = app
        .client
        .put(app.url(&format!("/api/admin/users/{id}/role")))
        .json(&json!({"role": "user"}));
    assert_problem(send(demote, &admin).await, 409, "last_admin").await;
    let ban = app
        .post_empty(&format!("/api/admin/users/{id}/ban"))
        .json(&json!({"reason": "testing"}));
    assert_problem(send(ban, &admin).await, 409, "last_admin").await;
    let delete = app.delete(&format!("/api/admin/users/{id}"));
    assert_problem(send(delete, &admin).await, 409, "last_admin").await;
    let me: Value = app.me(&admin).await.json().await.unwrap();
    assert_eq!(me["role"], "admin");

    // With a second admin, the first may step down.
    let second = app.admin().await.access;
    let demote = app
        .client
        .put(app.url(&format!("/api/admin/users/{id}/role")))
        .json(&json!({"role": "user"}));
    assert_eq!(send(demote, &second).await.status(), StatusCode::OK);
    let second_id = app.user_id(&second).await;
    let demote_last = app
        .client
        .put(app.url(&format!("/api/admin/users/{second_id}/role")))
        .json(&json!({"role": "user"}));
    assert_problem(send(demote_last, &second).await, 409, "last_admin").await;
}

#[tokio::test]
async fn a_banned_admin_does_not_count_as_another_admin() {
    let app = spawn_app().await;
    let first = app.admin().await.access;
    let second = app.admin().await.access;
    let (first_id, second_id) = (app.user_id(&first).await, app.user_id(&second).await);
    let ban = app
        .post_empty(&format!("/api/admin/users/{second_id}/ban"))
        .json(&json!({"reason": "compromised"}));
    assert_eq!(send(ban, &first).await.status(), StatusCode::OK);
    // The banned admin keeps the role but cannot act: the first is the last usable admin.
    let demote_self = app
        .client
        .put(app.url(&format!("/api/admin/users/{first_id}/role")))
        .json(&json!({"role": "user"}));
    assert_problem(send(demote_self, &first).await, 409, "last_admin").await;
    let delete_self = app.delete(&format!("/api/admin/users/{first_id}"));
    assert_problem(send(delete_self, &first).await, 409, "last_admin").await;
}

#[tokio::test]
async fn a_ban_ends_live_bearer_and_cookie_sessions_at_once() {
    let app = spawn_app().await;
    let (admin, email, bearer, id) = admin_and_user(&app).await;
    let cookie = app.login_cookie(&email).await;
    assert_eq!(app.me(&bearer.access).await.status(), StatusCode::OK);
    assert_eq!(app.me_cookie(&cookie).await.status(), StatusCode::OK);

    let missing_reason = app
        .post_empty(&format!("/api/admin/users/{id}/ban"))
        .json(&json!({}));
    assert_problem(send(missing_reason, &admin).await, 422, "validation_failed").await;
    let banned = send(
        app.post_empty(&format!("/api/admin/users/{id}/ban"))
            .json(&json!({"reason": "spam"})),
        &admin,
    )
    .await;
    assert_eq!(banned.status(), StatusCode::OK);
    let body: Value = banned.json().await.unwrap();
    assert_eq!(
        (&body["banned"], &body["ban_reason"]),
        (&json!(true), &json!("spam"))
    );

    // The very next requests, within the same second and the same access token lifetime.
    assert_problem(app.me(&bearer.access).await, 401, "unauthenticated").await;
    assert_problem(app.me_cookie(&cookie).await, 401, "unauthenticated").await;
    let refresh = app
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": bearer.refresh}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(refresh, 401, "invalid_refresh_token").await;
    let live = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM sessions WHERE user_id = '{id}' AND revoked_at IS NULL"
        ))
        .await;
    assert_eq!(live, 0, "every session is revoked in the store");

    assert_problem(
        app.login(&email, "not the password of this user").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(app.login(&email, PASSWORD).await, 403, "user_banned").await;

    let unbanned = send(app.delete(&format!("/api/admin/users/{id}/ban")), &admin).await;
    assert_eq!(unbanned.status(), StatusCode::OK);
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_ban_lifts_itself() {
    let app = spawn_app().await;
    let (admin, email, _, id) = admin_and_user(&app).await;
    // Shorter than the access tokens live, so the admin's token outlasts the ban.
    let ten_minutes = 10 * 60 * 1000;
    let past = rfc3339(app.clock.now_ms() - 1000);
    let in_the_past = app
        .post_empty(&format!("/api/admin/users/{id}/ban"))
        .json(&json!({"reason": "late", "expires_at": past}));
    assert_problem(send(in_the_past, &admin).await, 422, "validation_failed").await;
    let until = rfc3339(app.clock.now_ms() + ten_minutes);
    let banned: Value = send(
        app.post_empty(&format!("/api/admin/users/{id}/ban"))
            .json(&json!({"reason": "cool off", "expires_at": until})),
        &admin,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(banned["ban_expires_at"], until.as_str());
    assert_problem(app.login(&email, PASSWORD).await, 403, "user_banned").await;
    let list = |query: &'static str| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let body: Value = app
                .get(&format!("/api/admin/users{query}"))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["total"].as_i64().unwrap()
        }
    };
    assert_eq!(list("?banned=true").await, 1);

    app.clock.advance_ms(ten_minutes + 1);
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(list("?banned=true").await, 0);
    let user: Value = send(app.get(&format!("/api/admin/users/{id}")), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["banned"], false);
    assert!(user.get("ban_reason").is_none());
}

#[tokio::test]
async fn admins_list_and_end_a_users_sessions() {
    let app = spawn_app().await;
    let (admin, email, first, id) = admin_and_user(&app).await;
    let second = app.login_bearer(&email).await;
    let sessions: Value = send(app.get(&format!("/api/admin/users/{id}/sessions")), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 2);

    let one = format!("/api/admin/users/{id}/sessions/{}", first.session_id);
    assert_eq!(
        send(app.delete(&one), &admin).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.me(&first.access).await, 401, "unauthenticated").await;
    assert_eq!(app.me(&second.access).await.status(), StatusCode::OK);
    assert_problem(send(app.delete(&one), &admin).await, 404, "not_found").await;

    // A session id under another user's path is not found.
    let other = app.register(&unique_email()).await;
    let other_id = app.user_id(&other.access).await;
    let misplaced = format!("/api/admin/users/{other_id}/sessions/{}", second.session_id);
    assert_problem(send(app.delete(&misplaced), &admin).await, 404, "not_found").await;
    assert_eq!(app.me(&second.access).await.status(), StatusCode::OK);

    let all = format!("/api/admin/users/{id}/sessions");
    assert_eq!(
        send(app.delete(&all), &admin).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.me(&second.access).await, 401, "unauthenticated").await;
    let missing = "/api/admin/users/01900000-0000-7000-8000-000000000000/sessions";
    assert_problem(send(app.get(missing), &admin).await, 404, "not_found").await;
}

#[tokio::test]
async fn deleting_a_user_leaves_nothing_of_theirs_behind() {
    let app = spawn_app().await;
    let (admin, email, bearer, id) = admin_and_user(&app).await;
    app.login_cookie(&email).await;
    app.post(
        "/api/auth/refresh",
        &json!({"refresh_token": bearer.refresh}),
    )
    .send()
    .await
    .unwrap();
    app.post("/api/auth/password/forgot", &json!({"email": email}))
        .send()
        .await
        .unwrap();
    app.wait_for_count(
        &format!("SELECT COUNT(*) FROM one_time_tokens WHERE user_id = '{id}' AND kind = 'reset_password'"),
        1,
    )
    .await;
    app.login(&email, "a wrong password for the record").await;

    let deleted = send(app.delete(&format!("/api/admin/users/{id}")), &admin).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    for (table, condition) in [
        ("users", format!("id = '{id}'")),
        ("credentials", format!("user_id = '{id}'")),
        ("sessions", format!("user_id = '{id}'")),
        ("one_time_tokens", format!("user_id = '{id}'")),
        (
            "mail_outbox",
            format!("user_id = '{id}' OR recipient = '{email}'"),
        ),
        (
            "refresh_tokens",
            "session_id NOT IN (SELECT id FROM sessions)".to_owned(),
        ),
    ] {
        let left = app
            .scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {condition}"))
            .await;
        assert_eq!(left, 0, "{table} still holds rows of the deleted user");
    }
    let trail = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE subject_user_id = '{id}'"
        ))
        .await;
    assert!(trail >= 4, "the audit trail keeps the id: {trail} events");
    let identifying = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE (actor_user_id = '{id}'
             OR (actor_user_id IS NULL AND subject_user_id = '{id}'))
             AND (ip IS NOT NULL OR user_agent IS NOT NULL OR login_key IS NOT NULL)"
        ))
        .await;
    assert_eq!(
        identifying, 0,
        "nothing identifies the person behind their events"
    );
    let with_email = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%{email}%'"
        ))
        .await;
    assert_eq!(with_email, 0);

    assert_problem(app.me(&bearer.access).await, 401, "unauthenticated").await;
    assert_problem(
        send(app.delete(&format!("/api/admin/users/{id}")), &admin).await,
        404,
        "not_found",
    )
    .await;
    let again = app.register(&email).await;
    assert_eq!(
        app.me(&again.access).await.status(),
        StatusCode::OK,
        "the address is free again"
    );
}
