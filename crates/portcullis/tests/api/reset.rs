//! Password reset against a real SMTP server: forgot-password answers the same for unknown
//! addresses and sends them nothing; a reset link works once and ends every session and
//! token; expiry; a password change voids outstanding links.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const NEW_PASSWORD: &str = "a completely different passphrase";

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.post("/api/auth/password/forgot", &json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

pub async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/auth/password/reset",
        &json!({ "token": token, "new_password": password }),
    )
    .send()
    .await
    .unwrap()
}

/// A registered account and the reset link sent to it.
pub async fn account_with_reset_link(app: &TestApp, sink: &SmtpSink) -> (String, Tokens, String) {
    let email = unique_email();
    let tokens = app.register(&email).await;
    assert_eq!(forgot(app, &email).await.status(), StatusCode::ACCEPTED);
    let mail = sink.wait_for(&email, 2).await;
    let message = mail
        .iter()
        .find(|m| m.subject.starts_with("Reset your"))
        .expect("a reset message");
    assert!(
        message
            .link()
            .starts_with("http://localhost:8080/reset-password?token=")
    );
    (email, tokens, message.token())
}

#[tokio::test]
async fn forgot_password_answers_unknown_addresses_exactly_as_known_ones() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let known = unique_email();
    app.register(&known).await;
    sink.wait_for(&known, 1).await;
    let unknown = unique_email();

    let for_unknown = forgot(&app, &unknown).await;
    let for_known = forgot(&app, &known).await;
    let shape = |r: &reqwest::Response| {
        let mut headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(name, _)| !["date", "x-request-id"].contains(&name.as_str()))
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        (r.status(), headers)
    };
    assert_eq!(shape(&for_unknown), shape(&for_known));
    assert_eq!(for_known.status(), StatusCode::ACCEPTED);
    assert_eq!(
        for_unknown.json::<Value>().await.unwrap(),
        for_known.json::<Value>().await.unwrap()
    );

    sink.wait_for(&known, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.outbox_settled().await;
    assert!(
        sink.to(&unknown).is_empty(),
        "no mail for an unknown address"
    );
    assert_eq!(
        sink.received().len(),
        2,
        "sign-up and one reset link, nothing else"
    );

    let malformed = forgot(&app, "not an address").await;
    assert_problem(malformed, 422, "validation_failed").await;
}

#[tokio::test]
async fn a_reset_ends_every_session_and_token_and_the_link_works_once() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let (email, bearer, token) = account_with_reset_link(&app, &sink).await;
    let cookie = app.login_cookie(&email).await;
    assert_eq!(app.me_cookie(&cookie).await.status(), StatusCode::OK);

    let weak = reset(&app, &token, "short").await;
    let body = assert_problem(weak, 422, "validation_failed").await;
    assert_eq!(body["fields"]["new_password"], "too_short");
    let mine = reset(&app, &token, &format!("{email} is mine")).await;
    assert_problem(mine, 422, "validation_failed").await;

    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT,
        "a refused password leaves the link usable"
    );
    assert_problem(app.me(&bearer.access).await, 401, "unauthenticated").await;
    assert_problem(app.me_cookie(&cookie).await, 401, "unauthenticated").await;
    let refresh = app
        .post(
            "/api/auth/refresh",
            &json!({ "refresh_token": bearer.refresh }),
        )
        .send()
        .await
        .unwrap();
    assert_problem(refresh, 401, "invalid_refresh_token").await;

    assert_problem(
        app.login(&email, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login(&email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_problem(
        reset(&app, &token, "yet another long passphrase").await,
        400,
        "invalid_token",
    )
    .await;

    let notice = sink.wait_for(&email, 3).await;
    assert!(
        notice
            .iter()
            .any(|m| m.subject == "Your Portcullis password was reset"),
        "{notice:#?}"
    );
}

#[tokio::test]
async fn reset_links_expire_after_thirty_minutes() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let (email, _, token) = account_with_reset_link(&app, &sink).await;
    app.clock.advance_ms(30 * 60 * 1000 + 1);
    assert_problem(
        reset(&app, &token, NEW_PASSWORD).await,
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_voids_outstanding_reset_links() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let (email, bearer, token) = account_with_reset_link(&app, &sink).await;
    let changed = app
        .post(
            "/api/auth/password/change",
            &json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
        )
        .bearer_auth(&bearer.access)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_problem(
        reset(&app, &token, "the attacker's chosen passphrase").await,
        400,
        "invalid_token",
    )
    .await;
    let mail = sink.wait_for(&email, 3).await;
    assert!(
        mail.iter()
            .any(|m| m.subject == "Your Portcullis password was changed")
    );
}

#[tokio::test]
async fn a_reset_link_is_not_a_verification_link_nor_the_reverse() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let (email, _, reset_token) = account_with_reset_link(&app, &sink).await;
    let verify_token = sink.to(&email)[0].token();
    let as_verification = app
        .post("/api/auth/email/verify", &json!({ "token": reset_token }))
        .send()
        .await
        .unwrap();
    assert_problem(as_verification, 400, "invalid_token").await;
    assert_problem(
        reset(&app, &verify_token, NEW_PASSWORD).await,
        400,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn endpoints_of_emailed_links_refuse_cross_site_browsers() {
    let app = spawn_app().await;
    let token = "A".repeat(43);
    for (path, body) in [
        (
            "/api/auth/password/forgot",
            json!({"email": unique_email()}),
        ),
        (
            "/api/auth/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        ),
        ("/api/auth/email/verify", json!({"token": token})),
        (
            "/api/auth/email/verify/resend",
            json!({"email": unique_email()}),
        ),
    ] {
        let foreign = app
            .post(path, &body)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_problem(foreign, 403, "csrf_failed").await;
        let cross_site = app
            .post(path, &body)
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_problem(cross_site, 403, "csrf_failed").await;
        let same_origin = app
            .post(path, &body)
            .header("origin", "http://localhost:8080")
            .send()
            .await
            .unwrap();
        assert_ne!(same_origin.status(), StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn when_mail_work_is_full_every_caller_gets_503_and_nothing_is_dropped() {
    let app = spawn_app_with(|c| c.operations.background_tasks = 1).await;
    let known = unique_email();
    app.register(&known).await;
    // Hold the database so that the one background task cannot finish.
    let mut held = app.store.begin().await.unwrap();
    if let portcullis_store::Conn::Postgres(tx) = held.conn_mut() {
        sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            .execute(&mut **tx)
            .await
            .unwrap();
    }
    assert_eq!(forgot(&app, &known).await.status(), StatusCode::ACCEPTED);
    let for_unknown = forgot(&app, &unique_email()).await;
    let for_known = forgot(&app, &known).await;
    assert_eq!(for_unknown.headers()["retry-after"], "1");
    assert_eq!(for_known.headers()["retry-after"], "1");
    let unknown_body = assert_problem(for_unknown, 503, "overloaded").await;
    let known_body = assert_problem(for_known, 503, "overloaded").await;
    assert_eq!(
        unknown_body, known_body,
        "the same answer whatever the address"
    );

    // Released, the work that was accepted finishes: its link exists, nothing was lost.
    held.commit().await.unwrap();
    app.wait_for_count(
        "SELECT COUNT(*) FROM one_time_tokens WHERE kind = 'reset_password'",
        1,
    )
    .await;
    // Its permit is returned just after the commit the count saw.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = forgot(&app, &unique_email()).await.status();
        if status == StatusCode::ACCEPTED {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "accepted again once the work is done"
    );
}
