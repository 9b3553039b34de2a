//! Request and response shapes shared by several endpoints.

use portcullis_core::SessionId;
use portcullis_store::{SessionRow, UserRow};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::service::sessions;
use crate::time::rfc3339;

/// How the client holds its session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Bearer,
    Cookie,
}

impl From<Transport> for sessions::Transport {
    fn from(transport: Transport) -> Self {
        match transport {
            Transport::Bearer => Self::Bearer,
            Transport::Cookie => Self::Cookie,
        }
    }
}

/// For `Option<Option<T>>` fields: marks the field present, whether its value is `null`
/// or not, so that `null` can mean "clear" and absence "leave alone".
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

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
    /// Whether a ban holds now; an expired ban has lifted itself.
    pub banned: bool,
    /// While banned: why, and until when (absent: indefinitely).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban_expires_at: Option<String>,
}

impl UserView {
    /// The user as seen at `now` (which decides whether a ban still holds).
    pub fn new(user: &UserRow, now: i64) -> Self {
        let banned = user.is_banned(now);
        Self {
            id: user.id.to_string(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            username: user.username.clone(),
            image: user.image.clone(),
            role: user.role.to_string(),
            created_at: rfc3339(user.created_at),
            last_login_at: user.last_login_at.map(rfc3339),
            banned,
            ban_reason: user.ban_reason.clone().filter(|_| banned),
            ban_expires_at: user.ban_expires_at.filter(|_| banned).map(rfc3339),
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
    pub fn new(session: SessionRow, current_id: &SessionId) -> Self {
        Self {
            current: session.id == *current_id,
            id: session.id.to_string(),
            created_at: rfc3339(session.created_at),
            last_seen_at: rfc3339(session.last_seen_at),
            expires_at: rfc3339(session.expires_at),
            ip: session.ip,
            user_agent: session.user_agent,
        }
    }
}

/// The answer to requests whose outcome goes by mail: the same whether or not the account
/// exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "accepted")]
    pub status: &'static str,
    pub message: &'static str,
}

/// What the mail-sending requests say: the same whether or not the account exists.
pub const MAIL_ON_ITS_WAY: &str = "If an account exists for this address, a message is on its way.";

/// 202 with an [`Accepted`] body saying `message`.
pub fn accepted(message: &'static str) -> (axum::http::StatusCode, axum::Json<Accepted>) {
    (
        axum::http::StatusCode::ACCEPTED,
        axum::Json(Accepted {
            status: "accepted",
            message,
        }),
    )
}

/// A linked sign-in method.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    provider: String,
    provider_user_id: String,
    email: Option<String>,
    created_at: String,
}

impl From<portcullis_store::OauthAccountRow> for AccountView {
    fn from(row: portcullis_store::OauthAccountRow) -> Self {
        Self {
            provider: row.provider,
            provider_user_id: row.provider_user_id,
            email: row.email,
            created_at: rfc3339(row.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
}

impl AccountList {
    pub fn new(rows: Vec<portcullis_store::OauthAccountRow>) -> Self {
        Self {
            accounts: rows.into_iter().map(AccountView::from).collect(),
        }
    }
}
