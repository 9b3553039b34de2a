//! The one place where errors become responses: RFC 9457 problem+json, always.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the refresh token was already used")]
    RefreshTokenReused,
    #[error("the link is not valid: it is unknown, was used already, or has expired")]
    InvalidToken,
    #[error("{1}")]
    Forbidden(&'static str, &'static str),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{1}")]
    Conflict(&'static str, &'static str),
    #[error("the request body is not valid JSON")]
    MalformedJson,
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("validation failed")]
    Validation(BTreeMap<String, String>),
    #[error("the server is busy; retry shortly")]
    Overloaded,
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

/// The problem+json body (RFC 9457) with our stable `code`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    /// Stable snake_case machine code.
    pub code: &'static str,
    pub detail: String,
    /// On 422 only: each offending field mapped to a rule code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

impl ApiError {
    /// One offending field.
    pub fn field(name: &str, rule: &str) -> Self {
        Self::Validation(BTreeMap::from([(name.to_owned(), rule.to_owned())]))
    }

    pub fn csrf() -> Self {
        Self::Forbidden("csrf_failed", "cross-site request refused")
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Unauthenticated",
            ),
            InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid credentials",
            ),
            InvalidRefreshToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "Invalid refresh token",
            ),
            RefreshTokenReused => (
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "Refresh token reused",
            ),
            InvalidToken => (StatusCode::BAD_REQUEST, "invalid_token", "Invalid token"),
            Forbidden(code, _) => (StatusCode::FORBIDDEN, code, "Forbidden"),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            Conflict(code, _) => (StatusCode::CONFLICT, code, "Conflict"),
            MalformedJson => (StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON"),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Validation failed",
            ),
            Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded", "Overloaded"),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal server error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let detail = match &self {
            // The cause is logged with the request id; the client learns nothing about it.
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                "an internal error occurred".to_owned()
            }
            other => other.to_string(),
        };
        let fields = match self {
            ApiError::Validation(fields) => Some(fields),
            _ => None,
        };
        let body = Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            code,
            detail,
            fields,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<portcullis_store::StoreError> for ApiError {
    fn from(err: portcullis_store::StoreError) -> Self {
        use portcullis_store::StoreError;
        match err {
            StoreError::EmailTaken => {
                Self::Conflict("email_taken", "email address already registered")
            }
            StoreError::UsernameTaken => Self::Conflict("username_taken", "username already taken"),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<crate::hash_pool::Overloaded> for ApiError {
    fn from(_: crate::hash_pool::Overloaded) -> Self {
        Self::Overloaded
    }
}

impl From<portcullis_core::HashError> for ApiError {
    fn from(err: portcullis_core::HashError) -> Self {
        Self::Internal(err.into())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(_: axum::extract::rejection::QueryRejection) -> Self {
        Self::field("query", "invalid")
    }
}

/// Router fallback: unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Router fallback: known paths, unsupported methods.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
