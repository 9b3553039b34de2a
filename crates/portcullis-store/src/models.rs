//! Rows read from and values written to the store. Ids, roles, schemes and token hashes are
//! the domain's types; the database holds them as text. Times are unix milliseconds.

use portcullis_core::{
    DisplayName, Email, HashedToken, ImageUrl, Role, Scheme, SessionId, UserId, Username,
};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    #[sqlx(try_from = "String")]
    pub id: UserId,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub username: Option<String>,
    pub image: Option<String>,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub banned: bool,
    pub ban_reason: Option<String>,
    pub ban_expires_at: Option<i64>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

impl UserRow {
    /// Whether a ban holds at `now`: a ban with an expiry lifts itself when it passes.
    pub fn is_banned(&self, now: i64) -> bool {
        self.banned && self.ban_expires_at.is_none_or(|end| end > now)
    }
}

/// A password hash to store, the scheme that made it, and whether it came from another
/// system (which hashed the password as typed, where this server hashes its NFKC form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub hash: String,
    pub scheme: Scheme,
    pub imported: bool,
}

/// A stored password hash as verification needs it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredPassword {
    pub hash: String,
    pub imported: bool,
}

/// A user to insert; made by the service layer's one constructor of accounts.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub name: Option<DisplayName>,
    pub username: Option<Username>,
    pub role: Role,
    pub email_verified: bool,
    /// `None` for an account that has no password yet (imported without one).
    pub credential: Option<Credential>,
    pub created_at: i64,
}

/// A change to a user: `None` leaves a field alone, `Some(None)` clears it. Users may set
/// the profile fields; admins also `email` and `email_verified`.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub name: Option<Option<DisplayName>>,
    pub username: Option<Option<Username>>,
    pub image: Option<Option<ImageUrl>>,
    pub email: Option<Email>,
    pub email_verified: Option<bool>,
}

/// What a role change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange {
    Changed { from: Role },
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    #[sqlx(try_from = "String")]
    pub id: SessionId,
    #[sqlx(try_from = "String")]
    pub user_id: UserId,
    pub transport: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// When the session's user last proved themselves again through a provider.
    pub reauthenticated_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub transport: &'static str,
    /// The keyed hash of the cookie token (cookie transport only).
    pub token_hash: Option<HashedToken>,
    /// The keyed hash of the first refresh token (bearer transport only).
    pub refresh: Option<HashedToken>,
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
    ReusedWithinGrace {
        session_id: SessionId,
        user_id: UserId,
    },
    /// Already used, beyond the grace window: the session has been revoked.
    ReusedSessionRevoked {
        session_id: SessionId,
        user_id: UserId,
    },
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
    /// Whether a ban holds at `now`.
    pub banned: Option<bool>,
    pub now: i64,
}

/// One page of a list: `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// A link token (email verification, password reset, email change), by its keyed hash.
#[derive(Debug, Clone)]
pub struct NewOneTimeToken {
    pub token_hash: HashedToken,
    pub kind: &'static str,
    pub user_id: UserId,
    /// The address the link goes to: the account's, or the new one of an email change.
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A link token that was just used up.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsedToken {
    #[sqlx(try_from = "String")]
    pub user_id: UserId,
    pub email: String,
}

/// A message to deliver; `payload` is sealed by the caller.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub id: String,
    pub kind: &'static str,
    pub user_id: Option<UserId>,
    pub recipient: String,
    pub payload: String,
    pub created_at: i64,
}

/// A message claimed by one worker until `claimed_until`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedMail {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub payload: Option<String>,
    /// Including the attempt this claim is for.
    pub attempts: i32,
}

/// The state of the outbox, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxCounts {
    pub pending: i64,
    pub failed: i64,
}

#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub id: String,
    pub at: i64,
    pub action: &'static str,
    pub outcome: &'static str,
    pub actor_user_id: Option<UserId>,
    pub subject_user_id: Option<UserId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// A keyed hash of the identifier a failed sign-in named, so failures against unknown
    /// accounts can be grouped without storing the address.
    pub login_key: Option<String>,
    /// A small JSON object; never a secret.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub action: String,
    pub outcome: String,
    pub actor_user_id: Option<String>,
    pub subject_user_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub detail: String,
}

/// Filters of the audit list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Matches the actor or the subject.
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Failed sign-ins from one client address.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FailuresByIp {
    pub ip: Option<String>,
    pub failures: i64,
    /// Distinct accounts (known or not) the address tried.
    pub accounts: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Failed sign-ins against one account identifier.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FailuresByAccount {
    pub login_key: String,
    /// The account, when one exists under the identifier.
    pub user_id: Option<String>,
    pub failures: i64,
    /// Distinct client addresses that tried it.
    pub ips: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Which sign-in failures to summarise: events of `action` with `outcome` since `since`,
/// at most `limit` groups.
pub struct FailureQuery<'a> {
    pub action: &'a str,
    pub outcome: &'a str,
    pub since: i64,
    pub limit: i64,
}

/// A social sign-in under way, by the keyed hash of its state.
#[derive(Debug, Clone)]
pub struct NewOauthState {
    pub state_hash: HashedToken,
    /// The keyed hash of the cookie that binds the state to the browser that started it.
    pub binding_hash: HashedToken,
    pub provider: String,
    /// The PKCE verifier and the nonce, sealed by the caller.
    pub secrets: String,
    pub redirect_to: String,
    pub transport: &'static str,
    /// `sign_in`, `link` or `reauth`.
    pub intent: &'static str,
    /// The session that asked to link or re-authenticate.
    pub session_id: Option<SessionId>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A state taken by its callback.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OauthStateRow {
    pub binding_hash: String,
    pub provider: String,
    pub secrets: String,
    pub redirect_to: String,
    pub transport: String,
    pub intent: String,
    pub session_id: Option<String>,
    pub expires_at: i64,
}

/// An identity to link to a user.
#[derive(Debug, Clone)]
pub struct NewOauthAccount {
    pub user_id: UserId,
    pub provider: String,
    pub provider_user_id: String,
    pub email: Option<String>,
    pub created_at: i64,
}

/// A linked identity as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OauthAccountRow {
    pub provider: String,
    pub provider_user_id: String,
    pub email: Option<String>,
    pub created_at: i64,
}
