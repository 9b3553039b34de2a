//! Quiet sign-up (`PORTCULLIS_QUIET_SIGNUP`): the answer, its headers and the work done before
//! it are the same for a new address and a taken one; the owner of a taken one is told by
//! mail, with a reset link, instead of getting a second account.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::reset::reset;

const OTHER_PASSWORD: &str = "an entirely different passphrase";

/// An app with quiet sign-up and a real SMTP server; `None` where none can run.
async fn quiet_app() -> Option<(TestApp, SmtpSink)> {
    spawn_app_with_mail(|config| {
        config.accounts.quiet_signup = true;
        config.accounts.require_email_verification = Some(true);
    })
    .await
}

/// Status, headers (but the date and request id, which differ for every answer) and body.
async fn shape(response: reqwest::Response) -> (StatusCode, Vec<(String, String)>, Value) {
    let status = response.status();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (status, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn a_taken_address_gets_the_same_answer_and_its_owner_a_note() {
    let Some((app, sink)) = quiet_app().await else {
        return;
    };
    let email = unique_email();
    let first = shape(app.register_with(&email, PASSWORD).await).await;
    let verify = sink.wait_for(&email, 1).await;
    assert!(
        verify[0].subject.starts_with("Verify your email"),
        "{}",
        verify[0].subject
    );

    let again = shape(app.register_with(&email, OTHER_PASSWORD).await).await;
    assert_eq!(first, again, "a new and a taken address are answered alike");
    assert_eq!(first.0, StatusCode::ACCEPTED);
    assert!(first.1.iter().all(|(name, _)| name != "set-cookie"));
    let mail = sink.wait_for(&email, 2).await;
    let note = mail
        .iter()
        .find(|m| m.subject.starts_with("You already have"))
        .expect("a note to the owner");
    assert!(note.link().contains("/reset-password?token="));

    // One account, with the first password; the second did nothing.
    let count = app
        .scalar(&format!(
            "SELECT count(*) FROM users WHERE email = '{email}'"
        ))
        .await;
    assert_eq!(count, 1);
    assert_problem(
        app.login(&email, OTHER_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(app.login(&email, PASSWORD).await, 403, "email_not_verified").await;

    // Within the mail cooldown a third attempt mails nothing more.
    assert_eq!(
        app.register_with(&email, OTHER_PASSWORD).await.status(),
        StatusCode::ACCEPTED
    );
    app.outbox_settled().await;
    assert_eq!(sink.to(&email).len(), 2);

    // The note's link resets the password (and proves the address).
    assert_eq!(
        reset(&app, &note.token(), OTHER_PASSWORD).await.status(),
        204
    );
    assert_eq!(app.login(&email, OTHER_PASSWORD).await.status(), 200);
    let denied = app
        .scalar("SELECT count(*) FROM audit_events WHERE action = 'user.registered' AND outcome = 'denied'")
        .await;
    assert_eq!(denied, 2, "each attempt on a taken address is recorded");
}

#[tokio::test]
async fn invalid_input_is_refused_alike_for_new_and_taken_addresses() {
    let Some((app, sink)) = quiet_app().await else {
        return;
    };
    let taken = unique_email();
    assert_eq!(app.register_with(&taken, PASSWORD).await.status(), 202);
    sink.wait_for(&taken, 1).await;
    let for_taken = shape(app.register_with(&taken, "short").await).await;
    let for_new = shape(app.register_with(&unique_email(), "short").await).await;
    assert_eq!(for_taken, for_new);
    assert_eq!(for_taken.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(for_taken.2["fields"]["password"], "too_short");
}
