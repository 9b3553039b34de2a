//! Changes that race each other: a password or email change that started before a reset
//! must not commit after it, and anonymous requests with bogus tokens must not hold the
//! writer while sign-ups wait.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::reset::{account_with_reset_link, reset};

const RESET_PASSWORD: &str = "the owner's passphrase after the reset";
const ATTACKER_PASSWORD: &str = "the attacker's passphrase of choice";

/// An app whose hashes take long enough (a third of a second each here) to land a reset
/// inside a change, with a real SMTP server for the reset link.
async fn slow_app() -> Option<(TestApp, SmtpSink)> {
    spawn_app_with_mail(|c| {
        c.passwords.hash_memory_kib = 32768;
        c.passwords.hash_iterations = 8;
    })
    .await
}

/// `request` sent in the background, given a head start so that it is hashing when the
/// caller goes on.
async fn started(request: reqwest::RequestBuilder) -> tokio::task::JoinHandle<reqwest::Response> {
    let handle = tokio::spawn(async move { request.send().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle
}

/// Stores, behind the API's back, a hash of the same password that costs three times as
/// much to check as the app's own (and no more than imported hashes may), so that a check of
/// it outlasts a reset's hashing by a wide margin.
async fn make_checks_slow(app: &TestApp, user_id: &str) {
    use portcullis_core::{HashParams, Password, PasswordHasher};
    let hash = tokio::task::spawn_blocking(|| {
        let params = HashParams {
            memory_kib: 65536,
            iterations: 12,
            parallelism: 1,
        };
        let password = Password::for_verification(PASSWORD).unwrap();
        PasswordHasher::new(params)
            .unwrap()
            .hash(&password)
            .unwrap()
    })
    .await
    .unwrap();
    app.execute(&format!(
        "UPDATE credentials SET password_hash = '{hash}' WHERE user_id = '{user_id}'"
    ))
    .await;
}

#[tokio::test]
async fn a_password_change_overtaken_by_a_reset_changes_nothing() {
    let Some((app, sink)) = slow_app().await else {
        return;
    };
    let (email, stolen, token) = account_with_reset_link(&app, &sink).await;
    make_checks_slow(&app, &app.user_id(&stolen.access).await).await;

    // Someone holding a stolen session changes the password; the owner resets meanwhile.
    let change = started(
        app.post(
            "/api/auth/password/change",
            &json!({ "current_password": PASSWORD, "new_password": ATTACKER_PASSWORD }),
        )
        .bearer_auth(&stolen.access),
    )
    .await;
    let reset = reset(&app, &token, RESET_PASSWORD).await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);

    assert_problem(change.await.unwrap(), 401, "unauthenticated").await;
    assert_eq!(
        app.login(&email, RESET_PASSWORD).await.status(),
        StatusCode::OK,
        "the reset's password stands"
    );
    assert_problem(
        app.login(&email, ATTACKER_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn an_email_change_overtaken_by_a_reset_sends_no_link() {
    let Some((app, sink)) = slow_app().await else {
        return;
    };
    let (email, stolen, token) = account_with_reset_link(&app, &sink).await;
    let id = app.user_id(&stolen.access).await;
    make_checks_slow(&app, &id).await;

    let change = started(
        app.post(
            "/api/auth/email/change",
            &json!({ "new_email": unique_email(), "password": PASSWORD }),
        )
        .bearer_auth(&stolen.access),
    )
    .await;
    let reset = reset(&app, &token, RESET_PASSWORD).await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);

    assert_problem(change.await.unwrap(), 401, "unauthenticated").await;
    let links = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM one_time_tokens WHERE user_id = '{id}'"
        ))
        .await;
    assert_eq!(
        links, 0,
        "the reset voided every link and none came after it"
    );
    assert_eq!(
        app.login(&email, RESET_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_flood_of_bogus_tokens_does_not_hold_up_sign_ups() {
    let app = spawn_app().await;
    let bogus = "A".repeat(43);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let flood = |path: &'static str, body: serde_json::Value| {
        let client = client.clone();
        let url = app.url(path);
        tokio::spawn(async move {
            for _ in 0..400 {
                let status = client.post(&url).json(&body).send().await.unwrap().status();
                assert!(status.is_client_error(), "{path}: {status}");
            }
        })
    };
    let floods: Vec<_> = (0..4)
        .flat_map(|_| {
            [
                flood("/api/auth/refresh", json!({ "refresh_token": bogus })),
                flood("/api/auth/email/verify", json!({ "token": bogus })),
            ]
        })
        .collect();
    // Each sign-up must be answered within the client's bound, none refused.
    for _ in 0..10 {
        let response = client
            .post(app.url("/api/auth/register"))
            .json(&json!({ "email": unique_email(), "password": PASSWORD }))
            .send()
            .await
            .expect("a sign-up answered within 10 s during the flood");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for flood in floods {
        flood.await.unwrap();
    }
}
