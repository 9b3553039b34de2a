use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn register_signs_in_and_me_returns_the_user() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/auth/register",
            &json!({"email": "Ada@Example.com", "password": PASSWORD, "name": "Ada"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "Ada@example.com");
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["session"]["current"], true);
    let me = app.me(body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    for field in [
        "id",
        "email",
        "email_verified",
        "name",
        "username",
        "image",
        "role",
        "created_at",
        "last_login_at",
        "banned",
    ] {
        assert!(me.get(field).is_some(), "missing {field}");
    }
    assert_eq!(me["name"], "Ada");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let wrong = assert_problem(
        app.login(&email, "not the right password at all").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        app.login(&unique_email(), PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn email_is_matched_case_insensitively_at_sign_in() {
    let app = spawn_app().await;
    app.register("grace.hopper@example.com").await;
    assert_eq!(
        app.login("GRACE.HOPPER@EXAMPLE.COM", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn duplicate_email_in_another_case_is_refused() {
    let app = spawn_app().await;
    app.register("linus@example.com").await;
    let response = app
        .post(
            "/api/auth/register",
            &json!({"email": "LINUS@example.COM", "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, "email_taken").await;
}

#[tokio::test]
async fn look_alike_and_malformed_emails_are_refused() {
    let app = spawn_app().await;
    for email in ["alice＠example.com", "alice@ехample.com", "not-an-email"] {
        let response = app
            .post(
                "/api/auth/register",
                &json!({"email": email, "password": PASSWORD}),
            )
            .send()
            .await
            .unwrap();
        let body = assert_problem(response, 422, "validation_failed").await;
        assert!(body["fields"]["email"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn registration_can_be_closed() {
    let app = spawn_app_with(|c| c.accounts.registration_open = false).await;
    let response = app
        .post(
            "/api/auth/register",
            &json!({"email": unique_email(), "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "registration_disabled").await;
    let config: Value = app
        .get("/api/auth/config")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["registration_open"], false);
}

#[tokio::test]
async fn sign_in_by_username() {
    let app = spawn_app().await;
    let email = unique_email();
    let tokens = app.register(&email).await;
    app.set_username(&tokens.access, "ada_l").await;
    let response = app
        .post(
            "/api/auth/login",
            &json!({"username": "ADA_L", "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let neither = app
        .post("/api/auth/login", &json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_problem(neither, 422, "validation_failed").await;
}

#[tokio::test]
async fn each_sign_in_is_a_new_session() {
    let app = spawn_app().await;
    let email = unique_email();
    let first = app.register(&email).await;
    let second = app.login_bearer(&email).await;
    assert_ne!(first.session_id, second.session_id);
    assert_ne!(first.refresh, second.refresh);
}

#[tokio::test]
async fn public_config_describes_the_policy() {
    let app = spawn_app().await;
    let config: Value = app
        .get("/api/auth/config")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["password_policy"]["min_length"], 15);
    assert_eq!(config["password_policy"]["max_length"], 128);
    assert_eq!(config["transports"], json!(["bearer", "cookie"]));
    assert_eq!(config["providers"], json!([]));
}

#[tokio::test]
async fn saturated_hash_pool_answers_503_with_retry_after() {
    // One slow hash at a time and no queue: concurrent sign-ins beyond the first are shed.
    let app = spawn_app_with(|c| {
        c.passwords.hash_workers = Some(1);
        c.passwords.hash_queue = Some(0);
        c.passwords.hash_memory_kib = 64 * 1024;
        c.passwords.hash_iterations = 8;
    })
    .await;
    let emails: Vec<String> = (0..6).map(|_| unique_email()).collect();
    let attempts = emails.iter().map(|email| app.login(email, PASSWORD));
    let responses = futures::future::join_all(attempts).await;
    let shed: Vec<_> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!shed.is_empty(), "expected at least one 503");
    assert_eq!(shed[0].headers()["retry-after"], "1");
    assert!(
        responses
            .iter()
            .any(|r| r.status() == StatusCode::UNAUTHORIZED),
        "the admitted one is answered"
    );
}

/// A sign-in with a slow hash (about a second here), so that a change can land while the
/// password is being verified.
async fn slow_sign_in(app: &TestApp, email: &str) -> tokio::task::JoinHandle<reqwest::Response> {
    let request = app.post(
        "/api/auth/login",
        &json!({"email": email, "password": PASSWORD}),
    );
    let started = tokio::spawn(async move { request.send().await.unwrap() });
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    started
}

#[tokio::test]
async fn a_password_change_or_ban_during_verification_wins_over_the_sign_in() {
    let app = spawn_app_with(|c| {
        c.passwords.hash_memory_kib = 65536;
        c.passwords.hash_iterations = 12;
    })
    .await;
    let email = unique_email();
    let tokens = app.register(&email).await;
    let id = app.user_id(&tokens.access).await;

    // The password is replaced (as a reset would) while the sign-in verifies the old one.
    let signing_in = slow_sign_in(&app, &email).await;
    app.execute(&format!(
        "UPDATE credentials SET password_hash = 'replaced-by-a-reset' WHERE user_id = '{id}'"
    ))
    .await;
    assert_problem(signing_in.await.unwrap(), 401, "invalid_credentials").await;
    let sessions_made_after = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM sessions WHERE user_id = '{id}' AND id <> '{}'",
            tokens.session_id
        ))
        .await;
    assert_eq!(sessions_made_after, 0, "no session outlives the reset");

    // A ban lands while the password (correct again) is being verified.
    let other = unique_email();
    let other_tokens = app.register(&other).await;
    let other_id = app.user_id(&other_tokens.access).await;
    let signing_in = slow_sign_in(&app, &other).await;
    app.execute(&format!(
        "UPDATE users SET banned = TRUE, ban_reason = 'mid-flight' WHERE id = '{other_id}'"
    ))
    .await;
    assert_problem(signing_in.await.unwrap(), 403, "user_banned").await;
}
