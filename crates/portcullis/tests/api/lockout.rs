//! Lockouts, from the outside: after the threshold of consecutive failures for one account,
//! from any client, sign-in is refused (429 with `Retry-After`), even with the right password
//! and alike for an account that does not exist; the wait doubles and always ends; a correct
//! password, a reset or an admin clears it; parallel attempts get no more than the threshold
//! evaluated.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::reset::{account_with_reset_link, reset};
use portcullis::config::{Config, Switch};

const WRONG: &str = "not the password at all";

/// Limits on, each client's budget out of the way: every attempt comes through the trusted
/// proxy on loopback from an address of its own, so only the lockout can refuse.
async fn lockout_app(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|config| {
        config.limits.rate_limit = Switch::On;
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        adjust(config);
    })
    .await
}

/// One sign-in attempt from client number `client` (198.18.x.y behind the proxy).
async fn attempt(app: &TestApp, email: &str, password: &str, client: u32) -> reqwest::Response {
    app.post(
        "/api/auth/login",
        &json!({"email": email, "password": password}),
    )
    .header(
        "x-forwarded-for",
        format!("198.18.{}.{}", client / 250, client % 250 + 1),
    )
    .send()
    .await
    .unwrap()
}

/// Fails `count` times from as many clients, numbered from `first_client`.
async fn fail(app: &TestApp, email: &str, count: u32, first_client: u32) {
    for client in first_client..first_client + count {
        let status = attempt(app, email, WRONG, client).await.status();
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt from client {client}"
        );
    }
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn audited(app: &TestApp, action: &str) -> i64 {
    app.scalar(&format!(
        "SELECT count(*) FROM audit_events WHERE action = '{action}'"
    ))
    .await
}

#[tokio::test]
async fn ten_failures_from_many_clients_lock_the_account_even_for_the_right_password() {
    let app = lockout_app(|_| {}).await;
    let email = unique_email();
    app.register(&email).await;
    fail(&app, &email, 10, 0).await;
    let refused = attempt(&app, &email, PASSWORD, 100).await;
    assert_eq!(retry_after(&refused), 60);
    assert_problem(refused, 429, "rate_limited").await;
    // Refusals during the lockout count for nothing and are recorded once.
    for client in 101..104 {
        assert_eq!(attempt(&app, &email, WRONG, client).await.status(), 429);
    }
    assert_eq!(audited(&app, "user.login_failed").await, 10);
    assert_eq!(audited(&app, "account.locked").await, 1);
    let subject = app
        .scalar("SELECT count(*) FROM audit_events WHERE action = 'account.locked' AND subject_user_id IS NOT NULL AND ip = '198.18.0.101'")
        .await;
    assert_eq!(subject, 1, "recorded with the account and the client");
    // Another account is not affected.
    let other = unique_email();
    app.register(&other).await;
    assert_eq!(attempt(&app, &other, PASSWORD, 104).await.status(), 200);
}

#[tokio::test]
async fn an_account_that_does_not_exist_is_locked_out_alike() {
    let app = lockout_app(|_| {}).await;
    let known = unique_email();
    app.register(&known).await;
    let unknown = unique_email();
    fail(&app, &known, 10, 0).await;
    fail(&app, &unknown, 10, 20).await;
    let shape = |response: reqwest::Response| async move {
        let status = response.status();
        let wait = retry_after(&response);
        let mut body: Value = response.json().await.unwrap();
        body.as_object_mut().unwrap().remove("instance");
        (status, wait, body)
    };
    let for_known = shape(attempt(&app, &known, WRONG, 40).await).await;
    let for_unknown = shape(attempt(&app, &unknown, WRONG, 41).await).await;
    assert_eq!(for_known, for_unknown);
    assert_eq!(for_known.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(audited(&app, "account.locked").await, 2);
}

#[tokio::test]
async fn lockouts_end_by_themselves_double_and_reset_on_success() {
    let app = lockout_app(|config| config.limits.lockout_threshold = 3).await;
    let email = unique_email();
    app.register(&email).await;
    fail(&app, &email, 3, 0).await;
    assert_eq!(retry_after(&attempt(&app, &email, PASSWORD, 10).await), 60);
    app.clock.advance_ms(60_000);
    // Each further failure after a lockout starts one twice as long.
    fail(&app, &email, 1, 11).await;
    assert_eq!(retry_after(&attempt(&app, &email, PASSWORD, 12).await), 120);
    app.clock.advance_ms(120_000);
    fail(&app, &email, 1, 13).await;
    assert_eq!(retry_after(&attempt(&app, &email, PASSWORD, 14).await), 240);
    app.clock.advance_ms(240_000);
    // A correct password clears the run: the next lockout takes the threshold again.
    assert_eq!(attempt(&app, &email, PASSWORD, 15).await.status(), 200);
    fail(&app, &email, 3, 16).await;
    assert_eq!(retry_after(&attempt(&app, &email, PASSWORD, 19).await), 60);
}

#[tokio::test]
async fn the_longest_lockout_caps_every_lockout_and_under_a_minute_the_first() {
    let app = lockout_app(|config| {
        config.limits.lockout_threshold = 2;
        config.limits.lockout_max = std::time::Duration::from_secs(20);
    })
    .await;
    let email = unique_email();
    fail(&app, &email, 2, 0).await;
    let refused = attempt(&app, &email, WRONG, 2).await;
    assert_eq!(retry_after(&refused), 20);
    app.clock.advance_ms(20_000);
    fail(&app, &email, 1, 3).await;
    assert_eq!(retry_after(&attempt(&app, &email, WRONG, 4).await), 20);
}

#[tokio::test]
async fn an_admin_lifts_a_lockout_at_once() {
    let app = lockout_app(|_| {}).await;
    let admin = app.admin().await;
    let email = unique_email();
    let user = app.register(&email).await;
    let id = app.user_id(&user.access).await;
    fail(&app, &email, 10, 0).await;
    assert_eq!(attempt(&app, &email, PASSWORD, 20).await.status(), 429);
    let unlock = |token: String, id: String| {
        let app = &app;
        async move {
            app.delete(&format!("/api/admin/users/{id}/lock"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_problem(
        unlock(user.access.clone(), id.clone()).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(attempt(&app, &email, PASSWORD, 21).await.status(), 429);
    assert_eq!(unlock(admin.access.clone(), id.clone()).await.status(), 204);
    assert_eq!(attempt(&app, &email, PASSWORD, 22).await.status(), 200);
    // Nothing locked: still 204, and nothing recorded. No such user: 404.
    assert_eq!(unlock(admin.access.clone(), id.clone()).await.status(), 204);
    assert_eq!(audited(&app, "account.unlocked").await, 1);
    let nobody = "01900000-0000-7000-8000-000000000000".to_owned();
    assert_problem(unlock(admin.access.clone(), nobody).await, 404, "not_found").await;
}

#[tokio::test]
async fn a_password_reset_lifts_a_lockout() {
    let Some((app, sink)) = spawn_app_with_mail(|config| {
        config.limits.rate_limit = Switch::On;
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    else {
        return;
    };
    let (email, _, token) = account_with_reset_link(&app, &sink).await;
    fail(&app, &email, 10, 0).await;
    assert_eq!(attempt(&app, &email, PASSWORD, 20).await.status(), 429);
    let new_password = "a completely different passphrase";
    assert_eq!(reset(&app, &token, new_password).await.status(), 204);
    assert_eq!(attempt(&app, &email, new_password, 21).await.status(), 200);
    assert_eq!(audited(&app, "account.unlocked").await, 1);
}

#[tokio::test]
async fn thirty_parallel_wrong_passwords_get_no_more_than_the_threshold_evaluated() {
    let app = lockout_app(|_| {}).await;
    let email = unique_email();
    app.register(&email).await;
    let attempts = (0..30).map(|client| attempt(&app, &email, WRONG, client));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(evaluated, 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20);
    assert_eq!(audited(&app, "user.login_failed").await, 10);
}

#[tokio::test]
async fn switched_off_there_is_no_lockout() {
    let app = spawn_app_with(|config| config.limits.rate_limit = Switch::Off).await;
    let email = unique_email();
    app.register(&email).await;
    for _ in 0..15 {
        assert_eq!(app.login(&email, WRONG).await.status(), 401);
    }
    assert_eq!(app.login(&email, PASSWORD).await.status(), 200);
}
