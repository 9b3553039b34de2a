use thiserror::Error;

/// Errors the store reports. Unique violations become named conflicts so services can
/// answer 409 without knowing the SQL.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("email address already registered")]
    EmailTaken,
    #[error("username already taken")]
    UsernameTaken,
    #[error("schema drift: {0}")]
    Drift(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
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
    }
    StoreError::Database(err)
}
