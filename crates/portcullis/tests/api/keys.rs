//! Signing keys: every algorithm, PEM files, rotation end to end with the real CLI, discovery.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use portcullis::keys::SigningAlg;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

pub fn header(token: &str) -> Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
}

async fn jwks(app: &TestApp) -> Vec<Value> {
    let body: Value = app
        .get("/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["keys"].as_array().unwrap().clone()
}

/// Waits (at most 5 s) until the JWKS has `count` keys, as nodes reload every 100 ms here.
async fn wait_for_keys(app: &TestApp, count: usize) -> Vec<Value> {
    for _ in 0..50 {
        let keys = jwks(app).await;
        if keys.len() == count {
            return keys;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("JWKS never reached {count} keys: {:?}", jwks(app).await);
}

/// Runs the `portcullis` binary against the test app's database and secret.
pub fn cli(app: &TestApp, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env_clear()
        .env(
            "DATABASE_URL",
            app.config.database.database_url.as_ref().unwrap().expose(),
        )
        .env("PORTCULLIS_DATA_DIR", &app.config.server.data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn every_algorithm_issues_tokens_that_verify() {
    for alg in [SigningAlg::EdDSA, SigningAlg::ES256, SigningAlg::RS256] {
        let app = spawn_app_with(|c| c.tokens.jwt_alg = alg).await;
        let tokens = app.register(&unique_email()).await;
        assert_eq!(header(&tokens.access)["alg"], alg.as_str());
        let keys = jwks(&app).await;
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["alg"], alg.as_str());
        assert_eq!(keys[0]["kid"], header(&tokens.access)["kid"]);
        assert_eq!(
            app.me(&tokens.access).await.status(),
            StatusCode::OK,
            "{alg:?}"
        );
    }
}

#[tokio::test]
async fn hs256_signs_with_the_shared_secret_and_publishes_nothing() {
    let secret = STANDARD.encode([42u8; 32]);
    let app = spawn_app_with(|c| {
        c.tokens.jwt_alg = SigningAlg::HS256;
        c.tokens.jwt_secret = Some(secret.clone().into());
    })
    .await;
    let tokens = app.register(&unique_email()).await;
    assert_eq!(header(&tokens.access)["alg"], "HS256");
    assert!(
        jwks(&app).await.is_empty(),
        "a shared secret is never published"
    );
    assert_eq!(app.me(&tokens.access).await.status(), StatusCode::OK);
    // A token signed with the shared secret by someone who knows it verifies (that is HS256);
    // one signed with another secret does not.
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(tokens.access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut forged_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    forged_header.kid = header(&tokens.access)["kid"].as_str().map(str::to_owned);
    forged_header.typ = Some("at+jwt".into());
    let forged = jsonwebtoken::encode(
        &forged_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&[7u8; 32]),
    )
    .unwrap();
    assert_problem(app.me(&forged).await, 401, "unauthenticated").await;
}

#[tokio::test]
async fn a_pem_key_file_signs_with_its_thumbprint_as_kid() {
    let dir = std::env::temp_dir().join(format!("portcullis-pem-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = p256::SecretKey::random(&mut rand::rngs::OsRng)
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    let path = dir.join("signing.pem");
    std::fs::write(&path, pem.as_bytes()).unwrap();
    let app = spawn_app_with(|c| {
        c.tokens.jwt_alg = SigningAlg::ES256;
        c.tokens.jwt_key_file = Some(path.clone());
    })
    .await;
    let again = app.second_node().await;
    let tokens = app.register(&unique_email()).await;
    let keys = jwks(&app).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], header(&tokens.access)["kid"]);
    assert_eq!(
        jwks(&again).await,
        keys,
        "every node derives the same kid from the file"
    );
    assert_eq!(again.me(&tokens.access).await.status(), StatusCode::OK);
    assert!(
        app.store.signing_keys().await.unwrap().is_empty(),
        "file keys are not copied into the database"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_until_they_expire() {
    let app = spawn_app().await;
    let email = unique_email();
    let before = app.register(&email).await;
    let old_kid = header(&before.access)["kid"].clone();

    let out = cli(&app, &["keys", "rotate"]);
    assert!(out.contains("new EdDSA signing key"), "{out}");
    let keys = wait_for_keys(&app, 2).await;
    let after = app.login_bearer(&email).await;
    let new_kid = header(&after.access)["kid"].clone();
    assert_ne!(new_kid, old_kid, "the new key signs");
    assert!(
        keys.iter().any(|k| k["kid"] == old_kid),
        "the retired key is still published"
    );
    assert_eq!(
        app.me(&before.access).await.status(),
        StatusCode::OK,
        "old tokens still verify"
    );

    let listing = cli(&app, &["keys", "list"]);
    assert!(
        listing.contains("active") && listing.contains("retired"),
        "{listing}"
    );

    // Past the old key's last token (15 min + 5 s leeway), it drops out of the JWKS.
    app.clock.advance_ms(15 * 60 * 1000 + 6_000);
    let keys = wait_for_keys(&app, 1).await;
    assert_eq!(keys[0]["kid"], new_kid);
}

#[tokio::test]
async fn a_retired_key_stays_published_for_a_reload_interval_more() {
    // A node that has not reloaded since the rotation may sign with the old key for up to
    // one reload interval, so its tokens expire that much later.
    let app = spawn_app_with(|c| c.tokens.key_reload_interval = Duration::from_secs(3)).await;
    let old_kid = header(&app.register(&unique_email()).await.access)["kid"].clone();
    cli(&app, &["keys", "rotate"]);
    assert_eq!(wait_for_keys(&app, 2).await.len(), 2);

    // Past the lifetime and leeway of the old key's last token, within the reload interval
    // (the retirement was stamped by the command's own clock).
    use portcullis_core::Clock;
    let retired_at = app
        .store
        .signing_keys()
        .await
        .unwrap()
        .iter()
        .find_map(|k| k.retired_at)
        .unwrap();
    let last_token_expiry = retired_at + 15 * 60 * 1000 + 5_000;
    app.clock
        .advance_ms(last_token_expiry + 1_000 - app.clock.now_ms());
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let keys = jwks(&app).await;
    assert!(
        keys.iter().any(|k| k["kid"] == old_kid),
        "still published a reload interval after its last token's expiry: {keys:?}"
    );

    app.clock.advance_ms(3_000);
    let keys = wait_for_keys(&app, 1).await;
    assert_ne!(keys[0]["kid"], old_kid);
}

#[tokio::test]
async fn changing_the_algorithm_rotates_on_start() {
    let app = spawn_app().await;
    let before = app.register(&unique_email()).await;
    let mut config = app.config.clone();
    config.tokens.jwt_alg = SigningAlg::ES256;
    let es = start_node(&config, &app.clock).await;
    let keys: Value = app
        .client
        .get(format!("{es}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert!(
        algs.contains(&"ES256") && algs.contains(&"EdDSA"),
        "{algs:?}"
    );
    let me = app
        .client
        .get(format!("{es}/api/auth/me"))
        .bearer_auth(&before.access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "EdDSA tokens verify until they expire"
    );
}

#[tokio::test]
async fn discovery_names_the_issuer_and_the_jwks() {
    let app = spawn_app().await;
    let response = app
        .get("/.well-known/openid-configuration")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], "http://localhost:8080");
    assert_eq!(
        doc["jwks_uri"],
        "http://localhost:8080/.well-known/jwks.json"
    );
    assert!(
        doc.get("introspection_endpoint").is_none(),
        "introspection is off by default"
    );
}

#[tokio::test]
async fn cookie_sessions_get_access_tokens_for_resource_servers() {
    let app = spawn_app().await;
    let email = unique_email();
    let bearer = app.register(&email).await;
    let cookies = app.login_cookie(&email).await;
    let response = app
        .get("/api/auth/token")
        .header("cookie", cookies.header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(app.me(token).await.status(), StatusCode::OK);
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sid"], cookies.session_id);
    let with_bearer = app
        .get("/api/auth/token")
        .bearer_auth(&bearer.access)
        .send()
        .await
        .unwrap();
    assert_problem(with_bearer, 401, "unauthenticated").await;
}
