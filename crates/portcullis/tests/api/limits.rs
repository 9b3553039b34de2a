//! Rate limits, from the outside: each is reached, answered 429 `rate_limited` with
//! `Retry-After` before the password is checked, and cannot be dodged by spelling the path
//! differently or by a forged `X-Forwarded-For`.

use serde_json::json;

use crate::helpers::*;
use portcullis::config::{Config, Switch};

async fn limited_app(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|config| {
        config.limits.rate_limit = Switch::On;
        adjust(config);
    })
    .await
}

async fn login_from(app: &TestApp, email: &str, password: &str, forwarded: Option<&str>) -> u16 {
    let mut request = app.post(
        "/api/auth/login",
        &json!({"email": email, "password": password}),
    );
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn audited(app: &TestApp, action: &str) -> i64 {
    app.scalar(&format!(
        "SELECT count(*) FROM audit_events WHERE action = '{action}'"
    ))
    .await
}

#[tokio::test]
async fn the_sixth_sign_in_for_one_account_is_refused_before_its_password_is_checked() {
    let app = limited_app(|_| {}).await;
    let email = unique_email();
    app.register(&email).await;
    for _ in 0..5 {
        assert_eq!(login_from(&app, &email, "wrong password!", None).await, 401);
    }
    // Even the right password: the attempt is refused before any hash.
    let refused = app.login(&email, PASSWORD).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_problem(refused, 429, "rate_limited").await;
    assert_eq!(audited(&app, "user.login_failed").await, 5);
    // Another account from the same client has a budget of its own.
    assert_eq!(
        login_from(&app, &unique_email(), "wrong password!", None).await,
        401
    );
    // The budget refills at five a minute: one more attempt after 12 s.
    app.clock.advance_ms(12_000);
    assert_eq!(login_from(&app, &email, PASSWORD, None).await, 200);
    assert_eq!(login_from(&app, &email, PASSWORD, None).await, 429);
}

#[tokio::test]
async fn email_and_username_share_one_budget_and_unknown_accounts_have_one_too() {
    let app = limited_app(|_| {}).await;
    let email = unique_email();
    let tokens = app.register(&email).await;
    app.set_username(&tokens.access, "budgeted").await;
    for _ in 0..5 {
        let status = app
            .post(
                "/api/auth/login",
                &json!({"username": "budgeted", "password": "wrong password!"}),
            )
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    assert_eq!(login_from(&app, &email, PASSWORD, None).await, 429);
    let nobody = unique_email();
    for _ in 0..5 {
        assert_eq!(
            login_from(&app, &nobody, "wrong password!", None).await,
            401
        );
    }
    assert_eq!(
        login_from(&app, &nobody.to_uppercase(), "wrong password!", None).await,
        429
    );
}

#[tokio::test]
async fn a_client_has_a_ceiling_across_accounts() {
    let app = limited_app(|config| config.limits.rate_limits = Some("login=2/1m".into())).await;
    // Six times the per-account figure: 12 attempts on distinct accounts, then 429.
    for _ in 0..12 {
        assert_eq!(
            login_from(&app, &unique_email(), "wrong password!", None).await,
            401
        );
    }
    assert_eq!(
        login_from(&app, &unique_email(), "wrong password!", None).await,
        429
    );
}

#[tokio::test]
async fn attempts_refused_for_one_account_do_not_spend_the_client_ceiling() {
    let app = limited_app(|config| config.limits.rate_limits = Some("login=1/1m".into())).await;
    let email = unique_email();
    assert_eq!(login_from(&app, &email, "wrong password!", None).await, 401);
    // More refusals than the client's ceiling of six: none of them counts against it.
    for _ in 0..10 {
        assert_eq!(login_from(&app, &email, "wrong password!", None).await, 429);
    }
    assert_eq!(
        login_from(&app, &unique_email(), "wrong password!", None).await,
        401
    );
}

#[tokio::test]
async fn spelling_the_path_differently_does_not_dodge_the_limit() {
    let app = limited_app(|config| config.limits.rate_limits = Some("login=1/1m".into())).await;
    let email = unique_email();
    assert_eq!(login_from(&app, &email, "wrong password!", None).await, 401);
    for path in [
        "//api/auth/login",
        "/api/auth/login/",
        "/API/auth/login",
        "/api/auth//login",
    ] {
        let status = app
            .client
            .post(app.url(path))
            .header("origin", &app.base)
            .json(&json!({"email": email, "password": "wrong password!"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!(status == 404 || status == 429, "{path} answered {status}");
    }
}

#[tokio::test]
async fn a_forged_forwarded_for_buys_no_budget_without_a_trusted_proxy() {
    let app = limited_app(|config| config.limits.rate_limits = Some("login=1/1m".into())).await;
    let email = unique_email();
    assert_eq!(login_from(&app, &email, "wrong password!", None).await, 401);
    for forged in ["198.51.100.7", "198.51.100.8, 203.0.113.1", "2001:db8::1"] {
        assert_eq!(
            login_from(&app, &email, "wrong password!", Some(forged)).await,
            429
        );
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_counts_apart_and_ipv6_by_its_64() {
    let app = limited_app(|config| {
        config.limits.rate_limits = Some("login=1/1m".into());
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let email = unique_email();
    // Only the entry the proxy added counts: what the client wrote before it does not.
    let expected = [
        ("198.51.100.7", 401),
        ("198.51.100.7", 429),
        ("10.9.9.9, 198.51.100.7", 429),
        ("198.51.100.8", 401),
        ("2001:db8:0:1::1", 401),
        ("2001:db8:0:1:ffff::2", 429),
        ("2001:db8:0:2::1", 401),
    ];
    for (forwarded, status) in expected {
        let answered = login_from(&app, &email, "wrong password!", Some(forwarded)).await;
        assert_eq!(answered, status, "{forwarded}");
    }
}

#[tokio::test]
async fn each_group_has_its_limit() {
    let app = limited_app(|_| {}).await;
    for _ in 0..5 {
        app.register(&unique_email()).await;
    }
    let sixth = app
        .post(
            "/api/auth/register",
            &json!({"email": unique_email(), "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(sixth, 429, "rate_limited").await;
    for _ in 0..20 {
        let status = app
            .get("/api/auth/oauth/nope/start")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "oauth: refused within its budget");
    }
    let refused = app.get("/api/auth/oauth/nope/start").send().await.unwrap();
    assert_problem(refused, 429, "rate_limited").await;
    let groups: [(&str, serde_json::Value, usize); 5] = [
        (
            "/api/auth/password/forgot",
            json!({"email": unique_email()}),
            5,
        ),
        (
            "/api/auth/email/verify/resend",
            json!({"email": unique_email()}),
            5,
        ),
        (
            "/api/auth/email/verify",
            json!({"token": "not-a-token"}),
            10,
        ),
        (
            "/api/auth/refresh",
            json!({"refresh_token": "not-a-token"}),
            60,
        ),
        (
            "/api/auth/oauth/exchange",
            json!({"code": "not-a-code"}),
            10,
        ),
    ];
    for (path, body, budget) in groups {
        for _ in 0..budget {
            let status = app
                .post(path, &body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_ne!(status, 429, "{path} refused within its budget");
        }
        let refused = app.post(path, &body).send().await.unwrap();
        assert_eq!(refused.status(), 429, "{path}");
        assert!(refused.headers().contains_key("retry-after"));
    }
    // Each endpoint of a group counts apart: the reset link still has its own ten.
    let reset = app
        .post(
            "/api/auth/password/reset",
            &json!({"token": "not-a-token", "new_password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_ne!(reset.status(), 429);
}

#[tokio::test]
async fn refusals_are_audited_once_per_key_and_window() {
    let app = limited_app(|config| config.limits.rate_limits = Some("login=1/1m".into())).await;
    let email = unique_email();
    assert_eq!(login_from(&app, &email, "wrong password!", None).await, 401);
    for _ in 0..4 {
        assert_eq!(login_from(&app, &email, "wrong password!", None).await, 429);
    }
    assert_eq!(audited(&app, "rate_limit.exceeded").await, 1);
    app.clock.advance_ms(60_000);
    assert_eq!(login_from(&app, &email, "wrong password!", None).await, 401);
    assert_eq!(login_from(&app, &email, "wrong password!", None).await, 429);
    assert_eq!(audited(&app, "rate_limit.exceeded").await, 2);
}

#[tokio::test]
async fn switched_off_nothing_is_limited() {
    let app = spawn_app_with(|config| config.limits.rate_limit = Switch::Off).await;
    let email = unique_email();
    for _ in 0..12 {
        assert_eq!(login_from(&app, &email, "wrong password!", None).await, 401);
    }
}

#[tokio::test]
async fn a_refused_attempt_waits_for_no_hash_while_the_hash_pool_is_full() {
    // One hash at a time and none waiting, each taking a good part of a second.
    let app = limited_app(|config| {
        config.limits.rate_limits = Some("login=1/1m".into());
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        config.passwords.hash_workers = Some(1);
        config.passwords.hash_queue = Some(0);
        config.passwords.hash_iterations = 40;
    })
    .await;
    let email = unique_email();
    let spent = "198.51.100.1";
    assert_eq!(
        login_from(&app, &email, "wrong password!", Some(spent)).await,
        401
    );
    for round in 0..20 {
        // Occupy the only worker, then find it busy: another client's attempt is turned
        // away with 503 `overloaded`, as any attempt that needs a hash now would be.
        let (other, occupier) = (unique_email(), format!("198.51.100.{}", 50 + round));
        let busy = login_from(&app, &other, "wrong password!", Some(&occupier));
        let probe = async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let control = format!("198.51.100.{}", 10 + round);
            let overloaded = login_from(&app, &unique_email(), "x", Some(&control)).await;
            // The refusal comes from the limit, not from the full pool: it needed no hash.
            let limited = login_from(&app, &email, "wrong password!", Some(spent)).await;
            (overloaded, limited)
        };
        let (busy, (overloaded, limited)) = tokio::join!(busy, probe);
        assert_eq!(busy, 401);
        if overloaded == 503 {
            assert_eq!(limited, 429);
            return;
        }
    }
    panic!("the hash pool was never seen full");
}
