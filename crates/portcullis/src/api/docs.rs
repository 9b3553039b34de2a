//! The OpenAPI document and its human view (a vendored Swagger UI, no downloads).

use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The serialised OpenAPI document, made once at start-up from the router itself.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<String>);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
        .routes(routes!(docs_script))
        .routes(routes!(docs_style))
        .routes(routes!(docs_init))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "docs",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.as_str().to_owned(),
    )
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portcullis API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script></body></html>"#;

/// The API documentation, rendered by Swagger UI.
#[utoipa::path(get, path = "/api/docs", tag = "docs",
    responses((status = 200, description = "HTML page", content_type = "text/html")))]
async fn docs_page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE)
}

/// Swagger UI's script (vendored, see assets/swagger-ui/VERSION).
#[utoipa::path(get, path = "/api/docs/swagger-ui-bundle.js", tag = "docs",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
async fn docs_script() -> impl IntoResponse {
    asset(
        "text/javascript",
        include_str!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    )
}

/// Swagger UI's style sheet.
#[utoipa::path(get, path = "/api/docs/swagger-ui.css", tag = "docs",
    responses((status = 200, description = "CSS", content_type = "text/css")))]
async fn docs_style() -> impl IntoResponse {
    asset(
        "text/css",
        include_str!("../../assets/swagger-ui/swagger-ui.css"),
    )
}

/// Starts Swagger UI on this server's document (a file, so the CSP needs no inline script).
#[utoipa::path(get, path = "/api/docs/init.js", tag = "docs",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
async fn docs_init() -> impl IntoResponse {
    asset(
        "text/javascript",
        "window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#ui' });\n",
    )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
}
