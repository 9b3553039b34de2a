//! RFC 7662 introspection: off unless configured, authenticated by its secret, and a
//! revoked session or a banned user is inactive at once.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn introspection_app() -> TestApp {
    spawn_app_with(|c| c.tokens.introspection_secret = Some(INTROSPECTION_SECRET.into())).await
}

fn introspect(app: &TestApp, token: &str) -> RequestBuilder {
    app.post_empty("/api/auth/introspect")
        .bearer_auth(INTROSPECTION_SECRET)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&token_type_hint=access_token"))
}

async fn active(app: &TestApp, token: &str) -> Value {
    let response = introspect(app, token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn introspection_is_off_unless_configured() {
    let app = spawn_app().await;
    let response = app
        .post("/api/auth/introspect", &json!({"token": "x"}))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
}

#[tokio::test]
async fn callers_must_present_the_secret() {
    let app = introspection_app().await;
    let body = json!({"token": "x"});
    assert_problem(
        app.post("/api/auth/introspect", &body)
            .send()
            .await
            .unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    let wrong = app
        .post("/api/auth/introspect", &body)
        .bearer_auth("not-the-secret")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401, "unauthenticated").await;
    let ok = app
        .post("/api/auth/introspect", &body)
        .bearer_auth(INTROSPECTION_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.json::<Value>().await.unwrap(), json!({"active": false}));
}

#[tokio::test]
async fn access_and_refresh_tokens_are_active_until_revoked() {
    let app = introspection_app().await;
    let tokens = app.register(&unique_email()).await;
    let access = active(&app, &tokens.access).await;
    assert_eq!(access["active"], true);
    assert_eq!(access["token_type"], "access_token");
    assert_eq!(access["sid"], tokens.session_id);
    let refresh = active(&app, &tokens.refresh).await;
    assert_eq!(refresh["active"], true);
    assert_eq!(refresh["token_type"], "refresh_token");

    let logout = app
        .post_empty("/api/auth/logout")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    // Same instant on the injected clock: revocation is visible at once.
    assert_eq!(active(&app, &tokens.access).await, json!({"active": false}));
    assert_eq!(
        active(&app, &tokens.refresh).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn used_refresh_tokens_and_forgeries_are_inactive() {
    let app = introspection_app().await;
    let tokens = app.register(&unique_email()).await;
    let refreshed = app
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": tokens.refresh}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert_eq!(active(&app, &tokens.refresh).await["active"], false);
    let mut tampered = tokens.access.clone();
    tampered.insert(tampered.len() - 3, 'x');
    assert_eq!(active(&app, &tampered).await["active"], false);
    // JSON bodies are accepted as well as forms.
    let json_body = app
        .post("/api/auth/introspect", &json!({"token": tokens.access}))
        .bearer_auth(INTROSPECTION_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.json::<Value>().await.unwrap()["active"], true);
}

#[tokio::test]
async fn banned_users_tokens_are_inactive() {
    let app = introspection_app().await;
    let tokens = app.register(&unique_email()).await;
    app.execute("UPDATE users SET banned = TRUE").await;
    assert_eq!(active(&app, &tokens.access).await, json!({"active": false}));
    assert_eq!(
        active(&app, &tokens.refresh).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn discovery_lists_introspection_when_on() {
    let app = introspection_app().await;
    let doc: Value = app
        .get("/.well-known/openid-configuration")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["introspection_endpoint"],
        "http://localhost:8080/api/auth/introspect"
    );
}
