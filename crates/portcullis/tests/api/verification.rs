//! Email verification against a real SMTP server: one message per sign-up whose link
//! verifies once; expiry; a newer link voids the older; resend is enumeration-safe; sign-in
//! can require a verified address; mail survives the SMTP server being down.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/api/auth/email/verify", &json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

async fn resend(app: &TestApp, email: &str) -> reqwest::Response {
    app.post("/api/auth/email/verify/resend", &json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_up_sends_one_message_whose_link_verifies_once() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let email = unique_email();
    let tokens = app.register(&email).await;
    let mail = sink.wait_for(&email, 1).await;
    app.outbox_settled().await;
    assert_eq!(sink.to(&email).len(), 1, "exactly one message");
    let message = &mail[0];
    assert_eq!(message.subject, "Verify your email for Portcullis");
    assert!(
        message.from.contains("no-reply@localhost"),
        "{}",
        message.from
    );
    assert!(
        message
            .link()
            .starts_with("http://localhost:8080/verify-email?token="),
        "{}",
        message.link()
    );
    assert!(message.html.contains(&message.token()), "HTML part too");
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["email_verified"], false);

    let first = verify(&app, &message.token()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["email_verified"], true);
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);

    assert_problem(verify(&app, &message.token()).await, 400, "invalid_token").await;
}

#[tokio::test]
async fn unknown_malformed_and_expired_links_share_one_error() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let email = unique_email();
    app.register(&email).await;
    let token = sink.wait_for(&email, 1).await[0].token();
    let unknown = "A".repeat(43);
    for bad in [unknown.as_str(), "short", "", "../../etc/passwd"] {
        assert_problem(verify(&app, bad).await, 400, "invalid_token").await;
    }
    app.clock.advance_ms(24 * 3600 * 1000 + 1);
    let expired = assert_problem(verify(&app, &token).await, 400, "invalid_token").await;
    let unknown = assert_problem(verify(&app, &unknown).await, 400, "invalid_token").await;
    assert_eq!(
        expired, unknown,
        "nothing tells an expired link from an unknown one"
    );
}

#[tokio::test]
async fn a_newer_link_voids_the_older_and_resend_is_enumeration_safe() {
    let Some((app, sink)) =
        spawn_app_with_mail(|c| c.mail.mail_cooldown = std::time::Duration::ZERO).await
    else {
        return;
    };
    let email = unique_email();
    app.register(&email).await;
    let old = sink.wait_for(&email, 1).await[0].token();

    let nobody = unique_email();
    let for_nobody = resend(&app, &nobody).await;
    let for_user = resend(&app, &email).await;
    assert_eq!(for_nobody.status(), StatusCode::ACCEPTED);
    assert_eq!(for_user.status(), StatusCode::ACCEPTED);
    assert_eq!(
        for_nobody.json::<Value>().await.unwrap(),
        for_user.json::<Value>().await.unwrap()
    );
    let new = sink.wait_for(&email, 2).await[1].token();
    app.outbox_settled().await;
    assert!(
        sink.to(&nobody).is_empty(),
        "nothing is sent to unknown addresses"
    );
    assert_ne!(old, new);

    assert_problem(verify(&app, &old).await, 400, "invalid_token").await;
    assert_eq!(verify(&app, &new).await.status(), StatusCode::OK);

    // Once verified, a resend sends nothing, and still answers the same.
    assert_eq!(resend(&app, &email).await.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.outbox_settled().await;
    assert_eq!(sink.to(&email).len(), 2);
}

#[tokio::test]
async fn resend_is_throttled_per_account() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let email = unique_email();
    app.register(&email).await;
    sink.wait_for(&email, 1).await;
    for _ in 0..3 {
        assert_eq!(resend(&app, &email).await.status(), StatusCode::ACCEPTED);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.outbox_settled().await;
    assert_eq!(
        sink.to(&email).len(),
        1,
        "within the cooldown nothing more is sent"
    );
    app.clock.advance_ms(61_000);
    resend(&app, &email).await;
    sink.wait_for(&email, 2).await;
}

#[tokio::test]
async fn sign_in_can_require_a_verified_email() {
    let Some((app, sink)) =
        spawn_app_with_mail(|c| c.accounts.require_email_verification = Some(true)).await
    else {
        return;
    };
    let config: Value = app
        .get("/api/auth/config")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["email_verification_required"], true);
    let email = unique_email();
    let registered = app
        .post(
            "/api/auth/register",
            &json!({"email": email, "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let body: Value = registered.json().await.unwrap();
    assert_eq!(body["user"]["email"], email.as_str());
    assert!(
        body.get("access_token").is_none() && body.get("session").is_none(),
        "{body}"
    );

    // A wrong password learns nothing about the account's state.
    assert_problem(
        app.login(&email, "not the password of this account").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(app.login(&email, PASSWORD).await, 403, "email_not_verified").await;

    let token = sink.wait_for(&email, 1).await[0].token();
    assert_eq!(verify(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
}

/// The query of one message that failed its `attempts`-th attempt and waits for the next.
fn failed_attempts(attempts: i64) -> String {
    format!(
        "SELECT COUNT(*) FROM mail_outbox WHERE attempts = {attempts} AND claimed_by IS NULL
         AND last_error IS NOT NULL AND sent_at IS NULL"
    )
}

#[tokio::test]
async fn mail_queued_while_the_smtp_server_is_down_arrives_once_when_it_is_back() {
    let Some((app, mut sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    sink.down();
    let email = unique_email();
    app.register(&email).await;
    app.wait_for_count(&failed_attempts(1), 1).await;
    // The retry waits for its backoff, then fails again while the server is still down.
    app.clock.advance_ms(2 * 3600 * 1000);
    app.wait_for_count(&failed_attempts(2), 1).await;

    sink.up();
    app.clock.advance_ms(2 * 3600 * 1000);
    let mail = sink.wait_for(&email, 1).await;
    app.outbox_settled().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.to(&email).len(), 1, "delivered once, nothing lost");
    assert!(mail[0].text.contains("token="));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NOT NULL AND attempts = 3")
            .await,
        1,
        "sent on the third attempt"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM mail_outbox WHERE payload IS NOT NULL")
            .await,
        0,
        "the sealed body is dropped once sent"
    );
}

#[tokio::test]
async fn mail_is_given_up_after_the_configured_attempts() {
    let Some((app, mut sink)) = spawn_app_with_mail(|c| c.mail.mail_max_attempts = 2).await else {
        return;
    };
    sink.down();
    let email = unique_email();
    app.register(&email).await;
    app.wait_for_count(&failed_attempts(1), 1).await;
    app.clock.advance_ms(2 * 3600 * 1000);
    app.wait_for_count(
        "SELECT COUNT(*) FROM mail_outbox WHERE failed_at IS NOT NULL AND attempts = 2",
        1,
    )
    .await;
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"portcullis_mail_failures_total{kind="verify_email",final="true"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("portcullis_mail_outbox_failed"));
    sink.up();
    app.clock.advance_ms(24 * 3600 * 1000);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        sink.to(&email).is_empty(),
        "a given-up message stays given up"
    );
}

#[tokio::test]
async fn product_name_and_link_target_are_the_operators() {
    let Some((app, sink)) = spawn_app_with_mail(|c| {
        c.accounts.product_name = "Acme Accounts".into();
        c.mail.verify_email_url = Some(
            "https://app.example.com/auth/verify?from=mail"
                .parse()
                .unwrap(),
        );
        c.mail.mail_from = Some("Acme <accounts@example.com>".into());
    })
    .await
    else {
        return;
    };
    let email = unique_email();
    app.register(&email).await;
    let message = sink.wait_for(&email, 1).await.remove(0);
    assert_eq!(message.subject, "Verify your email for Acme Accounts");
    assert_eq!(message.from, "Acme <accounts@example.com>");
    assert!(
        message
            .link()
            .starts_with("https://app.example.com/auth/verify?from=mail&token="),
        "{}",
        message.link()
    );
    assert!(message.html.contains("Acme Accounts"));
    let verified = app
        .post("/api/auth/email/verify", &json!({"token": message.token()}))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), StatusCode::OK);
}
