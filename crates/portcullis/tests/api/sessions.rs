//! Listing and revoking sessions; revocation is immediate for both transports.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::refresh::refresh;

async fn list(app: &TestApp, access: &str) -> Vec<Value> {
    let body: Value = app
        .get("/api/auth/sessions")
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["sessions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_marked() {
    let app = spawn_app().await;
    let email = unique_email();
    let first = app.register(&email).await;
    app.login_cookie(&email).await;
    let sessions = list(&app, &first.access).await;
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], first.session_id);
    for field in [
        "id",
        "created_at",
        "last_seen_at",
        "expires_at",
        "ip",
        "user_agent",
        "current",
    ] {
        assert!(current[0].get(field).is_some(), "missing {field}");
    }
    assert_eq!(current[0]["ip"], "127.0.0.1");
}

#[tokio::test]
async fn bearer_logout_takes_effect_at_once() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let response = app
        .post_empty("/api/auth/logout")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.me(&tokens.access).await, 401, "unauthenticated").await;
    let refresh = app
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": tokens.refresh}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(refresh, 401, "invalid_refresh_token").await;
    let again = app
        .post_empty("/api/auth/logout")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_problem(again, 401, "unauthenticated").await;
}

#[tokio::test]
async fn revoking_a_session_kills_it_everywhere() {
    let app = spawn_app().await;
    let email = unique_email();
    let keeper = app.register(&email).await;
    let cookies = app.login_cookie(&email).await;
    let url = app.url(&format!("/api/auth/sessions/{}", cookies.session_id));
    let response = app
        .client
        .delete(url)
        .bearer_auth(&keeper.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.me_cookie(&cookies).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.me(&keeper.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn another_users_session_id_is_not_found() {
    let app = spawn_app().await;
    let mallory = app.register(&unique_email()).await;
    let victim = app.register(&unique_email()).await;
    for id in [
        victim.session_id.as_str(),
        "01900000-0000-7000-8000-000000000000",
        "not-an-id",
    ] {
        let url = app.url(&format!("/api/auth/sessions/{id}"));
        let response = app
            .client
            .delete(url)
            .bearer_auth(&mallory.access)
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "not_found").await;
    }
    assert_eq!(app.me(&victim.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoke_all_keeps_the_current_session_by_default() {
    let app = spawn_app().await;
    let email = unique_email();
    let current = app.register(&email).await;
    let other = app.login_bearer(&email).await;
    let response = app
        .delete("/api/auth/sessions")
        .bearer_auth(&current.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&current.access).await.status(), StatusCode::OK);
    assert_eq!(
        app.me(&other.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let all = app
        .delete("/api/auth/sessions?keep_current=false")
        .bearer_auth(&current.access)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.me(&current.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_query_parameters_are_422() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let response = app
        .delete("/api/auth/sessions?keep_current=maybe")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "validation_failed").await;
    assert_eq!(app.me(&tokens.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_even_when_used() {
    let app = spawn_app_with(|c| {
        c.sessions.session_idle_timeout = std::time::Duration::from_secs(3600);
        c.sessions.session_lifetime = std::time::Duration::from_secs(2 * 3600);
    })
    .await;
    let email = unique_email();
    app.register(&email).await;
    let cookies = app.login_cookie(&email).await;
    for _ in 0..2 {
        app.clock.advance_ms(50 * 60 * 1000);
        assert_eq!(app.me_cookie(&cookies).await.status(), StatusCode::OK);
    }
    app.clock.advance_ms(21 * 60 * 1000);
    assert_eq!(
        app.me_cookie(&cookies).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn ended_sessions_and_used_refresh_tokens_are_pruned_after_the_reuse_window() {
    let app = spawn_app_with(|c| {
        c.sessions.session_idle_timeout = std::time::Duration::from_secs(30 * 86_400);
        c.sessions.session_lifetime = std::time::Duration::from_secs(60 * 86_400);
        c.operations.prune_interval = std::time::Duration::from_millis(100);
    })
    .await;
    let email = unique_email();
    let revoked = app.register(&email).await;
    let logout = app
        .post_empty("/api/auth/logout")
        .bearer_auth(&revoked.access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    // A client that loops on refresh: three used tokens, then the live one.
    let mut live = app.login_bearer(&email).await;
    for _ in 0..3 {
        let refreshed = refresh(&app, &live.refresh).await;
        live = tokens(refreshed.json().await.unwrap());
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM refresh_tokens").await, 5);

    app.clock.advance_ms(8 * 86_400 * 1000);
    app.wait_for_count("SELECT COUNT(*) FROM sessions", 1).await;
    app.wait_for_count("SELECT COUNT(*) FROM refresh_tokens", 1)
        .await;
    // The family's live token outlived its pruned ancestors.
    let refreshed = refresh(&app, &live.refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test]
async fn session_lists_are_bounded() {
    let app = spawn_app().await;
    let first = app.register(&unique_email()).await;
    let id = app.user_id(&first.access).await;
    let limit = portcullis_store::MAX_LISTED_SESSIONS;
    // Older sessions beyond the bound, written behind the API's back.
    for n in 0..limit {
        app.execute(&format!(
            "INSERT INTO sessions (id, user_id, transport, created_at, last_seen_at, expires_at)
             SELECT '{}', user_id, 'bearer', created_at - {n} - 1, last_seen_at, expires_at
             FROM sessions WHERE user_id = '{id}' AND id = '{}'",
            uuid::Uuid::now_v7(),
            first.session_id
        ))
        .await;
    }
    let listed: Value = app
        .get("/api/auth/sessions")
        .bearer_auth(&first.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len() as i64, limit, "{} live", limit + 1);
    assert_eq!(
        sessions.last().unwrap()["id"],
        first.session_id,
        "the newest are listed, oldest first"
    );
}
