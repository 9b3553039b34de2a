//! Three nodes on 127.0.0.1 sharing one database and one Redis: limits, lockouts,
//! revocations and keys hold across them; with Redis gone every node limits on its own and
//! says so, and with Redis back the limits are shared again. (That the outbox delivers each
//! message once with three workers is `nodes::nodes_sharing_an_outbox_…`, which runs on
//! Redis too wherever TEST_REDIS_URL is set.)

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::keys::{cli, header};
use crate::redis_server::RedisServer;
use portcullis::config::{Config, Switch};

const WRONG: &str = "not the password at all";

/// Node A with limits on (one sign-in a minute per client and account, lockout after three
/// failures) and clients told apart by the proxy on loopback, and nodes B and C beside it.
async fn three_nodes(adjust: impl FnOnce(&mut Config)) -> [TestApp; 3] {
    let a = spawn_app_with(|config| {
        config.limits.rate_limit = Switch::On;
        config.limits.rate_limits = Some("login=1/1m".into());
        config.limits.lockout_threshold = 3;
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        adjust(config);
    })
    .await;
    let (b, c) = (a.second_node().await, a.second_node().await);
    [a, b, c]
}

async fn sign_in(node: &TestApp, email: &str, password: &str, client: &str) -> u16 {
    node.post(
        "/api/auth/login",
        &json!({"email": email, "password": password}),
    )
    .header("x-forwarded-for", client)
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

async fn readiness(node: &TestApp) -> (StatusCode, Value) {
    let response = node.get("/health/ready").send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn limits_lockouts_revocations_and_keys_hold_across_three_nodes() {
    if redis_url().is_none() {
        eprintln!("TEST_REDIS_URL not set: shared limits not tested");
        return;
    }
    let [a, b, c] = three_nodes(|_| {}).await;
    for node in [&a, &b, &c] {
        assert_eq!(readiness(node).await.1["redis"], "ok");
    }
    // A limit reached through A holds on B and C.
    let email = unique_email();
    a.register(&email).await;
    assert_eq!(sign_in(&a, &email, WRONG, "198.51.100.1").await, 401);
    assert_eq!(sign_in(&b, &email, WRONG, "198.51.100.1").await, 429);
    assert_eq!(sign_in(&c, &email, PASSWORD, "198.51.100.1").await, 429);
    // A lockout reached on A (the third failure, from other clients) holds on B, for any
    // client.
    for client in ["198.51.100.2", "198.51.100.3"] {
        assert_eq!(sign_in(&a, &email, WRONG, client).await, 401);
    }
    assert_eq!(sign_in(&b, &email, PASSWORD, "198.51.100.5").await, 429);
    // A session revoked on A is refused on B at once.
    let other = unique_email();
    let tokens = a.register(&other).await;
    assert_eq!(b.me(&tokens.access).await.status(), StatusCode::OK);
    assert_eq!(
        a.logout(&tokens.access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.me(&tokens.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A key rotated (in the shared database) signs on B within the reload interval.
    let old_kid = header(&tokens.access)["kid"].clone();
    cli(&a, &["keys", "rotate"]);
    let mut kid = old_kid.clone();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        kid = header(&b.register(&unique_email()).await.access)["kid"].clone();
        if kid != old_kid {
            break;
        }
    }
    assert_ne!(kid, old_kid, "B signs with the rotated key");
}

#[tokio::test]
async fn without_redis_each_node_limits_on_its_own_until_redis_is_back() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let [a, b, c] = three_nodes(|config| {
        config.redis.redis_url = Some(url.as_str().into());
        config.redis.redis_prefix = "outage".into();
    })
    .await;
    let shared = unique_email();
    assert_eq!(sign_in(&a, &shared, WRONG, "198.51.100.1").await, 401);
    assert_eq!(sign_in(&b, &shared, WRONG, "198.51.100.1").await, 429);

    redis.down();
    for node in [&a, &b, &c] {
        let (status, body) = readiness(node).await;
        assert_eq!(status, StatusCode::OK, "still ready: {body}");
        assert_eq!(body["redis"], "degraded");
        assert_eq!(body["database"], "ok");
    }
    // Every node keeps serving, with limits of its own.
    let email = unique_email();
    for node in [&a, &b, &c] {
        assert_eq!(sign_in(node, &email, WRONG, "198.51.100.2").await, 401);
        assert_eq!(sign_in(node, &email, WRONG, "198.51.100.2").await, 429);
    }
    // Metrics answer loopback clients that no proxy forwarded: a node without the proxy.
    let mut direct = a.config.clone();
    direct.server.trusted_proxies.clear();
    let scraper = start_node(&direct, &a.clock).await;
    let metrics = a
        .client
        .get(format!("{scraper}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("portcullis_redis_errors_total"),
        "Redis errors are counted"
    );

    redis.up();
    for node in [&a, &b, &c] {
        let mut body = Value::Null;
        for _ in 0..100 {
            body = readiness(node).await.1;
            if body["redis"] == "ok" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(body["redis"], "ok", "back on Redis");
    }
    let again = unique_email();
    assert_eq!(sign_in(&a, &again, WRONG, "198.51.100.3").await, 401);
    assert_eq!(sign_in(&c, &again, WRONG, "198.51.100.3").await, 429);
}
