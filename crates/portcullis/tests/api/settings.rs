//! Runtime settings: an admin's change applies at once on the node that made it and within
//! 10 s on the others, is reflected by `/api/auth/config`, resets with `null`, is audited, and
//! invalid changes are refused whole.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn patch(app: &TestApp, admin: &str, body: Value) -> reqwest::Response {
    app.patch("/api/admin/settings")
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn public_config(app: &TestApp) -> Value {
    app.get("/api/auth/config")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// An app with a provider `corp` configured (never contacted: the tests only switch it).
async fn app_with_a_provider() -> TestApp {
    spawn_app_with(|config| {
        let keys = [
            ("oauth_providers", "corp"),
            ("oauth_corp_client_id", "id"),
            ("oauth_corp_client_secret", "secret"),
            ("oauth_corp_issuer", "http://127.0.0.1:9"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        config.oauth = portcullis::config::OauthConfig::from_keys(&keys).unwrap();
    })
    .await
}

#[tokio::test]
async fn closing_registration_applies_at_once_and_null_restores_the_default() {
    let app = app_with_a_provider().await;
    let admin = app.admin().await.access;
    let current: Value = app
        .get("/api/admin/settings")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["registration_open"], true);
    assert_eq!(current["providers"], json!({"corp": true}));
    assert_eq!(current["defaults"]["registration_open"], true);

    let closed = patch(&app, &admin, json!({"registration_open": false})).await;
    assert_eq!(closed.status(), StatusCode::OK);
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(closed["registration_open"], false);
    assert_eq!(closed["defaults"]["registration_open"], true);
    assert_eq!(public_config(&app).await["registration_open"], false);
    let refused = app.register_with(&unique_email(), PASSWORD).await;
    assert_problem(refused, 403, "registration_disabled").await;

    let reopened = patch(&app, &admin, json!({"registration_open": null})).await;
    assert_eq!(reopened.status(), StatusCode::OK);
    assert_eq!(public_config(&app).await["registration_open"], true);
    app.register(&unique_email()).await;
    assert_eq!(
        app.scalar("SELECT count(*) FROM audit_events WHERE action = 'admin.settings_changed'")
            .await,
        2
    );
}

#[tokio::test]
async fn password_sign_in_providers_and_verification_follow_their_switches() {
    let app = app_with_a_provider().await;
    let admin = app.admin().await.access;
    let email = unique_email();
    app.register(&email).await;

    assert_eq!(
        patch(&app, &admin, json!({"password_login": false}))
            .await
            .status(),
        200
    );
    assert_problem(app.login(&email, PASSWORD).await, 403, "method_disabled").await;
    assert_eq!(public_config(&app).await["password_login"], false);
    patch(&app, &admin, json!({"password_login": true})).await;
    assert_eq!(app.login(&email, PASSWORD).await.status(), 200);

    assert_eq!(
        patch(&app, &admin, json!({"email_verification_required": true}))
            .await
            .status(),
        200
    );
    assert_problem(app.login(&email, PASSWORD).await, 403, "email_not_verified").await;
    patch(&app, &admin, json!({"email_verification_required": null})).await;

    assert_eq!(
        patch(&app, &admin, json!({"providers": {"corp": false}}))
            .await
            .status(),
        200
    );
    assert_eq!(public_config(&app).await["providers"], json!([]));
    let start = app.get("/api/auth/oauth/corp/start").send().await.unwrap();
    assert_problem(start, 404, "not_found").await;
    patch(&app, &admin, json!({"providers": {"corp": null}})).await;
    assert_eq!(public_config(&app).await["providers"][0]["name"], "corp");
}

#[tokio::test]
async fn an_invalid_change_is_refused_whole() {
    let app = app_with_a_provider().await;
    let admin = app.admin().await.access;
    let refused = patch(
        &app,
        &admin,
        json!({"registration_open": false, "colour": "blue", "password_login": "no", "providers": {"github": true}}),
    )
    .await;
    let body = assert_problem(refused, 422, "validation_failed").await;
    assert_eq!(body["fields"]["colour"], "unknown_setting");
    assert_eq!(body["fields"]["password_login"], "invalid");
    assert_eq!(body["fields"]["providers"], "invalid");
    assert_eq!(
        public_config(&app).await["registration_open"],
        true,
        "nothing changed"
    );
    let user = app.register(&unique_email()).await;
    let forbidden = patch(&app, &user.access, json!({"registration_open": false})).await;
    assert_problem(forbidden, 403, "forbidden").await;
}

#[tokio::test]
async fn quiet_sign_up_keeps_verification_required() {
    let app = spawn_app_with(|config| {
        config.accounts.quiet_signup = true;
        config.accounts.require_email_verification = Some(true);
    })
    .await;
    let admin = app.admin().await.access;
    let refused = patch(&app, &admin, json!({"email_verification_required": false})).await;
    let body = assert_problem(refused, 422, "validation_failed").await;
    assert_eq!(
        body["fields"]["email_verification_required"],
        "needed_by_quiet_signup"
    );
}

#[tokio::test]
async fn another_node_follows_within_ten_seconds() {
    let a = spawn_app().await;
    let b = a.second_node().await;
    let admin = a.admin().await.access;
    patch(&a, &admin, json!({"registration_open": false})).await;
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = public_config(&b).await["registration_open"].clone();
        if seen == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, false, "node B within 10 s");
}
