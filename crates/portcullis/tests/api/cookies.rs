//! The cookie transport: attributes, CSRF double-submit, Origin and Fetch Metadata checks.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn cookie_sign_in_sets_host_prefixed_cookies() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let response = app
        .post(
            "/api/auth/login",
            &json!({"email": email, "password": PASSWORD, "transport": "cookie"}),
        )
        .send()
        .await
        .unwrap();
    let session = set_cookie(&response, "__Host-portcullis_session").unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attribute), "{session} lacks {attribute}");
    }
    assert!(
        !session.contains("Domain"),
        "__Host- cookies have no Domain"
    );
    let csrf = set_cookie(&response, "__Host-portcullis_csrf").unwrap();
    assert!(
        !csrf.contains("HttpOnly"),
        "scripts must read the CSRF cookie"
    );
    assert!(csrf.contains("Secure"));
}

#[tokio::test]
async fn cookie_session_reads_without_csrf_but_writes_need_it() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let cookies = app.login_cookie(&email).await;
    assert_eq!(app.me_cookie(&cookies).await.status(), StatusCode::OK);

    let patch = || {
        app.patch("/api/auth/me")
            .header("cookie", cookies.header())
            .json(&json!({"name": "Eve"}))
    };
    assert_problem(patch().send().await.unwrap(), 403, "csrf_failed").await;
    assert_problem(
        patch()
            .header("x-csrf-token", "forged")
            .send()
            .await
            .unwrap(),
        403,
        "csrf_failed",
    )
    .await;
    let foreign = patch()
        .header("x-csrf-token", &cookies.csrf)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_problem(foreign, 403, "csrf_failed").await;
    let null_origin = patch()
        .header("x-csrf-token", &cookies.csrf)
        .header("origin", "null")
        .send()
        .await
        .unwrap();
    assert_problem(null_origin, 403, "csrf_failed").await;
    let cross_site = patch()
        .header("x-csrf-token", &cookies.csrf)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_problem(cross_site, 403, "csrf_failed").await;
    let ok = patch()
        .header("x-csrf-token", &cookies.csrf)
        .header("origin", "http://localhost:8080")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn csrf_token_of_another_session_is_refused() {
    let app = spawn_app().await;
    let (a, b) = (unique_email(), unique_email());
    app.register(&a).await;
    app.register(&b).await;
    let mine = app.login_cookie(&a).await;
    let theirs = app.login_cookie(&b).await;
    // Both cookie and header carry the other session's CSRF value (cookie tossing).
    let tossed = format!(
        "__Host-portcullis_session={}; __Host-portcullis_csrf={}",
        mine.session, theirs.csrf
    );
    let response = app
        .post("/api/auth/logout", &json!({}))
        .header("cookie", tossed)
        .header("x-csrf-token", &theirs.csrf)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "csrf_failed").await;
    assert_eq!(app.me_cookie(&mine).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn cookie_logout_clears_cookies_and_ends_the_session() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let cookies = app.login_cookie(&email).await;
    let response = app
        .post_empty("/api/auth/logout")
        .header("cookie", cookies.header())
        .header("x-csrf-token", &cookies.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(&response, "__Host-portcullis_session").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        app.me_cookie(&cookies).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn browser_sign_in_from_a_foreign_origin_is_refused() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let body = json!({"email": email, "password": PASSWORD, "transport": "cookie"});
    let foreign = app
        .post("/api/auth/login", &body)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_problem(foreign, 403, "csrf_failed").await;
    let cross = app
        .post(
            "/api/auth/register",
            &json!({"email": unique_email(), "password": PASSWORD}),
        )
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_problem(cross, 403, "csrf_failed").await;
    let own = app
        .post("/api/auth/login", &body)
        .header("origin", "http://localhost:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
}

#[tokio::test]
async fn cookie_sessions_slide_until_idle() {
    let app =
        spawn_app_with(|c| c.sessions.session_idle_timeout = std::time::Duration::from_secs(3600))
            .await;
    let email = unique_email();
    app.register(&email).await;
    let cookies = app.login_cookie(&email).await;
    for _ in 0..3 {
        app.clock.advance_ms(50 * 60 * 1000);
        assert_eq!(
            app.me_cookie(&cookies).await.status(),
            StatusCode::OK,
            "each use extends the idle timeout"
        );
    }
    app.clock.advance_ms(61 * 60 * 1000);
    assert_eq!(
        app.me_cookie(&cookies).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cors_answers_only_allow_listed_origins() {
    let app = spawn_app_with(|c| {
        c.server.allowed_origins = vec!["https://app.example.com".parse().unwrap()]
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    for origin in ["https://evil.example", "null"] {
        let refused = preflight(origin).await.unwrap();
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin}"
        );
    }
}
