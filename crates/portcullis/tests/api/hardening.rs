//! Hostile and malformed input: always a problem+json 4xx, never a 500, nothing written.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn raw_register(app: &TestApp, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.post_empty("/api/auth/register")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(70 * 1024);
    let body = json!({"email": unique_email(), "password": PASSWORD, "name": padding}).to_string();
    assert_problem(
        raw_register(&app, "application/json", body.into_bytes()).await,
        413,
        "payload_too_large",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let deep = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
    let bodies: Vec<Vec<u8>> = vec![
        b"{\"email\": ".to_vec(),
        b"{not json}".to_vec(),
        b"{\"email\": \"\xff\xfe\"}".to_vec(),
        deep.into_bytes(),
        Vec::new(),
    ];
    for body in bodies {
        assert_problem(
            raw_register(&app, "application/json", body).await,
            400,
            "malformed_json",
        )
        .await;
    }
}

#[tokio::test]
async fn wrong_shapes_are_422_with_fields() {
    let app = spawn_app().await;
    let email = unique_email();
    let cases = [
        (
            format!(r#"{{"email": 42, "password": "{PASSWORD}"}}"#),
            "email",
            "invalid_type",
        ),
        (
            r#"{"email": "a@example.com"}"#.to_owned(),
            "password",
            "required",
        ),
        (
            format!(r#"{{"email": "{email}", "password": "{PASSWORD}", "role": "admin"}}"#),
            "role",
            "unknown_field",
        ),
        (
            format!(
                r#"{{"email": "{email}", "email": "b@example.com", "password": "{PASSWORD}"}}"#
            ),
            "email",
            "duplicate_field",
        ),
        (
            format!(r#"{{"email": "{email}", "password": "{PASSWORD}", "name": "a\u0000b"}}"#),
            "name",
            "nul_character",
        ),
        (
            format!(r#"["{email}", "{PASSWORD}"]"#),
            "body",
            "invalid_type",
        ),
    ];
    for (body, field, rule) in cases {
        let problem = assert_problem(
            raw_register(&app, "application/json", body.into_bytes()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["fields"][field], rule, "{problem}");
    }
    // None of those created the account.
    assert_eq!(
        app.login(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn non_json_bodies_are_415() {
    let app = spawn_app().await;
    let form = format!("email={}&password=x", unique_email());
    assert_problem(
        raw_register(&app, "application/x-www-form-urlencoded", form.into_bytes()).await,
        415,
        "unsupported_media_type",
    )
    .await;
    let response = app
        .post_empty("/api/auth/login")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/nope").send().await.unwrap(), 404, "not_found").await;
    let put = app
        .client
        .put(app.url("/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_problem(put, 405, "method_not_allowed").await;
    for path in ["/health", "/nowhere"] {
        let trace = app
            .client
            .request(reqwest::Method::TRACE, app.url(path))
            .send()
            .await
            .unwrap();
        assert_problem(trace, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn security_headers_and_request_ids() {
    let app = spawn_app().await;
    let response = app
        .get("/health")
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-request-id"], "trace-me-123");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(
        headers.get("strict-transport-security").is_none(),
        "plain http without HSTS configured"
    );
    let generated = app
        .get("/nowhere")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, "bad id with spaces");
    assert_eq!(id.len(), 36, "a generated UUID");
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let app = spawn_app_with(|c| c.server.hsts = true).await;
    let response = app.get("/health").send().await.unwrap();
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health: serde_json::Value = app
        .get("/health")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    let ready = app.get("/health/ready").send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    app.store.close().await;
    let ready: serde_json::Value = app
        .get("/health/ready")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["database"], "ok",
        "the test's own pool is separate from the server's"
    );
}

/// Every documented operation that takes a body, fed hostile bodies as an authenticated
/// user (bearer and cookie with CSRF): never a 5xx, and every refusal is problem+json.
#[tokio::test]
async fn hostile_bodies_never_cause_a_server_error() {
    let app =
        spawn_app_with(|c| c.tokens.introspection_secret = Some(INTROSPECTION_SECRET.into())).await;
    let email = unique_email();
    let tokens = app.register(&email).await;
    let cookies = app.login_cookie(&email).await;
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let long = format!(
        r#"{{"email":"{}@example.com","password":"{}"}}"#,
        "a".repeat(5000),
        "p".repeat(20_000)
    );
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"\x00\x01\x02\xff".to_vec()),
        ("application/json", deep.into_bytes()),
        ("application/json", long.into_bytes()),
        (
            "application/json",
            br#"{"email":null,"password":null,"token":null,"refresh_token":null}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"name":{"$ne":1},"username":["x"],"image":1e999}"#.to_vec(),
        ),
        (
            "application/json",
            r#"{"email":"ü@ß.例","password":"\ud800","current_password":"","new_password":""}"#
                .as_bytes()
                .to_vec(),
        ),
        ("application/json", b"null".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"token=%ZZ&&&=".to_vec(),
        ),
        ("text/plain", b"hello".to_vec()),
    ];
    let mut probes = 0;
    for op in documented_operations(&app)
        .await
        .iter()
        .filter(|op| op.spec.get("requestBody").is_some())
    {
        for (content_type, body) in &bodies {
            for cookie_auth in [false, true] {
                let mut request = app
                    .client
                    .request(op.method.clone(), &op.url)
                    .header("content-type", *content_type)
                    .body(body.clone());
                request = if cookie_auth {
                    request
                        .header("cookie", cookies.header())
                        .header("x-csrf-token", &cookies.csrf)
                } else if op.path.contains("introspect") {
                    request.bearer_auth(INTROSPECTION_SECRET)
                } else {
                    request.bearer_auth(&tokens.access)
                };
                let response = request.send().await.unwrap();
                let status = response.status();
                assert!(
                    !status.is_server_error(),
                    "{} {} {content_type}: {status}",
                    op.method,
                    op.path
                );
                if status.is_client_error() {
                    assert_eq!(
                        response.headers()["content-type"],
                        "application/problem+json",
                        "{} {}",
                        op.method,
                        op.path
                    );
                }
                probes += 1;
            }
        }
    }
    assert!(probes >= 6 * bodies.len() * 2, "probed {probes}");
    assert_eq!(
        app.me(&tokens.access).await.status(),
        StatusCode::OK,
        "the user survived"
    );
}

#[tokio::test]
async fn control_characters_in_paths_and_queries_are_refused_not_fatal() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    for path in [
        "/api/admin/users?q=ab%00c",
        "/api/admin/users?q=%00",
        "/api/admin/users?role=%00",
        "/api/admin/audit?user_id=a%00b",
        "/api/admin/users?q=line%0Abreak",
    ] {
        let response = app.get(path).bearer_auth(&admin).send().await.unwrap();
        assert_problem(response, 422, "validation_failed").await;
    }
    for path in ["/api/admin/users/%00", "/api/auth/sessions/ab%00cd"] {
        let response = app.get(path).bearer_auth(&admin).send().await.unwrap();
        assert_problem(response, 404, "not_found").await;
    }
    // And a search that FTS5 would read as syntax is only a search.
    for q in [
        "%22",
        "a%22b",
        "%22%22%22",
        "NEAR(a%20b)",
        "a%20OR%20b",
        "*",
    ] {
        let response = app
            .get(&format!("/api/admin/users?q={q}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{q}");
    }
}

#[tokio::test]
async fn malformed_path_ids_are_problems_not_plain_text() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    let user = app.register(&unique_email()).await.access;
    let cases = [
        (reqwest::Method::GET, "/api/admin/users/%FF", &admin),
        (reqwest::Method::GET, "/api/admin/users/not-a-uuid", &admin),
        (
            reqwest::Method::GET,
            "/api/admin/users/%FF/sessions",
            &admin,
        ),
        (
            reqwest::Method::DELETE,
            "/api/admin/users/01900000-0000-7000-8000-000000000000/sessions/%FF%FE",
            &admin,
        ),
        (reqwest::Method::DELETE, "/api/auth/sessions/%FF", &user),
        (reqwest::Method::DELETE, "/api/auth/sessions/12345", &user),
    ];
    for (method, path, token) in cases {
        let response = app
            .client
            .request(method, app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "not_found").await;
    }
}
