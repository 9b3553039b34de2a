//! The database taken away from a running server: every request that needs it answers 503
//! `unavailable` at once (never 500, never a hang), and readiness names the database.
//! `tests/faults/pg_restart.py` does the same with a real PostgreSQL stopped and started.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::startup::{Application, BuildOptions};
use portcullis_core::ManualClock;
use portcullis_store::Store;
use serde_json::{Value, json};

use crate::helpers::*;

/// A server, a client's view of it, and the server's own handle on its database.
async fn spawn_app_and_its_store() -> (TestApp, Store) {
    let data_dir = std::env::temp_dir().join(format!("portcullis-test-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let mut config = test_config(data_dir.clone());
    config.database.database_url = Some(fresh_database(&data_dir).await.into());
    let options = BuildOptions {
        clock: Arc::new(ManualClock::new()),
        migrate: false,
    };
    let app = Application::build(config.clone(), options)
        .await
        .expect("server builds");
    let store = app.store();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    (TestApp::attach(base, config).await, store)
}

#[tokio::test]
async fn a_database_outage_answers_503_unavailable_not_500() {
    let (app, server_store) = spawn_app_and_its_store().await;
    let response = app
        .post(
            "/api/auth/register",
            &json!({"email": "ada@example.com", "password": PASSWORD, "transport": "bearer"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let signed_up = tokens(response.json().await.unwrap());

    server_store.close().await;

    let requests = [
        ("me", app.get("/api/auth/me").bearer_auth(&signed_up.access)),
        (
            "refresh",
            app.post(
                "/api/auth/refresh",
                &json!({"refresh_token": signed_up.refresh}),
            ),
        ),
        (
            "login",
            app.post(
                "/api/auth/login",
                &json!({"email": "ada@example.com", "password": PASSWORD}),
            ),
        ),
        (
            "register",
            app.post(
                "/api/auth/register",
                &json!({"email": "grace@example.com", "password": PASSWORD}),
            ),
        ),
        (
            "sessions",
            app.get("/api/auth/sessions").bearer_auth(&signed_up.access),
        ),
    ];
    for (name, request) in requests {
        let started = Instant::now();
        let response = request.send().await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            started.elapsed()
        );
        assert_eq!(response.headers()["retry-after"], "1", "{name}");
        let body = assert_problem(response, 503, "unavailable").await;
        assert_eq!(body["title"], "Service unavailable", "{name}");
    }

    let response = app.get("/health/ready").send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    // Redis, where configured, still answers: only the database is named.
    let mut expected = json!({"status": "unavailable", "database": "unavailable"});
    if redis_url().is_some() {
        expected["redis"] = json!("ok");
    }
    if postgres_url().is_some() {
        expected["announcements"] = json!("lost");
    }
    assert_eq!(body, expected);

    // Metrics still answer, so that a scrape tells a database outage from a dead node.
    let metrics = app.get("/metrics").send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("portcullis_database_up")
    );
}

/// A message sent again after a crash (the SMTP server accepted it, the process died before
/// recording that) must be recognisably the same message: its Message-ID is its outbox
/// row's, not one made up at each attempt.
#[tokio::test]
async fn a_message_carries_the_message_id_of_its_outbox_row() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let email = unique_email();
    app.register(&email).await;
    let mail = sink.wait_for(&email, 1).await;
    app.outbox_settled().await;
    let outbox = app.dump("mail_outbox").await;
    let id = outbox.split('|').next().unwrap();
    assert_eq!(mail[0].message_id, format!("<{id}@localhost>"));
}
