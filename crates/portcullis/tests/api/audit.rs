//! The audit trail: an event for every flow, with who, whom, where and which request; read
//! back through the admin API with filters and pages; failed sign-ins summarised for spotting
//! credential stuffing; old events pruned; and never a secret in a row.

use std::collections::BTreeSet;

use portcullis_core::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Every event the admin API lists for `query` (all pages).
async fn events(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for page in 1.. {
        let separator = if query.is_empty() { "?" } else { "&" };
        let response = app
            .get(&format!(
                "/api/admin/audit{query}{separator}per_page=200&page={page}"
            ))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let batch = body["events"].as_array().unwrap().clone();
        let done = batch.len() < 200;
        all.extend(batch);
        if done {
            break;
        }
    }
    all
}

fn actions(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_flow_leaves_an_event_with_actor_subject_and_origin() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let admin = app.admin().await.access;
    let email = unique_email();

    // Sign-up (with its verification link), from a known request id and user agent.
    let registered = app
        .post(
            "/api/auth/register",
            &json!({"email": email, "password": PASSWORD}),
        )
        .header("x-request-id", "audit-test-register")
        .header("user-agent", "audit-test-agent/1.0")
        .send()
        .await
        .unwrap();
    let user = tokens(registered.json().await.unwrap());
    let id = app.user_id(&user.access).await;
    let verify_token = sink.wait_for(&email, 1).await[0].token();
    app.post("/api/auth/email/verify", &json!({"token": verify_token}))
        .send()
        .await
        .unwrap();
    app.login(&email, "not the password of this user").await;
    let second = app.login_bearer(&email).await;
    let refreshed: Value = app
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": second.refresh}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.clock.advance_ms(11_000);
    app.post(
        "/api/auth/refresh",
        &json!({"refresh_token": second.refresh}),
    )
    .send()
    .await
    .unwrap();
    let third = app.login_bearer(&email).await;
    app.delete(&format!("/api/auth/sessions/{}", third.session_id))
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    app.post_empty("/api/auth/logout")
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    let current = app.login_bearer(&email).await;
    let new_password = "another long passphrase for audit";
    app.post(
        "/api/auth/password/change",
        &json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .bearer_auth(&current.access)
    .send()
    .await
    .unwrap();
    app.post("/api/auth/password/forgot", &json!({"email": email}))
        .send()
        .await
        .unwrap();
    let reset_token = sink
        .wait_for(&email, 3)
        .await
        .into_iter()
        .find(|m| m.subject.starts_with("Reset"))
        .unwrap()
        .token();
    app.post(
        "/api/auth/password/reset",
        &json!({"token": reset_token, "new_password": PASSWORD}),
    )
    .send()
    .await
    .unwrap();
    let signed_in = app.login_bearer(&email).await;
    let new_email = unique_email();
    app.post(
        "/api/auth/email/change",
        &json!({"new_email": new_email, "password": PASSWORD}),
    )
    .bearer_auth(&signed_in.access)
    .send()
    .await
    .unwrap();
    let change_token = sink.wait_for(&new_email, 1).await[0].token();
    app.post("/api/auth/email/verify", &json!({"token": change_token}))
        .send()
        .await
        .unwrap();
    app.post(
        "/api/auth/email/verify/resend",
        &json!({"email": new_email}),
    )
    .send()
    .await
    .unwrap();

    // The admin's side.
    let path = format!("/api/admin/users/{id}");
    for request in [
        app.patch(&path).json(&json!({"name": "Audited"})),
        app.client
            .put(app.url(&format!("{path}/role")))
            .json(&json!({"role": "user"})),
        app.post_empty(&format!("{path}/ban"))
            .json(&json!({"reason": "audit"})),
        app.delete(&format!("{path}/ban")),
        app.delete(&format!("{path}/sessions")),
    ] {
        let response = request.bearer_auth(&admin).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
    let signup = events(&app, &admin, "?action=user.registered")
        .await
        .into_iter()
        .find(|e| e["subject_user_id"] == id.as_str())
        .unwrap();
    assert_eq!(signup["request_id"], "audit-test-register");
    assert_eq!(signup["user_agent"], "audit-test-agent/1.0");
    assert_eq!(signup["ip"], "127.0.0.1");
    let deleted = app.delete(&path).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let trail = events(&app, &admin, &format!("?user_id={id}")).await;
    let expected = [
        "user.registered",
        "email.verification_sent",
        "email.verified",
        "user.login_failed",
        "user.login_succeeded",
        "session.refreshed",
        "session.refresh_reuse_detected",
        "session.revoked",
        "user.logout",
        "password.changed",
        "password.reset_requested",
        "password.reset",
        "email.change_requested",
        "email.changed",
        "admin.user_updated",
        "admin.role_changed",
        "admin.user_banned",
        "admin.user_unbanned",
        "admin.sessions_revoked",
        "admin.user_deleted",
    ];
    let seen = actions(&trail);
    for action in expected {
        assert!(seen.contains(action), "no {action} event; saw {seen:?}");
    }
    let admin_id = app.user_id(&admin).await;
    for event in &trail {
        assert_eq!(event["subject_user_id"], id.as_str(), "{event}");
        assert!(event["id"].is_string() && event["at"].is_string());
        let action = event["action"].as_str().unwrap();
        if action.starts_with("admin.") {
            assert_eq!(event["actor_user_id"], admin_id.as_str(), "{event}");
            assert_eq!(event["ip"], "127.0.0.1", "the admin's own address stays");
        } else {
            assert!(
                event["ip"].is_null(),
                "the deleted user's address is gone: {event}"
            );
        }
    }
    let failed = trail
        .iter()
        .find(|e| e["action"] == "user.login_failed")
        .unwrap();
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["detail"]["reason"], "invalid_credentials");

    // The trail holds no secret the flows handled.
    let secrets = [
        PASSWORD.to_owned(),
        new_password.to_owned(),
        user.access.clone(),
        user.refresh.clone(),
        second.refresh.clone(),
        refreshed["refresh_token"].as_str().unwrap().to_owned(),
        verify_token,
        reset_token,
        change_token,
    ];
    let dump = serde_json::to_string(&events(&app, &admin, "").await).unwrap();
    for secret in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "a secret reached the trail"
        );
    }
}

#[tokio::test]
async fn audit_events_are_filtered_and_paginated_newest_first() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    let email = unique_email();
    let user = app.register(&email).await;
    let id = app.user_id(&user.access).await;
    let start = portcullis::time::rfc3339(app.clock.now_ms());
    for _ in 0..5 {
        app.clock.advance_ms(1000);
        app.login(&email, "wrong password, again and again").await;
    }
    let failures = events(&app, &admin, "?action=user.login_failed").await;
    assert_eq!(failures.len(), 5);
    let times: Vec<&str> = failures.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    let page = |query: String| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let response = app
                .get(&format!("/api/admin/audit{query}"))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (_, first) = page("?action=user.login_failed&per_page=2&page=1".into()).await;
    let (_, third) = page("?action=user.login_failed&per_page=2&page=3".into()).await;
    assert_eq!(first["total"], 5);
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    assert_eq!(third["events"].as_array().unwrap().len(), 1);

    let mine = events(&app, &admin, &format!("?user_id={id}")).await;
    assert!(mine.len() >= 6);
    let later = portcullis::time::rfc3339(app.clock.now_ms() - 2500);
    let (_, recent) = page(format!(
        "?action=user.login_failed&since={}",
        later.replace('+', "%2B")
    ))
    .await;
    assert_eq!(recent["total"], 3, "since is inclusive");
    let (_, before) = page(format!("?until={}", start.replace('+', "%2B"))).await;
    assert!(
        before["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] != "user.login_failed")
    );

    for bad in [
        "?action=user.nonsense",
        "?since=yesterday",
        "?per_page=500",
        "?page=0",
        "?sort=at",
    ] {
        let (status, body) = page(bad.into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}

#[tokio::test]
async fn failed_sign_ins_are_summarised_by_address_and_by_account() {
    let app =
        spawn_app_with(|c| c.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await;
    let victim = unique_email();
    app.register(&victim).await;
    let attempt = |ip: &'static str, email: String| {
        let app = &app;
        async move {
            app.post(
                "/api/auth/login",
                &json!({"email": email, "password": "guessing the password here"}),
            )
            .header("x-forwarded-for", ip)
            .send()
            .await
            .unwrap()
        }
    };
    // An old failure outside the window.
    attempt("198.51.100.1", victim.clone()).await;
    app.clock.advance_ms(2 * 3600 * 1000);
    // A stuffer tries eight addresses, the victim among them; a second address tries the
    // victim twice, once in another case.
    for _ in 0..7 {
        attempt("203.0.113.9", unique_email()).await;
    }
    attempt("203.0.113.9", victim.clone()).await;
    attempt("198.51.100.7", victim.clone()).await;
    attempt("198.51.100.7", victim.to_uppercase()).await;

    let admin = app.admin().await.access;
    let response = app
        .get("/api/admin/audit/suspicious?window=1h")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let summary: Value = response.json().await.unwrap();
    let by_ip = summary["by_ip"].as_array().unwrap();
    assert_eq!(by_ip.len(), 2, "{summary}");
    assert_eq!(by_ip[0]["ip"], "203.0.113.9");
    assert_eq!(by_ip[0]["failures"], 8);
    assert_eq!(by_ip[0]["distinct_accounts"], 8);
    assert_eq!(by_ip[1]["ip"], "198.51.100.7");
    assert_eq!(
        (&by_ip[1]["failures"], &by_ip[1]["distinct_accounts"]),
        (&json!(2), &json!(1))
    );
    let by_account = summary["by_account"].as_array().unwrap();
    let top = &by_account[0];
    assert_eq!(top["failures"], 3, "{summary}");
    assert_eq!(top["distinct_ips"], 2);
    assert!(top["user_id"].is_string(), "the victim's account is named");
    assert!(
        by_account[1..]
            .iter()
            .all(|a| a["user_id"].is_null() && a["failures"] == 1),
        "unknown addresses group under a pseudonym"
    );
    assert!(
        !summary.to_string().contains(&victim),
        "the summary holds no address"
    );

    let wide: Value = app
        .get("/api/admin/audit/suspicious?window=3h")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wide["by_ip"].as_array().unwrap().len(), 3);
    for bad in ["?window=forever", "?window=0s", "?window=31d"] {
        let response = app
            .get(&format!("/api/admin/audit/suspicious{bad}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_problem(response, 422, "validation_failed").await;
    }
}

#[tokio::test]
async fn a_refused_change_leaves_no_event() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    let taken = unique_email();
    app.register(&taken).await;
    let user = app.register(&unique_email()).await;
    let id = app.user_id(&user.access).await;
    let response = app
        .patch(&format!("/api/admin/users/{id}"))
        .json(&json!({"email": taken}))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, "email_taken").await;
    let updates = app
        .scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'admin.user_updated'")
        .await;
    assert_eq!(updates, 0, "the event rolls back with the change");
}

#[tokio::test]
async fn events_past_their_retention_are_pruned() {
    let app = spawn_app_with(|c| {
        c.operations.audit_retention = std::time::Duration::from_secs(3600);
        c.operations.prune_interval = std::time::Duration::from_millis(100);
    })
    .await;
    let email = unique_email();
    app.register(&email).await;
    let old = app.scalar("SELECT COUNT(*) FROM audit_events").await;
    assert!(old >= 2);
    app.clock.advance_ms(2 * 3600 * 1000);
    app.login(&email, "a wrong password to make a new event")
        .await;
    app.wait_for_count("SELECT COUNT(*) FROM audit_events", 1)
        .await;
    let kept = app
        .scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'user.login_failed'")
        .await;
    assert_eq!(kept, 1, "only the event within the retention remains");
}
