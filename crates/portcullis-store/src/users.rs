use crate::error::map_unique;
use crate::{NewUser, ProfileChange, Result, Store, StoreError, UserRow, dispatch};

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
                "INSERT INTO users (id, email, name, role, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(&user.id)
            .bind(&user.email)
            .bind(&user.name)
            .bind(&user.role)
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
