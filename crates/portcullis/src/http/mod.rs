//! HTTP plumbing shared by every handler: errors, the JSON extractor, middleware, cookies.

pub mod auth;
pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod json;
pub mod middleware;
pub mod path;

pub use error::{ApiError, ApiResult};

use axum::http::{HeaderMap, header};

/// The credential of an `Authorization: Bearer …` header, if the request has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}
pub use json::Json;
