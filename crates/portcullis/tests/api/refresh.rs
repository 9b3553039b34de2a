//! Refresh-token rotation, reuse detection and the grace window.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

pub async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/api/auth/refresh", &json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_dies() {
    let app = spawn_app().await;
    let first = app.register(&unique_email()).await;
    let response = refresh(&app, &first.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let second = body["refresh_token"].as_str().unwrap();
    assert_ne!(second, first.refresh);
    assert_eq!(
        app.me(body["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        refresh(&app, &first.refresh).await,
        401,
        "refresh_token_reused",
    )
    .await;
    assert_eq!(
        refresh(&app, second).await.status(),
        StatusCode::OK,
        "replay in grace spares the session"
    );
}

#[tokio::test]
async fn replay_beyond_the_grace_window_revokes_the_session() {
    let app = spawn_app().await;
    let first = app.register(&unique_email()).await;
    let body: Value = refresh(&app, &first.refresh).await.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let child = body["refresh_token"].as_str().unwrap().to_owned();
    app.clock.advance_ms(11_000);
    assert_problem(
        refresh(&app, &first.refresh).await,
        401,
        "refresh_token_reused",
    )
    .await;
    // The whole family is dead: the child token and the access token of the session.
    assert_problem(refresh(&app, &child).await, 401, "invalid_refresh_token").await;
    assert_eq!(app.me(&access).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn concurrent_refreshes_never_fork_the_family() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let attempts = (0..12).map(|_| refresh(&app, &tokens.refresh));
    let responses = futures::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for response in responses {
        match response.status() {
            StatusCode::OK => winners.push(response.json::<Value>().await.unwrap()),
            _ => {
                assert_problem(response, 401, "refresh_token_reused").await;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh succeeds");
    let child = winners[0]["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&app, child).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_and_malformed_refresh_tokens_are_invalid() {
    let app = spawn_app().await;
    assert_problem(refresh(&app, "nope").await, 401, "invalid_refresh_token").await;
    let lookalike = "A".repeat(43);
    assert_problem(
        refresh(&app, &lookalike).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn refresh_extends_an_idle_session_but_not_past_its_lifetime() {
    let app = spawn_app_with(|c| {
        c.sessions.session_idle_timeout = std::time::Duration::from_secs(3600);
        c.sessions.session_lifetime = std::time::Duration::from_secs(3 * 3600);
    })
    .await;
    let mut token = app.register(&unique_email()).await.refresh;
    for _ in 0..2 {
        app.clock.advance_ms(50 * 60 * 1000);
        let body: Value = refresh(&app, &token).await.json().await.unwrap();
        token = body["refresh_token"]
            .as_str()
            .expect("refreshed while active")
            .to_owned();
    }
    // Idle for longer than the idle timeout.
    app.clock.advance_ms(61 * 60 * 1000);
    assert_problem(refresh(&app, &token).await, 401, "invalid_refresh_token").await;

    let mut token = app
        .login_bearer(&unique_email_registered(&app).await)
        .await
        .refresh;
    for _ in 0..3 {
        app.clock.advance_ms(55 * 60 * 1000);
        let response = refresh(&app, &token).await;
        assert_eq!(response.status(), StatusCode::OK, "inside the 3 h lifetime");
        token = response.json::<Value>().await.unwrap()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    app.clock.advance_ms(20 * 60 * 1000);
    assert_problem(refresh(&app, &token).await, 401, "invalid_refresh_token").await;
}

async fn unique_email_registered(app: &TestApp) -> String {
    let email = unique_email();
    app.register(&email).await;
    email
}
