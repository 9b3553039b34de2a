//! The one place where errors become responses: RFC 9457 problem+json, always. Service
//! errors and the HTTP layer's own (bodies, media types, methods, CSRF) share one mapping
//! to status, code and title, which hosted pages will render as HTML too.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::service::{ServiceError, Violations};

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("cross-site request refused")]
    Csrf,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request body is not valid JSON")]
    MalformedJson,
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("the request body is too large")]
    PayloadTooLarge,
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
        Self::Service(ServiceError::field(name, rule))
    }

    pub const NOT_FOUND: Self = Self::Service(ServiceError::NotFound);

    /// Status, stable code and title: the one mapping.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        let service = match self {
            Self::Service(service) => service,
            Self::Csrf => return (StatusCode::FORBIDDEN, "csrf_failed", "Forbidden"),
            Self::MethodNotAllowed => {
                return (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "Method not allowed",
                );
            }
            Self::MalformedJson => {
                return (StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON");
            }
            Self::UnsupportedMediaType => {
                return (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Unsupported media type",
                );
            }
            Self::PayloadTooLarge => {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "Payload too large",
                );
            }
        };
        service_parts(service)
    }
}

/// Status, stable code and title of a service error: the one mapping, which the pages use
/// too.
pub fn service_parts(service: &ServiceError) -> (StatusCode, &'static str, &'static str) {
    use ServiceError::*;
    let (status, title) = match service {
        Unauthenticated => (StatusCode::UNAUTHORIZED, "Unauthenticated"),
        ReauthenticationRequired => (StatusCode::UNAUTHORIZED, "Reauthentication required"),
        InvalidCredentials => (StatusCode::UNAUTHORIZED, "Invalid credentials"),
        InvalidRefreshToken => (StatusCode::UNAUTHORIZED, "Invalid refresh token"),
        RefreshTokenReused => (StatusCode::UNAUTHORIZED, "Refresh token reused"),
        InvalidToken => (StatusCode::BAD_REQUEST, "Invalid token"),
        OauthFailed => (StatusCode::BAD_REQUEST, "Social sign-in failed"),
        RedirectNotAllowed => (StatusCode::BAD_REQUEST, "Redirect not allowed"),
        RegistrationDisabled | UserBanned | EmailNotVerified | Forbidden | MethodDisabled => {
            (StatusCode::FORBIDDEN, "Forbidden")
        }
        NotFound => (StatusCode::NOT_FOUND, "Not found"),
        EmailTaken | UsernameTaken | LastAdmin | AccountExists | LastLoginMethod => {
            (StatusCode::CONFLICT, "Conflict")
        }
        Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Validation failed"),
        Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "Overloaded"),
        RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
        Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
        Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    };
    (status, service.code(), title)
}

impl From<Violations> for ApiError {
    fn from(violations: Violations) -> Self {
        Self::Service(ServiceError::Invalid(violations))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let detail = match &self {
            // The cause is logged with the request id; the client learns nothing about it.
            ApiError::Service(ServiceError::Internal(cause)) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                "an internal error occurred".to_owned()
            }
            other => other.to_string(),
        };
        let retry_after = match &self {
            ApiError::Service(ServiceError::RateLimited { retry_after }) => Some(*retry_after),
            _ => None,
        };
        let fields = match self {
            ApiError::Service(ServiceError::Invalid(violations)) => Some(violations.into_fields()),
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
            StatusCode::TOO_MANY_REQUESTS => {
                if let Some(seconds) = retry_after {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
            }
            _ => {}
        }
        response
    }
}

impl From<portcullis_store::StoreError> for ApiError {
    fn from(err: portcullis_store::StoreError) -> Self {
        Self::Service(err.into())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(_: axum::extract::rejection::QueryRejection) -> Self {
        Self::field("query", "invalid")
    }
}

/// Router fallback: unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::NOT_FOUND
}

/// Router fallback: known paths, unsupported methods.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
