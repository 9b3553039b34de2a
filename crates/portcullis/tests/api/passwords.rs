use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn weak_passwords_are_refused_with_the_rule() {
    let app = spawn_app().await;
    let cases = [
        ("short pass", "too_short"),
        ("123456789987654321", "common_password"),
        ("my address is brandnew@example.com", "contains_email"),
        ("portcullis is my password", "contains_product_name"),
        (&"x".repeat(129) as &str, "too_long"),
    ];
    for (password, rule) in cases {
        let response = app.register_with("brandnew@example.com", password).await;
        let body = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(body["fields"]["password"], rule, "{password}");
    }
    // Nothing was half-written: the address is still free.
    assert_eq!(
        app.register_with("brandnew@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn length_counts_code_points() {
    let app = spawn_app().await;
    // 15 code points, 45 bytes.
    let response = app
        .register_with(&unique_email(), &"日本語".repeat(5))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn passwords_over_1024_bytes_are_refused_at_sign_in_too() {
    let app = spawn_app().await;
    let body = assert_problem(
        app.login(&unique_email(), &"a".repeat(1025)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["fields"]["password"], "too_long");
}

#[tokio::test]
async fn nfkc_equivalent_passwords_sign_in() {
    let app = spawn_app().await;
    let email = unique_email();
    let response = app
        .register_with(&email, "ｆｕｌｌｗｉｄｔｈ ｐａｓｓｐｈｒａｓｅ")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        app.login(&email, "fullwidth passphrase").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_change_revokes_other_sessions() {
    let app = spawn_app().await;
    let email = unique_email();
    let current = app.register(&email).await;
    let other = app.login_bearer(&email).await;
    let other_cookie = app.login_cookie(&email).await;
    let change = |current_password: &str, new_password: &str| {
        app.post(
            "/api/auth/password/change",
            &json!({"current_password": current_password, "new_password": new_password}),
        )
        .bearer_auth(&current.access)
    };
    let wrong = change("wrong wrong wrong wrong", "a brand new passphrase")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401, "invalid_credentials").await;
    let weak = change(PASSWORD, "short").send().await.unwrap();
    let body = assert_problem(weak, 422, "validation_failed").await;
    assert_eq!(body["fields"]["new_password"], "too_short");
    let ok = change(PASSWORD, "a brand new passphrase")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&current.access).await.status(), StatusCode::OK);
    assert_eq!(
        app.me(&other.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.me_cookie(&other_cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refresh = app
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": other.refresh}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(refresh, 401, "invalid_refresh_token").await;
    assert_eq!(
        app.login(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&email, "a brand new passphrase").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn stored_hashes_are_argon2id_with_owasp_parameters() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let (_, hash) = app
        .store
        .user_with_password_by_email(&email)
        .await
        .unwrap()
        .unwrap();
    let hash = hash.unwrap().hash;
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}
