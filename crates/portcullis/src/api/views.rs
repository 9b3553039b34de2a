//! Response shapes shared by several endpoints.

use portcullis_store::{SessionRow, UserRow};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::time::rfc3339;

/// A user as the API shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub username: Option<String>,
    pub image: Option<String>,
    pub role: String,
    pub created_at: String,
    pub last_login_at: Option<String>,
    pub banned: bool,
}

impl From<UserRow> for UserView {
    fn from(user: UserRow) -> Self {
        Self {
            id: user.id,
            email: user.email,
            email_verified: user.email_verified,
            name: user.name,
            username: user.username,
            image: user.image,
            role: user.role,
            created_at: rfc3339(user.created_at),
            last_login_at: user.last_login_at.map(rfc3339),
            banned: user.banned,
        }
    }
}

/// One sign-in on one device.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionView {
    pub fn new(session: SessionRow, current_id: &str) -> Self {
        Self {
            current: session.id == current_id,
            id: session.id,
            created_at: rfc3339(session.created_at),
            last_seen_at: rfc3339(session.last_seen_at),
            expires_at: rfc3339(session.expires_at),
            ip: session.ip,
            user_agent: session.user_agent,
        }
    }
}
