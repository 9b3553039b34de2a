//! The OpenAPI document and its human view (a vendored Swagger UI, no downloads).

use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};
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

/// The document as served: what the handler annotations cannot say one by one.
///
/// * The refusals of the rules for every request (docs/api.md) are listed on every operation
///   they apply to: 400 `malformed_json`, 413 `payload_too_large`, 415
///   `unsupported_media_type` and 422 `validation_failed` wherever there is a request body,
///   and 422 wherever there are query parameters.
/// * 503 `unavailable` / `overloaded` on every operation: any of them may meet a database
///   outage or a full queue of work.
/// * Every problem answer is `application/problem+json` (RFC 9457), the media type the server
///   sends, whereas `body = Problem` in an annotation would say `application/json`.
pub fn complete(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            // Any operation may meet a database outage or a full queue of work.
            let mut common = vec![(
                "503",
                "`unavailable` (the database cannot be reached) or `overloaded`; retry after `Retry-After`",
            )];
            if operation.request_body.is_some() {
                common.extend([
                    ("400", "`malformed_json`: the body is not JSON"),
                    ("413", "`payload_too_large`: over the body limit"),
                    ("415", "`unsupported_media_type`"),
                    ("422", "`validation_failed`"),
                ]);
            }
            let has_query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
            if has_query {
                common.push(("422", "`validation_failed`"));
            }
            for (status, description) in common {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(description));
            }
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_problem = response.content.get("application/json").is_some_and(|c| {
                    matches!(c, RefOr::T(content) if matches!(&content.schema,
                        Some(RefOr::Ref(r)) if r.ref_location == PROBLEM_REF))
                });
                if is_problem {
                    let content = response.content.shift_remove("application/json");
                    response
                        .content
                        .insert(PROBLEM_MEDIA_TYPE.to_owned(), content.expect("present"));
                }
            }
        }
    }
}

/// A problem answer (its media type is set by [`complete`]).
fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build(),
    )
}

const PROBLEM_REF: &str = "#/components/schemas/Problem";
const PROBLEM_MEDIA_TYPE: &str = "application/problem+json";

/// The operations of one path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
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
