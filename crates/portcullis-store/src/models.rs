//! Rows read from and values written to the store. Plain data: ids as text, times in ms.

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub username: Option<String>,
    pub image: Option<String>,
    pub role: String,
    pub banned: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub email_verified: bool,
    pub password_hash: String,
    pub password_scheme: String,
    pub now: i64,
}

/// A profile update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub name: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub image: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub transport: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub user_id: String,
    pub transport: String,
    /// The keyed hash of the cookie token (cookie transport only).
    pub token_hash: Option<String>,
    /// The first refresh token `(id, keyed hash)` (bearer transport only).
    pub refresh: Option<(String, String)>,
    pub now: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What happened to a presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Marked used; its child was stored; the session is returned.
    Rotated(SessionRow),
    /// Unknown, or its session is over.
    Invalid,
    /// Already used, within the grace window: refused, the session lives on.
    ReusedWithinGrace { session_id: String, user_id: String },
    /// Already used, beyond the grace window: the session has been revoked.
    ReusedSessionRevoked { session_id: String, user_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewSigningKey {
    pub kid: String,
    pub alg: String,
    /// Encrypted by the caller; the store never sees a private key in the clear.
    pub private_key: String,
    pub public_jwk: String,
    pub now: i64,
}

/// The window in which a session counts as live.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    pub now: i64,
    pub idle_cutoff: i64,
}

/// Filters of the admin user list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Matched case-insensitively as a substring of email, name or username.
    pub q: Option<String>,
    pub role: Option<String>,
    pub banned: Option<bool>,
}
