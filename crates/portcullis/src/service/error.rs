//! The errors of the use cases. Each has a stable snake_case `code()`; `crate::http::error`
//! is the one place that maps them to status codes and problem+json.

use std::collections::BTreeMap;

pub type ServiceResult<T> = Result<T, ServiceError>;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
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
    #[error("registration is closed")]
    RegistrationDisabled,
    #[error("this account is banned")]
    UserBanned,
    #[error("verify your email address before signing in")]
    EmailNotVerified,
    #[error("the admin role is required")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("email address already registered")]
    EmailTaken,
    #[error("username already taken")]
    UsernameTaken,
    #[error("this would leave no admin")]
    LastAdmin,
    #[error("social sign-in failed; start again")]
    OauthFailed,
    #[error("redirect_to is not an allowed address")]
    RedirectNotAllowed,
    #[error("an account already uses this address; sign in and link this sign-in method to it")]
    AccountExists,
    #[error("this is the account's last way to sign in")]
    LastLoginMethod,
    #[error("sign in again through your provider first")]
    ReauthenticationRequired,
    #[error("this way of signing in is switched off")]
    MethodDisabled,
    #[error("validation failed")]
    Invalid(Violations),
    #[error("the server is busy; retry shortly")]
    Overloaded,
    /// Too many requests of this kind from this client or for this account.
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// The database cannot be reached (or is shutting down, or stayed locked): the request
    /// may succeed when retried.
    #[error("a service this server depends on is unavailable; retry shortly")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    /// One offending field and the rule it broke.
    pub fn field(name: &str, rule: &str) -> Self {
        Self::Invalid(Violations::one(name, rule))
    }

    /// The stable machine code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::InvalidToken => "invalid_token",
            Self::RegistrationDisabled => "registration_disabled",
            Self::UserBanned => "user_banned",
            Self::EmailNotVerified => "email_not_verified",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::EmailTaken => "email_taken",
            Self::UsernameTaken => "username_taken",
            Self::LastAdmin => "last_admin",
            Self::OauthFailed => "oauth_failed",
            Self::RedirectNotAllowed => "redirect_not_allowed",
            Self::AccountExists => "account_exists",
            Self::LastLoginMethod => "last_login_method",
            Self::ReauthenticationRequired => "reauthentication_required",
            Self::MethodDisabled => "method_disabled",
            Self::Invalid(_) => "validation_failed",
            Self::Overloaded => "overloaded",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

/// Rule violations by field, reported together as one `validation_failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(BTreeMap<String, String>);

impl Violations {
    pub fn one(field: &str, rule: &str) -> Self {
        Self(BTreeMap::from([(field.to_owned(), rule.to_owned())]))
    }

    /// Records the error of `result` under `field` and passes its value on.
    pub fn check<T, E>(
        &mut self,
        field: &str,
        result: Result<T, E>,
        code: impl Fn(&E) -> &'static str,
    ) -> Option<T> {
        result
            .map_err(|e| self.0.insert(field.to_owned(), code(&e).to_owned()))
            .ok()
    }

    /// A field that may be absent (left alone), `null` (cleared) or a value for `parse`.
    pub fn optional<T, E>(
        &mut self,
        field: &str,
        value: Option<Option<String>>,
        parse: impl Fn(&str) -> Result<T, E>,
        code: impl Fn(&E) -> &'static str,
    ) -> Option<Option<T>> {
        match value {
            Some(Some(raw)) => self.check(field, parse(&raw), code).map(Some),
            Some(None) => Some(None),
            None => None,
        }
    }

    /// Ok when nothing was recorded, else the 422 for all of it.
    pub fn finish(self) -> ServiceResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(self))
        }
    }

    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_fields(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl From<portcullis_store::StoreError> for ServiceError {
    fn from(err: portcullis_store::StoreError) -> Self {
        use portcullis_store::StoreError;
        match err {
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::UsernameTaken => Self::UsernameTaken,
            StoreError::IdentityLinked | StoreError::ProviderLinked => Self::AccountExists,
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "database unavailable");
                Self::Unavailable
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl From<crate::hash_pool::Overloaded> for ServiceError {
    fn from(_: crate::hash_pool::Overloaded) -> Self {
        Self::Overloaded
    }
}

impl From<portcullis_core::HashError> for ServiceError {
    fn from(err: portcullis_core::HashError) -> Self {
        Self::Internal(err.into())
    }
}
