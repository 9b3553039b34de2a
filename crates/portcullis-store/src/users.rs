use crate::error::map_unique;
use crate::{NewUser, ProfileChange, Result, Store, StoreError, UserFilter, UserRow, dispatch};

macro_rules! user_columns {
    () => {
        "u.id, u.email, u.email_verified, u.name, u.username, u.image, u.role, u.banned, u.created_at, u.last_login_at"
    };
}

macro_rules! user_with_password_where {
    ($condition:literal) => {
        concat!(
            "SELECT ",
            user_columns!(),
            ", c.password_hash FROM users u
             LEFT JOIN credentials c ON c.user_id = u.id WHERE ",
            $condition
        )
    };
}

#[derive(sqlx::FromRow)]
struct UserWithHash {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
}

impl Store {
    /// Inserts a user and their password credential in one transaction.
    pub async fn create_user(&self, user: &NewUser) -> Result<UserRow> {
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO users (id, email, name, role, email_verified, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&user.id)
            .bind(&user.email)
            .bind(&user.name)
            .bind(&user.role)
            .bind(user.email_verified)
            .bind(user.now)
            .execute(&mut *tx)
            .await
            .map_err(map_unique)?;
            sqlx::query(
                "INSERT INTO credentials (user_id, password_hash, scheme, updated_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&user.id)
            .bind(&user.password_hash)
            .bind(&user.password_scheme)
            .bind(user.now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.user_by_id(&user.id)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>> {
        const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1");
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, UserRow>(SQL).bind(id).fetch_optional(pool).await?
        }))
    }

    /// The user with this email (compared case-insensitively) and their password hash.
    pub async fn user_with_password_by_email(
        &self,
        email: &str,
    ) -> Result<Option<(UserRow, Option<String>)>> {
        self.user_with_password(
            user_with_password_where!("lower(u.email) = lower($1)"),
            email,
        )
        .await
    }

    /// The user with this username (compared case-insensitively) and their password hash.
    pub async fn user_with_password_by_username(
        &self,
        username: &str,
    ) -> Result<Option<(UserRow, Option<String>)>> {
        self.user_with_password(
            user_with_password_where!("lower(u.username) = lower($1)"),
            username,
        )
        .await
    }

    async fn user_with_password(
        &self,
        sql: &'static str,
        value: &str,
    ) -> Result<Option<(UserRow, Option<String>)>> {
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, UserWithHash>(sql).bind(value).fetch_optional(pool).await?
        })
        .map(|row| (row.user, row.password_hash)))
    }

    pub async fn password_hash(&self, user_id: &str) -> Result<Option<String>> {
        Ok(dispatch!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT password_hash FROM credentials WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Applies the fields present in `change`; `None` when the user does not exist.
    pub async fn update_profile(
        &self,
        id: &str,
        change: &ProfileChange,
        now: i64,
    ) -> Result<Option<UserRow>> {
        // A flag per field says whether to write it, so one statement serves every patch.
        dispatch!(self, pool => {
            sqlx::query(
                "UPDATE users SET
                    name = CASE WHEN $2 THEN $3 ELSE name END,
                    username = CASE WHEN $4 THEN $5 ELSE username END,
                    image = CASE WHEN $6 THEN $7 ELSE image END,
                    updated_at = $8
                 WHERE id = $1",
            )
            .bind(id)
            .bind(change.name.is_some())
            .bind(change.name.clone().flatten())
            .bind(change.username.is_some())
            .bind(change.username.clone().flatten())
            .bind(change.image.is_some())
            .bind(change.image.clone().flatten())
            .bind(now)
            .execute(pool)
            .await
            .map_err(map_unique)?;
        });
        self.user_by_id(id).await
    }

    /// Replaces the password and revokes every other session of the user, atomically.
    pub async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        scheme: &str,
        keep_session: &str,
        now: i64,
    ) -> Result<()> {
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE credentials SET password_hash = $2, scheme = $3, updated_at = $4
                 WHERE user_id = $1",
            )
            .bind(user_id)
            .bind(password_hash)
            .bind(scheme)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE sessions SET revoked_at = $3
                 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
            )
            .bind(user_id)
            .bind(keep_session)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

/// The admin list's condition: `$1` a LIKE pattern (or NULL), `$2` a role, `$3` banned.
macro_rules! user_filter {
    () => {
        " WHERE ($1 IS NULL OR lower(u.email) LIKE $1 ESCAPE '\\'
                OR lower(u.name) LIKE $1 ESCAPE '\\' OR lower(u.username) LIKE $1 ESCAPE '\\')
            AND ($2 IS NULL OR u.role = $2)
            AND ($3 IS NULL OR u.banned = $3)"
    };
}

impl Store {
    /// One page of users matching `filter`, newest first (a stable order on an index), and
    /// how many match in all.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<UserRow>, i64)> {
        const PAGE: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u",
            user_filter!(),
            " ORDER BY u.created_at DESC, u.id DESC LIMIT $4 OFFSET $5"
        );
        const COUNT: &str = concat!("SELECT COUNT(*) FROM users u", user_filter!());
        let pattern = filter.q.as_deref().map(like_pattern);
        Ok(dispatch!(self, pool => {
            let users = sqlx::query_as::<_, UserRow>(PAGE)
                .bind(&pattern)
                .bind(&filter.role)
                .bind(filter.banned)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(COUNT)
                .bind(&pattern)
                .bind(&filter.role)
                .bind(filter.banned)
                .fetch_one(pool)
                .await?;
            (users, total)
        }))
    }
}

/// `%q%` for LIKE, lowercased, with LIKE's own wildcards escaped.
fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
