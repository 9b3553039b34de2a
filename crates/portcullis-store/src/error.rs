use thiserror::Error;

/// Errors the store reports. Unique violations become named conflicts so services can
/// answer 409 without knowing the SQL.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("email address already registered")]
    EmailTaken,
    #[error("username already taken")]
    UsernameTaken,
    #[error("this identity is linked to another user")]
    IdentityLinked,
    #[error("the user already has an identity of this provider")]
    ProviderLinked,
    #[error("schema drift: {0}")]
    Drift(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// True when the database could not be reached or refused to serve, rather than
    /// rejecting the query: the pool timed out or is closed, the connection broke, the
    /// server is shutting down or starting (PostgreSQL SQLSTATE classes 08 and 57P, 53300
    /// too many connections), or SQLite stayed locked past its busy timeout. Such a failure
    /// passes when the database comes back, so the service answers 503, not 500.
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(err) = self else {
            return false;
        };
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
            _ => false,
        }
    }
}

/// SQLSTATEs (PostgreSQL) and result codes (SQLite) that mean "not now" rather than "no".
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08")  // connection exception
        || code.starts_with("57P") // admin, crash or database shutdown; cannot connect now
        || code == "53300" // too many connections
        || code == "5" // SQLITE_BUSY, after the busy timeout
        || code == "517" // SQLITE_BUSY_SNAPSHOT
}

/// Maps a unique violation on a known index to its domain error.
pub(crate) fn map_unique(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        // PostgreSQL names the constraint; SQLite names the index in its message.
        let names = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
        if names.contains("users_email_key") {
            return StoreError::EmailTaken;
        }
        if names.contains("users_username_key") {
            return StoreError::UsernameTaken;
        }
        // SQLite names the columns of a plain (not expression) unique index instead.
        if names.contains("oauth_accounts_identity_key")
            || names.contains("oauth_accounts.provider, oauth_accounts.provider_user_id")
        {
            return StoreError::IdentityLinked;
        }
        if names.contains("oauth_accounts_user_provider_key")
            || names.contains("oauth_accounts.user_id, oauth_accounts.provider")
        {
            return StoreError::ProviderLinked;
        }
    }
    StoreError::Database(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_databases_are_unavailable_and_refusals_are_not() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(io),
        ] {
            assert!(StoreError::Database(err).is_unavailable());
        }
        for code in ["08006", "08001", "57P01", "57P03", "53300", "5"] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["23505", "42P01", "40001", "19", "2067"] {
            assert!(!unavailable_code(code), "{code}");
        }
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::EmailTaken.is_unavailable());
        assert!(!StoreError::Drift("x".into()).is_unavailable());
    }
}
