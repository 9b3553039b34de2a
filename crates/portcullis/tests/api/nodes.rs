//! Nodes are stateless: several servers on one database share sessions, keys and revocations.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn sessions_and_revocations_are_shared_between_nodes() {
    let a = spawn_app().await;
    let b = a.second_node().await;
    let email = unique_email();
    let tokens = a.register(&email).await;
    assert_eq!(
        b.me(&tokens.access).await.status(),
        StatusCode::OK,
        "a token from node A verifies on node B"
    );
    let jwks_a: Value = a
        .get("/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks_b: Value = b
        .get("/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_a, jwks_b);

    let refreshed = b
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": tokens.refresh}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let replay = a
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": tokens.refresh}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(replay, 401, "refresh_token_reused").await;

    let cookies = b.login_cookie(&email).await;
    assert_eq!(a.me_cookie(&cookies).await.status(), StatusCode::OK);
    let logout = b
        .post_empty("/api/auth/logout")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        a.me(&tokens.access).await.status(),
        StatusCode::UNAUTHORIZED,
        "revoked on B, dead on A at once"
    );
}

#[tokio::test]
async fn signing_keys_survive_a_restart_and_are_encrypted_at_rest() {
    let a = spawn_app().await;
    let tokens = a.register(&unique_email()).await;
    let restarted = a.second_node().await;
    assert_eq!(restarted.me(&tokens.access).await.status(), StatusCode::OK);
    let rows = a.store.signing_keys().await.unwrap();
    assert_eq!(rows.len(), 1, "the second node reused the stored key");
    assert!(
        rows[0].private_key.starts_with("v1."),
        "stored in the encrypted format"
    );
    assert!(
        !rows[0].private_key.contains("MC4CAQAwBQYDK2Vw"),
        "not a PKCS#8 Ed25519 key in the clear"
    );
}

#[tokio::test]
async fn nodes_sharing_an_outbox_deliver_each_message_exactly_once() {
    let Some((a, mut sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let nodes = [a.second_node().await, a.second_node().await];
    // While the server is down every message fails once; then all come due at the same
    // moment, and three workers race for them.
    sink.down();
    let emails: Vec<String> = (0..24).map(|_| unique_email()).collect();
    for (i, email) in emails.iter().enumerate() {
        let node = if i % 3 == 0 { &a } else { &nodes[i % 3 - 1] };
        node.register(email).await;
    }
    a.wait_for_count(
        "SELECT COUNT(*) FROM mail_outbox WHERE attempts = 1 AND claimed_by IS NULL AND last_error IS NOT NULL",
        24,
    )
    .await;
    sink.up();
    a.clock.advance_ms(2 * 3600 * 1000);
    for email in &emails {
        sink.wait_for(email, 1).await;
    }
    a.outbox_settled().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for email in &emails {
        assert_eq!(sink.to(email).len(), 1, "{email} got a duplicate");
    }
    assert_eq!(sink.received().len(), 24);
    assert_eq!(
        a.scalar("SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NOT NULL AND attempts = 2")
            .await,
        24,
        "each message was sent by one claim"
    );
}
