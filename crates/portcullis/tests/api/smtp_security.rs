//! SMTP as production uses it: STARTTLS and TLS from the first byte with a certificate to
//! trust, AUTH, and the refusals: a wrong password gives up at once, a server without
//! STARTTLS or with an untrusted certificate gets nothing, never the message in the clear.

use crate::helpers::*;
use crate::smtp::{Security, TlsMode};

const CREDENTIALS: &str = "mailer:s3cret-relay-password";

/// An app whose mail goes to `sink` through `url`, trusting the sink's certificate.
async fn app_for(sink: &SmtpSink, url: String) -> TestApp {
    let certificate = sink.certificate();
    spawn_app_with(|c| {
        c.mail.smtp_url = Some(url.into());
        c.mail.smtp_ca_file = Some(certificate);
    })
    .await
}

/// Signs up on `app`; the message `sink` receives came over TLS from an authenticated client.
async fn assert_delivered_securely(app: &TestApp, sink: &SmtpSink) {
    let email = unique_email();
    app.register(&email).await;
    let message = sink.wait_for(&email, 1).await.remove(0);
    assert!(message.tls && message.authenticated, "{message:?}");
}

/// Signs up on an app that mails through `url` (trusting no extra certificate): the first
/// attempt fails and waits to be retried, and nothing, in the clear or not, reached `sink`.
async fn assert_first_attempt_fails(url: String, sink: &SmtpSink) {
    let app = spawn_app_with(|c| c.mail.smtp_url = Some(url.into())).await;
    app.register(&unique_email()).await;
    app.wait_for_count(
        "SELECT COUNT(*) FROM mail_outbox WHERE attempts = 1 AND last_error IS NOT NULL
         AND claimed_by IS NULL AND sent_at IS NULL",
        1,
    )
    .await;
    assert!(sink.received().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn starttls_with_auth_delivers_encrypted_and_authenticated() {
    let security = Security {
        tls: Some(TlsMode::StartTls),
        auth: Some(CREDENTIALS),
    };
    let Some(sink) = SmtpSink::start_with(security) else {
        return;
    };
    let url = format!("smtp://{CREDENTIALS}@127.0.0.1:{}?tls=required", sink.port);
    assert_delivered_securely(&app_for(&sink, url).await, &sink).await;
}

#[tokio::test]
async fn tls_from_the_first_byte_delivers() {
    let security = Security {
        tls: Some(TlsMode::Implicit),
        auth: Some(CREDENTIALS),
    };
    let Some(sink) = SmtpSink::start_with(security) else {
        return;
    };
    let url = format!("smtps://{CREDENTIALS}@127.0.0.1:{}", sink.port);
    assert_delivered_securely(&app_for(&sink, url).await, &sink).await;
}

#[tokio::test]
async fn a_wrong_relay_password_gives_the_message_up_at_once() {
    let security = Security {
        tls: Some(TlsMode::StartTls),
        auth: Some(CREDENTIALS),
    };
    let Some(sink) = SmtpSink::start_with(security) else {
        return;
    };
    let url = format!("smtp://mailer:wrong@127.0.0.1:{}?tls=required", sink.port);
    let app = app_for(&sink, url).await;
    app.register(&unique_email()).await;
    // 535 is a permanent refusal: no retries, the message is marked failed on attempt one.
    app.wait_for_count(
        "SELECT COUNT(*) FROM mail_outbox WHERE failed_at IS NOT NULL AND attempts = 1",
        1,
    )
    .await;
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn required_tls_sends_nothing_to_a_server_without_it() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let url = format!("smtp://127.0.0.1:{}?tls=required", sink.port);
    assert_first_attempt_fails(url, &sink).await;
}

#[tokio::test]
async fn an_untrusted_certificate_gets_nothing() {
    let security = Security {
        tls: Some(TlsMode::StartTls),
        auth: None,
    };
    let Some(sink) = SmtpSink::start_with(security) else {
        return;
    };
    let url = format!("smtp://127.0.0.1:{}?tls=required", sink.port);
    assert_first_attempt_fails(url, &sink).await;
}
