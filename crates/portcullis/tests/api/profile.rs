//! PATCH /api/auth/me: only `name`, `username` and `image`; nothing else is ever applied.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn patch(app: &TestApp, access: &str, body: Value) -> reqwest::Response {
    app.patch("/api/auth/me")
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_user_cannot_set_their_own_role_or_email() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    for (field, value) in [
        ("role", json!("admin")),
        ("email", json!("x@example.com")),
        ("email_verified", json!(true)),
        ("banned", json!(false)),
    ] {
        let body = assert_problem(
            patch(
                &app,
                &tokens.access,
                json!({"name": "Mallory", field: value}),
            )
            .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["fields"][field], "unknown_field", "{body}");
    }
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["role"], "user");
    assert_eq!(me["name"], Value::Null, "no partial write");
}

#[tokio::test]
async fn profile_fields_update_and_clear() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let body =
        json!({"name": "Ada", "username": "ada", "image": "https://cdn.example.com/ada.png"});
    let updated: Value = patch(&app, &tokens.access, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["username"], "ada");
    let cleared: Value = patch(&app, &tokens.access, json!({"image": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["image"], Value::Null);
    assert_eq!(cleared["name"], "Ada", "absent fields are left alone");
}

#[tokio::test]
async fn invalid_profile_values_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let response = patch(
        &app,
        &tokens.access,
        json!({"name": "Ada", "image": "javascript:alert(1)"}),
    )
    .await;
    let body = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(body["fields"]["image"], "invalid_url");
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["name"], Value::Null);
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively() {
    let app = spawn_app().await;
    let first = app.register(&unique_email()).await;
    let second = app.register(&unique_email()).await;
    assert_eq!(
        patch(&app, &first.access, json!({"username": "Taken"}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        patch(&app, &second.access, json!({"username": "taken"})).await,
        409,
        "username_taken",
    )
    .await;
}
