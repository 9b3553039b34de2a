//! The OpenAPI document is generated from the router: every contract path is in it, every
//! operation in it is served, and the whole document is pinned by a snapshot, so that any
//! change to the contract shows up in review (`cargo insta review` after a deliberate one).

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// The paths API.md assigns to what this server implements.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("patch", "/api/auth/me"),
    ("post", "/api/auth/password/change"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions/{id}"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/api/auth/config"),
    ("get", "/health"),
    ("get", "/health/ready"),
    ("get", "/api/openapi.json"),
    ("get", "/api/docs"),
    ("get", "/.well-known/openid-configuration"),
    ("get", "/api/auth/token"),
    ("post", "/api/auth/introspect"),
    ("post", "/api/auth/email/verify"),
    ("post", "/api/auth/email/verify/resend"),
    ("post", "/api/auth/email/change"),
    ("post", "/api/auth/password/forgot"),
    ("post", "/api/auth/password/reset"),
    ("get", "/api/admin/users"),
    ("get", "/api/admin/users/{id}"),
    ("patch", "/api/admin/users/{id}"),
    ("delete", "/api/admin/users/{id}"),
    ("put", "/api/admin/users/{id}/role"),
    ("post", "/api/admin/users/{id}/ban"),
    ("delete", "/api/admin/users/{id}/ban"),
    ("get", "/api/admin/users/{id}/sessions"),
    ("delete", "/api/admin/users/{id}/sessions"),
    ("delete", "/api/admin/users/{id}/sessions/{sid}"),
    ("get", "/api/admin/audit"),
    ("get", "/api/admin/audit/suspicious"),
    ("get", "/metrics"),
];

#[tokio::test]
async fn document_lists_every_contract_route() {
    let app = spawn_app().await;
    let doc = openapi_document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (method, path) in CONTRACT {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the document"
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    // Introspection is off (404) unless configured; switch it on so it is probed too.
    let app =
        spawn_app_with(|c| c.tokens.introspection_secret = Some(INTROSPECTION_SECRET.into())).await;
    let operations = documented_operations(&app).await;
    for op in &operations {
        let response = app
            .client
            .request(op.method.clone(), &op.url)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {}",
            op.method,
            op.path
        );
        if status == StatusCode::NOT_FOUND {
            // Only a missing resource may answer 404, never a missing route.
            let body: Value = response.json().await.unwrap();
            assert!(
                op.path.contains('{'),
                "{} {} is documented but not routed: {body}",
                op.method,
                op.path
            );
        }
    }
    let count = operations.len();
    assert!(count >= CONTRACT.len());
}

#[tokio::test]
async fn docs_page_loads_its_vendored_assets() {
    let app = spawn_app().await;
    let page = app
        .get("/api/docs")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for asset in [
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/swagger-ui.css",
        "/api/docs/init.js",
    ] {
        assert!(page.contains(asset));
        let response = app.get(asset).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
}

#[tokio::test]
async fn the_document_is_pinned() {
    let app = spawn_app().await;
    let document = openapi_document(&app).await;
    insta::assert_json_snapshot!("openapi", document);
}
