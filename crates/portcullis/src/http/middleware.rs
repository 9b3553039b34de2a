//! Middleware applied to every response: request ids, security headers, method screening.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request, as the logs and the client see it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Keeps a sane client-supplied `X-Request-Id` (≤ 128 visible ASCII characters) or makes
/// one, stores it for handlers and echoes it on the response.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The methods the server serves on some path.
pub const SERVED_METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// Answers 405 for methods the API never serves (TRACE, CONNECT, extension methods) on any
/// path, so they cannot reach a handler or echo a request.
pub async fn screen_methods(req: Request, next: Next) -> Response {
    if !SERVED_METHODS.contains(req.method()) {
        return ApiError::MethodNotAllowed.into_response();
    }
    next.run(req).await
}

/// Refuses control characters in the path (404: no resource is named with one) and in the
/// query (422), before any reaches a handler: PostgreSQL refuses NUL in a text parameter and
/// SQLite's FTS5 reads text as a C string, so they could only end in a 500.
pub async fn screen_uri(req: Request, next: Next) -> Response {
    let uri = req.uri();
    if has_encoded_control(uri.path()) {
        return ApiError::NOT_FOUND.into_response();
    }
    if uri.query().is_some_and(has_encoded_control) {
        return ApiError::field("query", "invalid_characters").into_response();
    }
    next.run(req).await
}

/// The largest request body the server reads.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Reads every request body, up to the limit, before anything answers (this is the one body
/// limit: extractors only ever see what it read): a request refused
/// before its handler reads the body (a foreign origin, a bad token, the wrong media type)
/// then leaves no unread bytes behind, and its keep-alive connection stays usable. A body
/// over the limit is answered 413 with `Connection: close`, as the rest of it is not read.
pub async fn read_body(State(limit): State<BodyLimit>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit.0 as u64) {
        return closing(ApiError::PayloadTooLarge.into_response());
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit.0).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        // Over the limit (a body without a length) or cut short: either way, not all read.
        Err(_) => closing(ApiError::PayloadTooLarge.into_response()),
    }
}

/// `response`, announcing that the connection closes after it.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Whether `raw` percent-encodes a control character (a raw one is not a valid URI at all).
fn has_encoded_control(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .is_some_and(|b| b < 0x20 || b == 0x7f)
    })
}

/// Whether to send Strict-Transport-Security.
#[derive(Debug, Clone, Copy)]
pub struct Hsts(pub bool);

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn security_headers(State(hsts): State<Hsts>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages send a stricter policy and `same-origin` (their own form posts need an Origin).
    let defaults = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    // Responses carry credentials or user data unless a handler says otherwise.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if hsts.0 {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_control_characters_are_found() {
        for bad in ["q=a%00b", "%0a", "x%1F", "%7f"] {
            assert!(has_encoded_control(bad), "{bad}");
        }
        for good in ["q=a%20b", "%25", "q=%E2%82%AC", "plain", "%2", "%zz"] {
            assert!(!has_encoded_control(good), "{good}");
        }
    }
}
