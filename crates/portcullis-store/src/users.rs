use std::collections::HashSet;

use sqlx::QueryBuilder;

use portcullis_core::{ADMIN, Role, UserId};

use crate::error::map_unique;
use crate::{
    Credential, NewUser, Page, Result, RoleChange, Store, StoredPassword, Tx, UserChange,
    UserFilter, UserRow, dispatch, on_tx,
};

macro_rules! user_columns {
    () => {
        "u.id, u.email, u.email_verified, u.name, u.username, u.image, u.role, u.banned,
         u.ban_reason, u.ban_expires_at, u.created_at, u.last_login_at"
    };
}
pub(crate) use user_columns;

macro_rules! user_with_password_where {
    ($condition:literal) => {
        concat!(
            "SELECT ",
            user_columns!(),
            ", c.password_hash, c.imported FROM users u
             LEFT JOIN credentials c ON c.user_id = u.id WHERE ",
            $condition
        )
    };
}

macro_rules! user_by_id {
    () => {
        concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1")
    };
}
const USER_BY_ID: &str = user_by_id!();

const STORED_PASSWORD: &str =
    "SELECT password_hash AS hash, imported FROM credentials WHERE user_id = $1";

/// Runs `$body` with `$sql` bound to `$select` as it stands on SQLite, whose transactions hold
/// the only write lock from their start, and with `FOR UPDATE` on PostgreSQL, so that the rows
/// read stay as read until the transaction ends.
macro_rules! locking {
    ($tx:expr, $select:expr, $conn:ident, $sql:ident => $body:expr) => {
        match &mut $tx.conn {
            crate::Conn::Sqlite($conn) => {
                let $sql: &'static str = $select;
                $body
            }
            crate::Conn::Postgres($conn) => {
                let $sql: &'static str = concat!($select, " FOR UPDATE");
                $body
            }
        }
    };
}

#[derive(sqlx::FromRow)]
struct UserWithHash {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
    imported: Option<bool>,
}

impl Store {
    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRow>> {
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, UserRow>(USER_BY_ID).bind(id.to_string()).fetch_optional(pool).await?
        }))
    }

    /// The user with this email, compared case-insensitively.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE lower(u.email) = lower($1)"
        );
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, UserRow>(SQL).bind(email).fetch_optional(pool).await?
        }))
    }

    /// The user with this email (compared case-insensitively) and their password hash.
    #[tracing::instrument(name = "store.user_with_password", skip_all)]
    pub async fn user_with_password_by_email(
        &self,
        email: &str,
    ) -> Result<Option<(UserRow, Option<StoredPassword>)>> {
        self.user_with_password(
            user_with_password_where!("lower(u.email) = lower($1)"),
            email,
        )
        .await
    }

    /// The user with this username (compared case-insensitively) and their password hash.
    #[tracing::instrument(name = "store.user_with_password", skip_all)]
    pub async fn user_with_password_by_username(
        &self,
        username: &str,
    ) -> Result<Option<(UserRow, Option<StoredPassword>)>> {
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
    ) -> Result<Option<(UserRow, Option<StoredPassword>)>> {
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, UserWithHash>(sql).bind(value).fetch_optional(pool).await?
        })
        .map(|row| {
            let stored = row.password_hash.map(|hash| StoredPassword {
                hash,
                imported: row.imported.unwrap_or(false),
            });
            (row.user, stored)
        }))
    }

    pub async fn password_hash(&self, user_id: &UserId) -> Result<Option<StoredPassword>> {
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, StoredPassword>(STORED_PASSWORD)
                .bind(user_id.to_string())
                .fetch_optional(pool)
                .await?
        }))
    }
}

/// How the admin list searches. PostgreSQL answers `Like` from trigram GIN indexes; SQLite
/// answers `Trigrams` from its FTS5 trigram index (migration `user_search`) and falls back to
/// `Like`, which reads every user, only for needles too short for that index.
enum Search {
    Everyone,
    /// A `%needle%` pattern, lowercased, LIKE's wildcards escaped.
    Like(String),
    /// An FTS5 phrase: with the trigram tokenizer, a case-insensitive substring.
    Trigrams(String),
}

/// SQLite's trigram index finds substrings of at least this many characters.
const TRIGRAM: usize = 3;

/// What `Search::Like` matches: email, name and username, lowercased, a line each (no field
/// can hold a line break). PostgreSQL's trigram index is on exactly this expression.
const SEARCHABLE: &str = "(lower(u.email) || '\n' || coalesce(lower(u.name), '') || '\n' \
                          || coalesce(lower(u.username), ''))";

impl Search {
    fn new(store: &Store, q: Option<&str>) -> Self {
        match (store, q) {
            (_, None) => Self::Everyone,
            (Store::Sqlite { .. }, Some(q)) if q.chars().count() >= TRIGRAM => {
                Self::Trigrams(format!("\"{}\"", q.replace('"', "\"\"")))
            }
            (_, Some(q)) => {
                let escaped = q
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                Self::Like(format!("%{escaped}%"))
            }
        }
    }
}

/// `$select` with the conditions of `filter` and `search`, each written only when it applies
/// so that the planner sees plain predicates it can answer from an index.
macro_rules! filtered_users {
    ($select:expr, $filter:expr, $search:expr) => {{
        let mut query = QueryBuilder::new($select);
        let mut and = " WHERE ";
        match $search {
            Search::Everyone => {}
            Search::Like(pattern) => {
                query
                    .push(and)
                    .push(SEARCHABLE)
                    .push(" LIKE ")
                    .push_bind(pattern)
                    .push(" ESCAPE '\\'");
                and = " AND ";
            }
            Search::Trigrams(phrase) => {
                query
                    .push(and)
                    .push(
                        "u.id IN (SELECT k.user_id FROM user_search s
                         JOIN user_search_keys k ON k.key = s.rowid WHERE user_search MATCH ",
                    )
                    .push_bind(phrase)
                    .push(")");
                and = " AND ";
            }
        }
        if let Some(role) = &$filter.role {
            query.push(and).push("u.role = ").push_bind(role);
            and = " AND ";
        }
        if let Some(banned) = $filter.banned {
            query
                .push(and)
                .push("(u.banned AND (u.ban_expires_at IS NULL OR u.ban_expires_at > ")
                .push_bind($filter.now)
                .push(")) = ")
                .push_bind(banned);
        }
        query
    }};
}

impl Store {
    /// One page of users matching `filter`, newest first (a stable order on an index), and
    /// how many match in all.
    pub async fn list_users(&self, filter: &UserFilter, page: Page) -> Result<(Vec<UserRow>, i64)> {
        const SELECT: &str = concat!("SELECT ", user_columns!(), " FROM users u");
        let search = Search::new(self, filter.q.as_deref());
        Ok(dispatch!(self, pool => {
            let mut list = filtered_users!(SELECT, filter, &search);
            list.push(" ORDER BY u.created_at DESC, u.id DESC LIMIT ")
                .push_bind(page.limit)
                .push(" OFFSET ")
                .push_bind(page.offset);
            let users = list.build_query_as::<UserRow>().fetch_all(pool).await?;
            let mut count = filtered_users!("SELECT COUNT(*) FROM users u", filter, &search);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            (users, total)
        }))
    }
}

impl Tx {
    pub async fn user_by_id(&mut self, id: &UserId) -> Result<Option<UserRow>> {
        Ok(on_tx!(self, tx => {
            sqlx::query_as::<_, UserRow>(USER_BY_ID).bind(id.to_string()).fetch_optional(&mut **tx).await?
        }))
    }

    /// Inserts a user and, when given, their password credential.
    pub async fn create_user(&mut self, user: &NewUser) -> Result<()> {
        self.insert_users(&[user], false).await.map(|_| ())
    }

    /// Inserts those of `users` whose email and username are free, many rows per statement,
    /// and returns the ids of those inserted (imports).
    pub async fn create_users_if_absent(&mut self, users: &[&NewUser]) -> Result<HashSet<UserId>> {
        self.insert_users(users, true).await
    }

    async fn insert_users(
        &mut self,
        users: &[&NewUser],
        skip_conflicts: bool,
    ) -> Result<HashSet<UserId>> {
        let on_conflict = if skip_conflicts {
            " ON CONFLICT DO NOTHING"
        } else {
            ""
        };
        let inserted: HashSet<UserId> = on_tx!(self, tx => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO users (id, email, name, username, role, email_verified, created_at, updated_at) ",
            );
            insert.push_values(users, |mut row, user| {
                row.push_bind(user.id.to_string())
                    .push_bind(user.email.as_str())
                    .push_bind(user.name.as_ref().map(|n| n.as_str()))
                    .push_bind(user.username.as_ref().map(|u| u.as_str()))
                    .push_bind(user.role.as_str())
                    .push_bind(user.email_verified)
                    .push_bind(user.created_at)
                    .push_bind(user.created_at);
            });
            insert.push(on_conflict).push(" RETURNING id");
            let ids: Vec<String> = insert
                .build_query_scalar()
                .fetch_all(&mut **tx)
                .await
                .map_err(map_unique)?;
            ids.into_iter().filter_map(|id| id.parse().ok()).collect()
        });
        let credentials: Vec<(&NewUser, &Credential)> = users
            .iter()
            .filter(|u| inserted.contains(&u.id))
            .filter_map(|u| u.credential.as_ref().map(|c| (*u, c)))
            .collect();
        if !credentials.is_empty() {
            on_tx!(self, tx => {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO credentials (user_id, password_hash, scheme, imported, updated_at) ",
                );
                insert.push_values(&credentials, |mut row, (user, credential)| {
                    row.push_bind(user.id.to_string())
                        .push_bind(&credential.hash)
                        .push_bind(credential.scheme.as_str())
                        .push_bind(credential.imported)
                        .push_bind(user.created_at);
                });
                insert.build().execute(&mut **tx).await?;
            });
        }
        Ok(inserted)
    }

    /// Which of `emails` some user has already, lowercased.
    pub async fn registered_emails(&mut self, emails: &[&str]) -> Result<HashSet<String>> {
        if emails.is_empty() {
            return Ok(HashSet::new());
        }
        let found: Vec<String> = on_tx!(self, tx => {
            let mut select =
                QueryBuilder::new("SELECT lower(email) FROM users WHERE lower(email) IN (");
            let mut list = select.separated(", ");
            for email in emails {
                list.push("lower(").push_bind_unseparated(*email).push_unseparated(")");
            }
            select.push(")");
            select.build_query_scalar().fetch_all(&mut **tx).await?
        });
        Ok(found.into_iter().collect())
    }

    /// Applies the fields present in `change`; `None` when the user does not exist.
    pub async fn update_user(
        &mut self,
        id: &UserId,
        change: &UserChange,
        now: i64,
    ) -> Result<Option<UserRow>> {
        // A flag per field says whether to write it, so one statement serves every patch.
        const SQL: &str = "UPDATE users SET
                name = CASE WHEN $2 THEN $3 ELSE name END,
                username = CASE WHEN $4 THEN $5 ELSE username END,
                image = CASE WHEN $6 THEN $7 ELSE image END,
                email = COALESCE($8, email),
                email_verified = COALESCE($9, email_verified),
                updated_at = $10
             WHERE id = $1";
        on_tx!(self, tx => {
            sqlx::query(SQL)
                .bind(id.to_string())
                .bind(change.name.is_some())
                .bind(change.name.as_ref().and_then(|n| n.as_ref().map(|n| n.as_str())))
                .bind(change.username.is_some())
                .bind(change.username.as_ref().and_then(|u| u.as_ref().map(|u| u.as_str())))
                .bind(change.image.is_some())
                .bind(change.image.as_ref().and_then(|i| i.as_ref().map(|i| i.as_str())))
                .bind(change.email.as_ref().map(|e| e.as_str()))
                .bind(change.email_verified)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(map_unique)?;
        });
        self.touched_user(id);
        self.user_by_id(id).await
    }

    /// Marks the address verified, if it is still the user's address; false otherwise.
    pub async fn mark_email_verified(
        &mut self,
        user_id: &UserId,
        email: &str,
        now: i64,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE users SET email_verified = TRUE, updated_at = $3
             WHERE id = $1 AND lower(email) = lower($2)";
        self.touched_user(user_id);
        Ok(on_tx!(self, tx => {
            sqlx::query(SQL).bind(user_id.to_string()).bind(email).bind(now).execute(&mut **tx).await?.rows_affected() > 0
        }))
    }

    /// Replaces (or sets) the user's password credential.
    pub async fn set_password(
        &mut self,
        user_id: &UserId,
        credential: &Credential,
        now: i64,
    ) -> Result<()> {
        const SQL: &str =
            "INSERT INTO credentials (user_id, password_hash, scheme, imported, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE
             SET password_hash = excluded.password_hash, scheme = excluded.scheme,
                 imported = excluded.imported, updated_at = excluded.updated_at";
        on_tx!(self, tx => {
            sqlx::query(SQL)
                .bind(user_id.to_string())
                .bind(&credential.hash)
                .bind(credential.scheme.as_str())
                .bind(credential.imported)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        });
        Ok(())
    }

    /// Sets the user's role. Whether that may leave no admin is the caller's rule.
    pub async fn set_role(
        &mut self,
        user_id: &UserId,
        role: &Role,
        now: i64,
    ) -> Result<RoleChange> {
        let Some(user) = self.lock_user(user_id).await? else {
            return Ok(RoleChange::NotFound);
        };
        self.touched_user(user_id);
        on_tx!(self, tx => {
            sqlx::query("UPDATE users SET role = $2, updated_at = $3 WHERE id = $1")
                .bind(user_id.to_string())
                .bind(role.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?;
        });
        Ok(RoleChange::Changed { from: user.role })
    }

    /// Whether `user_id` is an admin and no other admin without a ban in force at `now`
    /// exists: demoting, banning or deleting them would leave nobody to administer. The
    /// admins' rows are locked first, in id order, so two admins acting on each other at once
    /// can neither both pass nor deadlock.
    pub async fn is_last_admin(&mut self, user_id: &UserId, now: i64) -> Result<bool> {
        const OTHERS: &str = "SELECT COUNT(*) FROM users WHERE role = $1 AND id <> $2
             AND NOT (banned AND (ban_expires_at IS NULL OR ban_expires_at > $3))";
        let (others, role): (i64, Option<String>) = locking!(self,
            "SELECT id FROM users WHERE role = $1 ORDER BY id", tx, sql => {
            sqlx::query(sql).bind(ADMIN).execute(&mut **tx).await?;
            let others = sqlx::query_scalar(OTHERS)
                .bind(ADMIN)
                .bind(user_id.to_string())
                .bind(now)
                .fetch_one(&mut **tx)
                .await?;
            let role = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
                .bind(user_id.to_string())
                .fetch_optional(&mut **tx)
                .await?;
            (others, role)
        });
        Ok(role.as_deref() == Some(ADMIN) && others == 0)
    }

    /// The user, their row locked until the transaction ends (see `locking!`). Changes that
    /// race with a sign-in (a ban, a password reset) lock it first too, so one waits for the
    /// other; locking the user before their credential keeps that order everywhere.
    pub async fn lock_user(&mut self, id: &UserId) -> Result<Option<UserRow>> {
        Ok(locking!(self, user_by_id!(), tx, sql => {
            sqlx::query_as::<_, UserRow>(sql).bind(id.to_string()).fetch_optional(&mut **tx).await?
        }))
    }

    /// The user's password hash, its row locked likewise.
    pub async fn lock_password_hash(&mut self, user_id: &UserId) -> Result<Option<StoredPassword>> {
        Ok(
            locking!(self, "SELECT password_hash AS hash, imported FROM credentials WHERE user_id = $1", tx, sql => {
                sqlx::query_as::<_, StoredPassword>(sql).bind(user_id.to_string()).fetch_optional(&mut **tx).await?
            }),
        )
    }

    /// Bans the user until `expires_at` (forever when `None`); false when no such user.
    pub async fn ban_user(
        &mut self,
        user_id: &UserId,
        reason: &str,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE users SET banned = TRUE, ban_reason = $2, ban_expires_at = $3,
                updated_at = $4 WHERE id = $1";
        self.touched_user(user_id);
        Ok(on_tx!(self, tx => {
            sqlx::query(SQL).bind(user_id.to_string()).bind(reason).bind(expires_at).bind(now)
                .execute(&mut **tx).await?.rows_affected() > 0
        }))
    }

    /// Lifts a ban; false when no such user.
    pub async fn unban_user(&mut self, user_id: &UserId, now: i64) -> Result<bool> {
        const SQL: &str = "UPDATE users SET banned = FALSE, ban_reason = NULL,
                ban_expires_at = NULL, updated_at = $2 WHERE id = $1";
        self.touched_user(user_id);
        Ok(on_tx!(self, tx => {
            sqlx::query(SQL).bind(user_id.to_string()).bind(now).execute(&mut **tx).await?.rows_affected() > 0
        }))
    }

    /// Deletes the user; their credential, sessions, refresh tokens, link tokens and queued
    /// mail go with them (foreign keys cascade). Audit events keep the bare id but lose what
    /// identified the person behind the user's own actions: address, user agent, login key.
    pub async fn delete_user(&mut self, user_id: &UserId) -> Result<bool> {
        const FORGET: &str =
            "UPDATE audit_events SET ip = NULL, user_agent = NULL, login_key = NULL
             WHERE actor_user_id = $1 OR (actor_user_id IS NULL AND subject_user_id = $1)";
        self.touched_user(user_id);
        let user_id = user_id.to_string();
        Ok(on_tx!(self, tx => {
            sqlx::query(FORGET).bind(&user_id).execute(&mut **tx).await?;
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(&user_id)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                > 0
        }))
    }
}
