//! No secret at rest or in the log: the real binary runs every flow with canary passwords,
//! JSON logs at debug level and a real SMTP server; afterwards no log line, audit row or
//! outbox row holds a password, token, link or cookie the flows handled, and every log line is
//! JSON, the audit events among them.

use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const CANARY: &str = "canary-7f3a9c-correct-horse";
const CANARY_NEW: &str = "canary-7f3a9c-battery-staple";
const CANARY_ADMIN: &str = "canary-7f3a9c-admin-passphrase";

#[tokio::test]
async fn no_secret_reaches_the_log_the_audit_trail_or_the_outbox() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("portcullis-canary-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = test_config(dir.clone());
    config.database.database_url = Some(fresh_database(&dir).await.into());
    let port = free_port();
    let log_path = dir.join("server.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            config.database.database_url.as_ref().unwrap().expose(),
        )
        .env("PORTCULLIS_DATA_DIR", &dir)
        .env("PORTCULLIS_SMTP_URL", sink.url())
        .env("PORTCULLIS_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .env("PORTCULLIS_MAIL_POLL_INTERVAL", "100ms")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let app = TestApp::attach(base.clone(), config).await;
    wait_until_up(&app.client, &base).await;

    let mut secrets: Vec<String> = vec![CANARY.into(), CANARY_NEW.into(), CANARY_ADMIN.into()];
    let email = unique_email();
    let registered: Value = app
        .post(
            "/api/auth/register",
            &json!({"email": email, "password": CANARY}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user = tokens(registered);
    secrets.extend([user.access.clone(), user.refresh.clone()]);
    let verify_link = sink.wait_for(&email, 1).await[0].link();
    let verify_token = verify_link.rsplit('=').next().unwrap().to_owned();
    secrets.extend([verify_link, verify_token.clone()]);
    app.post("/api/auth/email/verify", &json!({"token": verify_token}))
        .send()
        .await
        .unwrap();

    app.login(&email, "canary-7f3a9c-a-wrong-guess").await;
    secrets.push("canary-7f3a9c-a-wrong-guess".into());
    let cookie_login = app
        .post(
            "/api/auth/login",
            &json!({"email": email, "password": CANARY, "transport": "cookie"}),
        )
        .send()
        .await
        .unwrap();
    for name in ["__Host-portcullis_session", "__Host-portcullis_csrf"] {
        secrets.push(cookie_value(&cookie_login, name).unwrap());
    }
    let refreshed: Value = app
        .post("/api/auth/refresh", &json!({"refresh_token": user.refresh}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed = tokens(refreshed);
    secrets.extend([refreshed.access.clone(), refreshed.refresh.clone()]);

    app.post("/api/auth/password/forgot", &json!({"email": email}))
        .send()
        .await
        .unwrap();
    let reset_token = sink.wait_for(&email, 2).await[1].token();
    secrets.push(reset_token.clone());
    let reset = app
        .post(
            "/api/auth/password/reset",
            &json!({"token": reset_token, "new_password": CANARY_NEW}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let signed_in = tokens(app.login(&email, CANARY_NEW).await.json().await.unwrap());
    secrets.extend([signed_in.access.clone(), signed_in.refresh.clone()]);
    let new_email = unique_email();
    app.post(
        "/api/auth/email/change",
        &json!({"new_email": new_email, "password": CANARY_NEW}),
    )
    .bearer_auth(&signed_in.access)
    .send()
    .await
    .unwrap();
    let change_token = sink.wait_for(&new_email, 1).await[0].token();
    secrets.push(change_token.clone());
    app.post("/api/auth/email/verify", &json!({"token": change_token}))
        .send()
        .await
        .unwrap();

    let admin_email = unique_email();
    assert!(
        app.create_admin(&admin_email, CANARY_ADMIN)
            .await
            .status
            .success()
    );
    let admin = tokens(
        app.login(&admin_email, CANARY_ADMIN)
            .await
            .json()
            .await
            .unwrap(),
    );
    secrets.extend([admin.access.clone(), admin.refresh.clone()]);
    let id = app.user_id(&signed_in.access).await;
    let banned = app
        .post_empty(&format!("/api/admin/users/{id}/ban"))
        .json(&json!({"reason": "canary check"}))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(banned.status(), StatusCode::OK);
    app.outbox_settled().await;

    assert!(
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(server.wait().unwrap().success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    let mut audit_actions = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|_| panic!("a log line that is not JSON: {line}"));
        if entry["target"] == "portcullis::audit" {
            audit_actions.push(entry["action"].as_str().unwrap().to_owned());
        }
    }
    for action in [
        "user.registered",
        "email.verified",
        "user.login_failed",
        "user.login_succeeded",
        "session.refreshed",
        "password.reset_requested",
        "password.reset",
        "email.changed",
        "admin.user_banned",
    ] {
        assert!(
            audit_actions.iter().any(|a| a == action),
            "no {action} audit line in the log: {audit_actions:?}"
        );
    }

    for (what, dump) in [
        ("the log", log.clone()),
        ("the audit trail", app.dump("audit_events").await),
        ("the outbox", app.dump("mail_outbox").await),
        ("the link tokens", app.dump("one_time_tokens").await),
        ("the sessions", app.dump("sessions").await),
        ("the refresh tokens", app.dump("refresh_tokens").await),
    ] {
        for secret in &secrets {
            assert!(
                !dump.contains(secret.as_str()),
                "{what} holds a secret the flows handled ({} characters)",
                secret.len()
            );
        }
    }
    assert!(
        log.len() > 10_000,
        "debug logging was on: {} bytes",
        log.len()
    );
}
