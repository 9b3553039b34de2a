//! `portcullis-verify` against the live server, and the example tasks API built on it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::Clock;
use portcullis_verify::{Algorithm, Verifier, VerifyError};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const ISSUER: &str = "http://localhost:8080";

fn verifier(app: &TestApp) -> Verifier {
    Verifier::builder(ISSUER)
        .base_url(&app.base)
        .build()
        .unwrap()
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// `token` with its header edited and its signature kept.
fn edit_header(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let (head, rest) = token.split_once('.').unwrap();
    let mut header = decode(head);
    edit(&mut header);
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

#[tokio::test]
async fn verifies_a_live_token_and_returns_typed_claims() {
    let app = spawn_app().await;
    let email = unique_email();
    let tokens = app.register(&email).await;
    let claims = verifier(&app).verify(&tokens.access).await.unwrap();
    assert_eq!(claims.email, email);
    assert_eq!(claims.sid, tokens.session_id);
    assert_eq!(claims.role, "user");
    assert_eq!(claims.iss, ISSUER);
}

#[tokio::test]
async fn refuses_forgeries_and_wrong_contexts() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let verifier = verifier(&app);
    let none = edit_header(&tokens.access, |h| h["alg"] = json!("none"));
    let none = format!("{}.", none.rsplit_once('.').unwrap().0);
    assert!(verifier.verify(&none).await.is_err(), "alg none");

    let confused = forge_hs256_with_public_key(&app, &tokens.access).await;
    assert!(
        matches!(
            verifier.verify(&confused).await,
            Err(VerifyError::AlgorithmNotAllowed(_))
        ),
        "HS256 with the public key"
    );

    let elsewhere = edit_header(&tokens.access, |h| {
        h["kid"] = json!("attacker-key");
        h["jku"] = json!("https://attacker.example/jwks.json");
    });
    assert!(matches!(
        verifier.verify(&elsewhere).await,
        Err(VerifyError::EmbeddedKey)
    ));
    let unknown = edit_header(&tokens.access, |h| h["kid"] = json!("attacker-key"));
    assert!(matches!(
        verifier.verify(&unknown).await,
        Err(VerifyError::UnknownKey)
    ));

    let wrong_iss = Verifier::builder("https://other.example")
        .base_url(&app.base)
        .build()
        .unwrap();
    assert!(matches!(
        wrong_iss.verify(&tokens.access).await,
        Err(VerifyError::Invalid(_))
    ));
    let wrong_aud = Verifier::builder(ISSUER)
        .audience("https://api.other.example")
        .base_url(&app.base)
        .build()
        .unwrap();
    assert!(matches!(
        wrong_aud.verify(&tokens.access).await,
        Err(VerifyError::Invalid(_))
    ));
    let es_only = Verifier::builder(ISSUER)
        .algorithms(&[Algorithm::ES256])
        .base_url(&app.base)
        .build()
        .unwrap();
    assert!(matches!(
        es_only.verify(&tokens.access).await,
        Err(VerifyError::AlgorithmNotAllowed(_))
    ));
}

#[tokio::test]
async fn refuses_expired_tokens() {
    let app = spawn_app().await;
    // The server's clock runs an hour behind: its token expired 45 minutes ago by the wall clock.
    app.clock.advance_ms(-3_600_000);
    let tokens = app.register(&unique_email()).await;
    let err = verifier(&app).verify(&tokens.access).await.unwrap_err();
    assert!(err.to_string().contains("xpired"), "{err}");
}

#[tokio::test]
async fn bursts_of_unknown_kids_refetch_at_most_once_per_interval() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let interval = Duration::from_secs(2);
    let verifier = Verifier::builder(ISSUER)
        .base_url(&app.base)
        .min_refetch_interval(interval)
        .build()
        .unwrap();
    verifier.verify(&tokens.access).await.unwrap();
    assert_eq!(verifier.jwks_fetches(), 1);
    let forged: Vec<String> = (0..200)
        .map(|i| edit_header(&tokens.access, |h| h["kid"] = json!(format!("unknown-{i}"))))
        .collect();
    let burst = || futures::future::join_all(forged.iter().map(|t| verifier.verify(t)));
    assert!(
        burst()
            .await
            .iter()
            .all(|r| matches!(r, Err(VerifyError::UnknownKey)))
    );
    assert_eq!(
        verifier.jwks_fetches(),
        1,
        "inside the interval: no refetch at all"
    );
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    assert!(
        burst()
            .await
            .iter()
            .all(|r| matches!(r, Err(VerifyError::UnknownKey)))
    );
    assert_eq!(
        verifier.jwks_fetches(),
        2,
        "after it: one refetch for the whole burst"
    );
    verifier.verify(&tokens.access).await.unwrap();
    assert_eq!(verifier.jwks_fetches(), 2, "known kids come from the cache");
}

#[tokio::test]
async fn picks_up_a_rotated_key_by_refetching() {
    let app = spawn_app().await;
    let email = unique_email();
    let verifier = Verifier::builder(ISSUER)
        .base_url(&app.base)
        .min_refetch_interval(Duration::ZERO)
        .build()
        .unwrap();
    verifier
        .verify(&app.register(&email).await.access)
        .await
        .unwrap();
    let new_key = {
        let config = app.config.clone();
        let kek = portcullis::secret::DerivedKeys::from_secret(
            &portcullis::secret::load_secret(&config).unwrap(),
        )
        .key_encryption;
        portcullis::keys::new_stored_key(
            portcullis::keys::SigningAlg::EdDSA,
            &kek,
            app.clock.now_ms(),
        )
        .unwrap()
    };
    app.store
        .rotate_signing_key(Some(&new_key), app.clock.now_ms())
        .await
        .unwrap();
    let mut fresh = None;
    for _ in 0..50 {
        let token = app.login_bearer(&email).await.access;
        if decode(token.split('.').next().unwrap())["kid"] == json!(new_key.kid) {
            fresh = Some(token);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fresh = fresh.expect("the server signs with the new key");
    assert_eq!(verifier.verify(&fresh).await.unwrap().email, email);
}

#[tokio::test]
async fn introspection_mode_sees_revocation_at_once() {
    let app =
        spawn_app_with(|c| c.tokens.introspection_secret = Some(INTROSPECTION_SECRET.into())).await;
    let tokens = app.register(&unique_email()).await;
    let verifier = Verifier::builder(ISSUER)
        .base_url(&app.base)
        .introspection(INTROSPECTION_SECRET, Duration::ZERO)
        .build()
        .unwrap();
    verifier.verify(&tokens.access).await.unwrap();
    let logout = app
        .post_empty("/api/auth/logout")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert!(matches!(
        verifier.verify(&tokens.access).await,
        Err(VerifyError::Inactive)
    ));
}

/// The example API on a random port, verifying against `app`.
async fn tasks_api(app: &TestApp) -> String {
    let dir = std::env::temp_dir().join(format!("tasks-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("tasks.db"))
        .create_if_missing(true);
    let db = sqlx::SqlitePool::connect_with(options).await.unwrap();
    tasks_api::migrate(&db).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let router = tasks_api::app(tasks_api::AppState {
        verifier: verifier(app),
        db,
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

fn user_id(token: &str) -> String {
    decode(token.split('.').nth(1).unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_example_api_keeps_users_to_their_own_tasks() {
    let app = spawn_app().await;
    let tasks = tasks_api(&app).await;
    let client = client();
    let alice = app.register(&unique_email()).await.access;
    let bob = app.register(&unique_email()).await.access;
    let alice_tasks = format!("{tasks}/api/{}/tasks", user_id(&alice));

    let created = client
        .post(&alice_tasks)
        .bearer_auth(&alice)
        .json(&json!({"title": "write tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let task: Value = created.json().await.unwrap();
    let task_url = format!("{alice_tasks}/{}", task["id"].as_str().unwrap());
    let list: Value = client
        .get(&alice_tasks)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    assert_eq!(
        client.get(&alice_tasks).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "no token"
    );
    let forged = edit_header(&alice, |h| h["kid"] = json!("nope"));
    assert_eq!(
        client
            .get(&alice_tasks)
            .bearer_auth(&forged)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "forged"
    );
    for request in [
        client.get(&alice_tasks),
        client
            .post(&alice_tasks)
            .json(&json!({"title": "mine now"})),
        client.patch(&task_url).json(&json!({"done": true})),
        client.delete(&task_url),
    ] {
        assert_eq!(
            request.bearer_auth(&bob).send().await.unwrap().status(),
            StatusCode::FORBIDDEN,
            "another user"
        );
    }

    let done = client
        .patch(&task_url)
        .bearer_auth(&alice)
        .json(&json!({"done": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.json::<Value>().await.unwrap()["done"], true);

    // An admin may read anyone's tasks, but not write them.
    let admin_email = unique_email();
    app.register(&admin_email).await;
    app.execute(&format!(
        "UPDATE users SET role = 'admin' WHERE email = '{admin_email}'"
    ))
    .await;
    let admin = app.login_bearer(&admin_email).await.access;
    assert_eq!(
        client
            .get(&alice_tasks)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let write = client
        .post(&alice_tasks)
        .bearer_auth(&admin)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        client
            .delete(&task_url)
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        client
            .delete(&task_url)
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_example_api_refuses_expired_tokens() {
    let app = spawn_app().await;
    let tasks = tasks_api(&app).await;
    app.clock.advance_ms(-3_600_000);
    let stale = app.register(&unique_email()).await.access;
    let url = format!("{tasks}/api/{}/tasks", user_id(&stale));
    let response = client().get(url).bearer_auth(&stale).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}
