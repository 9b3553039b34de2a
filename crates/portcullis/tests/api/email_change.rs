//! Email change against a real SMTP server: the current password is required; the link
//! goes to the new address and a notice to the old; the address changes only when the link
//! is used, and only if nobody registered it meanwhile.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn request_change(
    app: &TestApp,
    access: &str,
    new_email: &str,
    password: &str,
) -> reqwest::Response {
    app.post(
        "/api/auth/email/change",
        &json!({ "new_email": new_email, "password": password }),
    )
    .bearer_auth(access)
    .send()
    .await
    .unwrap()
}

async fn use_link(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/api/auth/email/verify", &json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_address_changes_only_when_the_link_to_it_is_used() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let old = unique_email();
    let tokens = app.register(&old).await;
    let new = unique_email();

    let wrong = request_change(&app, &tokens.access, &new, "not my password at all").await;
    assert_problem(wrong, 401, "invalid_credentials").await;
    let anonymous = app
        .post(
            "/api/auth/email/change",
            &json!({ "new_email": new, "password": PASSWORD }),
        )
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthenticated").await;
    let same = request_change(&app, &tokens.access, &old.to_uppercase(), PASSWORD).await;
    assert_problem(same, 422, "validation_failed").await;

    let accepted = request_change(&app, &tokens.access, &new, PASSWORD).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let link = sink.wait_for(&new, 1).await.remove(0);
    assert_eq!(link.subject, "Confirm your new email for Portcullis");
    let notice = sink.wait_for(&old, 2).await.remove(1);
    assert_eq!(
        notice.subject,
        "Your Portcullis email address is being changed"
    );
    assert!(
        notice.text.contains(&new),
        "the notice names the new address"
    );
    assert!(
        !notice.text.contains("token="),
        "the old address gets no link"
    );

    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(
        me["email"],
        old.as_str(),
        "nothing changes before the link is used"
    );
    assert_eq!(
        app.login(&new, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let used = use_link(&app, &link.token()).await;
    assert_eq!(used.status(), StatusCode::OK);
    let body: Value = used.json().await.unwrap();
    assert_eq!(body["email"], new.as_str());
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(
        (&me["email"], &me["email_verified"]),
        (&json!(new), &json!(true))
    );
    assert_eq!(app.login(&new, PASSWORD).await.status(), StatusCode::OK);
    assert_problem(app.login(&old, PASSWORD).await, 401, "invalid_credentials").await;
    assert_problem(use_link(&app, &link.token()).await, 400, "invalid_token").await;
}

#[tokio::test]
async fn an_address_registered_meanwhile_cannot_be_taken() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let old = unique_email();
    let tokens = app.register(&old).await;
    let contested = unique_email();
    let accepted = request_change(&app, &tokens.access, &contested, PASSWORD).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let token = sink.wait_for(&contested, 1).await[0].token();

    app.register(&contested.to_uppercase()).await;
    assert_problem(use_link(&app, &token).await, 409, "email_taken").await;
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["email"], old.as_str());

    let taken = request_change(&app, &tokens.access, &contested, PASSWORD).await;
    assert_problem(taken, 409, "email_taken").await;
}

#[tokio::test]
async fn a_verification_link_for_an_old_address_verifies_nothing() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let old = unique_email();
    let tokens = app.register(&old).await;
    let old_link = sink.wait_for(&old, 1).await[0].token();
    let new = unique_email();
    request_change(&app, &tokens.access, &new, PASSWORD).await;
    let change_link = sink.wait_for(&new, 1).await[0].token();
    assert_eq!(use_link(&app, &change_link).await.status(), StatusCode::OK);
    // The sign-up link went to the old address; it is void now.
    assert_problem(use_link(&app, &old_link).await, 400, "invalid_token").await;
}

#[tokio::test]
async fn change_requests_are_throttled_like_other_mail() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let old = unique_email();
    let tokens = app.register(&old).await;
    let targets: Vec<String> = (0..3).map(|_| unique_email()).collect();
    for target in &targets {
        let response = request_change(&app, &tokens.access, target, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    sink.wait_for(&targets[0], 1).await;
    app.outbox_settled().await;
    assert!(
        targets[1..].iter().all(|t| sink.to(t).is_empty()),
        "within the cooldown no further address is mailed"
    );
    assert_eq!(sink.to(&old).len(), 2, "the sign-up link and one notice");
}
