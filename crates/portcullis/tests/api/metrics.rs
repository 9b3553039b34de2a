//! `/metrics`: Prometheus text, route templates (never raw paths), counters that move with
//! the flows, and access only from loopback or with the configured token.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// Parses the Prometheus text format into `series → value`, failing on any malformed line.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut series = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("malformed line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("malformed value in {line:?}"));
        let metric = name.split('{').next().unwrap();
        assert!(
            metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line:?}"
        );
        if name.contains('{') {
            assert!(name.ends_with('}'), "{line:?}");
        }
        series.insert(name.to_owned(), value);
    }
    series
}

async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let response = app.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    parse(&response.text().await.unwrap())
}

/// The value of the first series of `metric` whose labels include every one of `labels`.
fn value(series: &HashMap<String, f64>, metric: &str, labels: &[&str]) -> f64 {
    series
        .iter()
        .filter(|(name, _)| {
            name.split('{').next() == Some(metric) && labels.iter().all(|l| name.contains(l))
        })
        .map(|(_, v)| *v)
        .sum()
}

#[tokio::test]
async fn counters_move_with_the_flows_and_routes_are_templates() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    let email = unique_email();
    let tokens = app.register(&email).await;
    app.login(&email, "definitely not the password").await;
    app.post(
        "/api/auth/refresh",
        &json!({"refresh_token": tokens.refresh}),
    )
    .send()
    .await
    .unwrap();
    app.post(
        "/api/auth/refresh",
        &json!({"refresh_token": tokens.refresh}),
    )
    .send()
    .await
    .unwrap();
    let url = app.url("/api/auth/sessions/01900000-0000-7000-8000-000000000000");
    app.client
        .delete(url)
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    let after = scrape(&app).await;

    let moved = |metric: &str, labels: &[&str]| {
        value(&after, metric, labels) - value(&before, metric, labels)
    };
    assert!(moved("portcullis_registrations_total", &[]) >= 1.0);
    assert!(
        moved(
            "portcullis_logins_total",
            &[r#"outcome="invalid_credentials""#]
        ) >= 1.0
    );
    assert!(moved("portcullis_refreshes_total", &[r#"outcome="rotated""#]) >= 1.0);
    assert!(
        moved(
            "portcullis_refreshes_total",
            &[r#"outcome="reused_within_grace""#]
        ) >= 1.0
    );
    assert!(
        moved(
            "portcullis_http_requests_total",
            &[r#"route="/api/auth/register""#, r#"status="201""#]
        ) >= 1.0
    );
    assert!(
        moved(
            "portcullis_http_requests_total",
            &[r#"route="/api/auth/sessions/{id}""#, r#"status="404""#]
        ) >= 1.0,
        "path parameters are labelled by template"
    );
    assert!(
        after.keys().all(|k| !k.contains("01900000-0000")),
        "no raw paths in labels"
    );
    assert!(
        value(
            &after,
            "portcullis_http_request_duration_seconds_count",
            &[r#"route="/api/auth/login""#]
        ) >= 1.0
    );
    assert!(
        after
            .keys()
            .any(|k| k.starts_with("portcullis_active_sessions"))
    );
    assert!(
        after
            .keys()
            .any(|k| k.starts_with("portcullis_hash_queue_depth"))
    );
    assert!(
        moved(
            "portcullis_audit_events_total",
            &[r#"action="user.registered""#]
        ) >= 1.0
    );
    assert!(
        moved(
            "portcullis_audit_events_total",
            &[r#"action="user.login_failed""#]
        ) >= 1.0
    );
    for gauge in [
        "portcullis_mail_outbox_pending",
        "portcullis_mail_outbox_failed",
    ] {
        assert!(after.contains_key(gauge), "{gauge} missing");
    }
}

#[tokio::test]
async fn mail_delivery_is_counted() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let before = scrape(&app).await;
    let email = unique_email();
    app.register(&email).await;
    sink.wait_for(&email, 1).await;
    app.outbox_settled().await;
    let after = scrape(&app).await;
    let sent = r#"kind="verify_email""#;
    assert!(
        value(&after, "portcullis_mail_sent_total", &[sent])
            - value(&before, "portcullis_mail_sent_total", &[sent])
            >= 1.0
    );
}

#[tokio::test]
async fn metrics_can_have_an_address_of_their_own() {
    use portcullis::startup::{Application, BuildOptions};
    let dir = std::env::temp_dir().join(format!("portcullis-metrics-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = test_config(dir.clone());
    config.database.database_url = Some(fresh_database(&dir).await.into());
    config.operations.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    let app = Application::build(config, BuildOptions::default())
        .await
        .unwrap();
    let main = format!("http://127.0.0.1:{}", app.port());
    let metrics = format!("http://127.0.0.1:{}", app.metrics_port().unwrap());
    tokio::spawn(app.run_until_stopped());
    let client = client();
    let on_main = client.get(format!("{main}/metrics")).send().await.unwrap();
    assert_problem(on_main, 404, "not_found").await;
    let scraped = client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    parse(&scraped.text().await.unwrap());
    let other = client
        .get(format!("{metrics}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::NOT_FOUND,
        "only /metrics is served there"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_configured_token_is_required() {
    let app =
        spawn_app_with(|c| c.operations.metrics_token = Some("metrics-token-0123456789".into()))
            .await;
    assert_problem(
        app.get("/metrics").send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    let wrong = app
        .get("/metrics")
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401, "unauthenticated").await;
    let ok = app
        .get("/metrics")
        .bearer_auth("metrics-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test]
async fn without_a_token_only_loopback_may_scrape() {
    // Behind a trusted proxy, a forwarded outside address is not loopback.
    let app =
        spawn_app_with(|c| c.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await;
    let outside = app
        .get("/metrics")
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_problem(outside, 401, "unauthenticated").await;
    // Nor is a request from the proxy itself that forwards no address: a loopback reverse
    // proxy would otherwise hand /metrics to the internet.
    let from_the_proxy = app.get("/metrics").send().await.unwrap();
    assert_problem(from_the_proxy, 401, "unauthenticated").await;

    // Without trusted proxies, a direct loopback client may scrape, a forwarded one not.
    let app = spawn_app().await;
    assert_eq!(
        app.get("/metrics").send().await.unwrap().status(),
        StatusCode::OK
    );
    for header in ["x-forwarded-for", "forwarded", "x-real-ip"] {
        let forwarded = app
            .get("/metrics")
            .header(header, "127.0.0.1")
            .send()
            .await
            .unwrap();
        assert_problem(forwarded, 401, "unauthenticated").await;
    }
}

#[tokio::test]
async fn metric_labels_come_from_fixed_sets_whatever_the_method() {
    let app = spawn_app().await;
    let long = "X".repeat(4096);
    for method in ["PCX1", "PCX2", "BREW", long.as_str()] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url("/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let text = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for raw in ["PCX1", "PCX2", "BREW", "XXXXXXXX"] {
        assert!(!text.contains(raw), "{raw} became a label");
    }
    assert!(
        text.contains(r#"method="other""#),
        "unknown methods count as other"
    );
}
