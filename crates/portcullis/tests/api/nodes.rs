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
