//! JSON handlers per resource. Every route is registered through `utoipa-axum`, so the
//! OpenAPI document is the router.

mod admin;
mod auth;
pub mod docs;
mod email;
mod me;
mod meta;
mod oauth;
mod password;
mod sessions;
mod tokens;
mod views;

pub use meta::prometheus;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "Self-hosted authentication server. Errors are application/problem+json (RFC 9457)."),
    components(schemas(crate::http::error::Problem)),
    tags(
        (name = "auth", description = "Sign-up, sign-in, refresh, sign-out"),
        (name = "me", description = "The signed-in user"),
        (name = "email", description = "Email verification and email change"),
        (name = "password", description = "Password reset by emailed link"),
        (name = "sessions", description = "The signed-in user's sessions"),
        (name = "oauth", description = "Social sign-in and linked sign-in methods"),
        (name = "tokens", description = "Keys, discovery, access tokens for cookie sessions, introspection"),
        (name = "operations", description = "Health and public settings"),
        (name = "admin", description = "Administration (role admin)"),
        (name = "docs", description = "This documentation"),
    )
)]
struct ApiDoc;

/// Every route of the server with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(admin::router())
        .merge(me::router())
        .merge(email::router())
        .merge(password::router())
        .merge(sessions::router())
        .merge(meta::router())
        .merge(oauth::router())
        .merge(tokens::router())
        .merge(docs::router())
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::json;

    const CANARY: &str = "canary-7d2a-secret-in-a-request-0123456789";

    /// The `Debug` output of `T` read from `body`.
    fn debug_of<T: DeserializeOwned + std::fmt::Debug>(body: serde_json::Value) -> String {
        format!("{:?}", serde_json::from_value::<T>(body).unwrap())
    }

    #[test]
    fn no_request_body_shows_a_secret_in_debug_output() {
        let printed = [
            debug_of::<super::auth::RegisterRequest>(
                json!({ "email": "a@example.com", "password": CANARY }),
            ),
            debug_of::<super::auth::LoginRequest>(
                json!({ "email": "a@example.com", "password": CANARY }),
            ),
            debug_of::<super::auth::RefreshRequest>(json!({ "refresh_token": CANARY })),
            debug_of::<super::me::PasswordChange>(
                json!({ "current_password": CANARY, "new_password": CANARY }),
            ),
            debug_of::<super::password::ResetRequest>(
                json!({ "token": CANARY, "new_password": CANARY }),
            ),
            debug_of::<super::email::TokenRequest>(json!({ "token": CANARY })),
            debug_of::<super::email::EmailChangeRequest>(
                json!({ "new_email": "b@example.com", "password": CANARY }),
            ),
            debug_of::<super::tokens::IntrospectionRequest>(json!({ "token": CANARY })),
        ];
        for text in printed {
            assert!(!text.contains(CANARY), "{text}");
        }
    }
}
