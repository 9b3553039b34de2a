//! The axum side: an extractor that answers 401 problem+json, and a 403 for role checks.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{Claims, Verifier};

/// The verified claims of the request's `Authorization: Bearer` token.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

/// Refusal of a request without a valid token: 401 with `WWW-Authenticate: Bearer`.
#[derive(Debug)]
pub struct Unauthenticated;

/// Refusal of a request whose token lacks the needed role: 403.
#[derive(Debug)]
pub struct Forbidden;

impl<S> FromRequestParts<S> for AuthUser
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Unauthenticated;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Unauthenticated> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Unauthenticated)?;
        let verifier = Verifier::from_ref(state);
        match verifier.verify(token.trim()).await {
            Ok(claims) => Ok(Self(claims)),
            Err(err) => {
                tracing::debug!(%err, "token refused");
                Err(Unauthenticated)
            }
        }
    }
}

fn problem(status: StatusCode, code: &str, title: &str) -> Response {
    let body =
        json!({ "type": "about:blank", "title": title, "status": status.as_u16(), "code": code });
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        let mut response = problem(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Unauthenticated",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        problem(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
    }
}
