use portcullis_core::{HashedToken, SessionId, UserId};

use crate::models::Liveness;
use crate::users::user_columns;
use sqlx::FromRow;

/// The most sessions a list shows: the newest, when an account has more.
pub const MAX_LISTED_SESSIONS: i64 = 200;
use crate::{
    NewAuditEvent, NewSession, RefreshOutcome, Result, SessionRow, Store, Tx, UserRow, dispatch,
    dispatch_write, on_tx,
};

/// `SELECT` of session columns followed by `$condition` and the liveness test: a session is
/// live when not revoked, not past its absolute end, and used recently enough.
macro_rules! live_sessions_where {
    ($condition:literal $(, $tail:literal)?) => {
        concat!(
            "SELECT id, user_id, transport, created_at, last_seen_at, expires_at, ip, user_agent,
                reauthenticated_at
             FROM sessions WHERE ", $condition,
            " AND revoked_at IS NULL AND expires_at > $2 AND last_seen_at > $3" $(, $tail)?
        )
    };
}

impl SessionRow {
    /// The liveness test of `live_sessions_where!` (but for revocation: a revoked session is
    /// never read), for a copy of a row read earlier.
    pub fn is_live(&self, live: Liveness) -> bool {
        self.expires_at > live.now && self.last_seen_at > live.idle_cutoff
    }
}

impl Store {
    /// The session with this id, if it is live.
    pub async fn live_session(&self, id: &SessionId, live: Liveness) -> Result<Option<SessionRow>> {
        self.live_session_where(live_sessions_where!("id = $1"), &id.to_string(), live)
            .await
    }

    /// The live cookie session whose token hashes to `token_hash`.
    pub async fn live_session_by_token(
        &self,
        token_hash: &HashedToken,
        live: Liveness,
    ) -> Result<Option<SessionRow>> {
        self.live_session_where(
            live_sessions_where!("token_hash = $1"),
            token_hash.as_str(),
            live,
        )
        .await
    }

    /// The live session of an unused refresh token, for introspection.
    pub async fn live_session_by_refresh_token(
        &self,
        token_hash: &HashedToken,
        live: Liveness,
    ) -> Result<Option<SessionRow>> {
        const SQL: &str = live_sessions_where!(
            "id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL)"
        );
        self.live_session_where(SQL, token_hash.as_str(), live)
            .await
    }

    /// Whether a refresh token with this hash was ever issued (used or not): a read that lets
    /// a refresh of a token that never existed end before it takes the writer.
    pub async fn refresh_token_exists(&self, token_hash: &HashedToken) -> Result<bool> {
        const SQL: &str = "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = $1";
        let count: i64 = dispatch!(self, pool => {
            sqlx::query_scalar(SQL).bind(token_hash.as_str()).fetch_one(pool).await?
        });
        Ok(count > 0)
    }

    /// The live session selected by `sql` (from `live_sessions_where!`) with `$1 = key`.
    async fn live_session_where(
        &self,
        sql: &'static str,
        key: &str,
        live: Liveness,
    ) -> Result<Option<SessionRow>> {
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, SessionRow>(sql)
                .bind(key)
                .bind(live.now)
                .bind(live.idle_cutoff)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// How many sessions are live.
    pub async fn count_live_sessions(&self, live: Liveness) -> Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM sessions
            WHERE revoked_at IS NULL AND expires_at > $1 AND last_seen_at > $2";
        Ok(dispatch!(self, pool => {
            sqlx::query_scalar(SQL).bind(live.now).bind(live.idle_cutoff).fetch_one(pool).await?
        }))
    }

    /// Records use of a session, at most once per `min_interval_ms`, so reads stay reads.
    pub async fn touch_session(
        &self,
        id: &SessionId,
        now: i64,
        min_interval_ms: i64,
    ) -> Result<()> {
        dispatch_write!(self, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $3")
                .bind(id.to_string())
                .bind(now)
                .bind(now - min_interval_ms)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The user's live sessions, oldest first: the newest [`MAX_LISTED_SESSIONS`] of them,
    /// so that no account can make a list grow without bound.
    pub async fn live_sessions_of(
        &self,
        user_id: &UserId,
        live: Liveness,
    ) -> Result<Vec<SessionRow>> {
        const SQL: &str = live_sessions_where!(
            "user_id = $1",
            " ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let mut sessions = dispatch!(self, pool => {
            sqlx::query_as::<_, SessionRow>(SQL)
                .bind(user_id.to_string())
                .bind(live.now)
                .bind(live.idle_cutoff)
                .bind(MAX_LISTED_SESSIONS)
                .fetch_all(pool)
                .await?
        });
        sessions.reverse();
        Ok(sessions)
    }
}

impl Tx {
    /// The session with this id if it is live, read in this transaction: a change that relies
    /// on its session reads it here, after locking the user, so that a revocation committed
    /// since the request was authenticated is seen.
    pub async fn live_session(
        &mut self,
        id: &SessionId,
        live: Liveness,
    ) -> Result<Option<SessionRow>> {
        const SQL: &str = live_sessions_where!("id = $1");
        Ok(on_tx!(self, tx => {
            sqlx::query_as::<_, SessionRow>(SQL)
                .bind(id.to_string())
                .bind(live.now)
                .bind(live.idle_cutoff)
                .fetch_optional(&mut **tx)
                .await?
        }))
    }

    /// Stores a new session (and its first refresh token) and stamps the user's sign-in.
    pub async fn create_session(&mut self, session: &NewSession) -> Result<()> {
        // The user's row changes (its last sign-in).
        self.touched_user(&session.user_id);
        let (session_id, user_id) = (session.id.to_string(), session.user_id.to_string());
        on_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO sessions
                    (id, user_id, transport, token_hash, created_at, last_seen_at, expires_at, ip, user_agent)
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
            )
            .bind(&session_id)
            .bind(&user_id)
            .bind(session.transport)
            .bind(session.token_hash.as_ref().map(HashedToken::as_str))
            .bind(session.now)
            .bind(session.expires_at)
            .bind(&session.ip)
            .bind(&session.user_agent)
            .execute(&mut **tx)
            .await?;
            if let Some(refresh_hash) = &session.refresh {
                sqlx::query(
                    "INSERT INTO refresh_tokens (id, session_id, token_hash, created_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&session_id)
                .bind(refresh_hash.as_str())
                .bind(session.now)
                .execute(&mut **tx)
                .await?;
            }
            sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
                .bind(&user_id)
                .bind(session.now)
                .execute(&mut **tx)
                .await?;
        });
        Ok(())
    }

    /// Revokes one session of one user; false when no such live session belongs to them.
    pub async fn revoke_session(
        &mut self,
        user_id: &UserId,
        session_id: &SessionId,
        now: i64,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE sessions SET revoked_at = $3
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL";
        self.touched_session(session_id);
        Ok(on_tx!(self, tx => {
            sqlx::query(SQL)
                .bind(session_id.to_string())
                .bind(user_id.to_string())
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// Revokes every session of the user except `keep`; returns how many ended. Their
    /// refresh tokens die with them: a refresh needs a live session.
    pub async fn revoke_sessions_of(
        &mut self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: i64,
    ) -> Result<u64> {
        const SQL: &str = "UPDATE sessions SET revoked_at = $3
             WHERE user_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id <> $2)
             RETURNING id";
        let ended: Vec<String> = on_tx!(self, tx => {
            sqlx::query_scalar(SQL)
                .bind(user_id.to_string())
                .bind(keep.map(SessionId::to_string))
                .bind(now)
                .fetch_all(&mut **tx)
                .await?
        });
        for id in ended.iter().filter_map(|id| id.parse().ok()) {
            self.touched_session(&id);
        }
        Ok(ended.len() as u64)
    }

    /// Uses a refresh token once. The conditional update is the lock: of many concurrent
    /// calls with one token exactly one sees `used_at IS NULL`, so the family never forks.
    /// Commit after `Rotated` and `ReusedSessionRevoked`; the other outcomes changed nothing
    /// worth keeping, so drop the transaction.
    pub async fn rotate_refresh_token(
        &mut self,
        token_hash: &HashedToken,
        child_hash: &HashedToken,
        live: Liveness,
        grace_ms: i64,
    ) -> Result<RefreshOutcome> {
        const LIVE_SESSION: &str = live_sessions_where!("id = $1");
        let revoked = on_tx!(self, tx => {
            let claimed: Option<(String, String)> = sqlx::query_as(
                "UPDATE refresh_tokens SET used_at = $2
                 WHERE token_hash = $1 AND used_at IS NULL
                 RETURNING id, session_id",
            )
            .bind(token_hash.as_str())
            .bind(live.now)
            .fetch_optional(&mut **tx)
            .await?;

            if let Some((parent_id, session_id)) = claimed {
                let session = sqlx::query_as::<_, SessionRow>(LIVE_SESSION)
                    .bind(&session_id)
                    .bind(live.now)
                    .bind(live.idle_cutoff)
                    .fetch_optional(&mut **tx)
                    .await?;
                let Some(session) = session else {
                    return Ok(RefreshOutcome::Invalid);
                };
                sqlx::query(
                    "INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&session_id)
                .bind(&parent_id)
                .bind(child_hash.as_str())
                .bind(live.now)
                .execute(&mut **tx)
                .await?;
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
                    .bind(&session_id)
                    .bind(live.now)
                    .execute(&mut **tx)
                    .await?;
                return Ok(RefreshOutcome::Rotated(SessionRow { last_seen_at: live.now, ..session }));
            }

            let used: Option<(String, Option<i64>, String)> = sqlx::query_as(
                "SELECT r.session_id, r.used_at, s.user_id
                 FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
                 WHERE r.token_hash = $1",
            )
            .bind(token_hash.as_str())
            .fetch_optional(&mut **tx)
            .await?;
            let Some((session_id, Some(used_at), user_id)) = used else {
                return Ok(RefreshOutcome::Invalid);
            };
            let (Ok(session_id), Ok(user_id)) = (session_id.parse(), user_id.parse()) else {
                return Ok(RefreshOutcome::Invalid);
            };
            if live.now - used_at <= grace_ms {
                return Ok(RefreshOutcome::ReusedWithinGrace { session_id, user_id });
            }
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(session_id.to_string())
                .bind(live.now)
                .execute(&mut **tx)
                .await?;
            RefreshOutcome::ReusedSessionRevoked { session_id, user_id }
        });
        if let RefreshOutcome::ReusedSessionRevoked { session_id, .. } = &revoked {
            self.touched_session(session_id);
        }
        Ok(revoked)
    }
}

/// A refresh token used once: its session and the session's user.
#[derive(Debug)]
pub struct Rotation {
    pub session_id: SessionId,
    pub user: UserRow,
}

/// The whole of a successful refresh as one PostgreSQL statement: the token is used if it is
/// unused, its session live and its user not banned; then its child is stored, the session
/// stamped and the audit row written, each a data-modifying CTE over the claimed row.
const ROTATE_AT_ONCE_POSTGRES: &str = concat!(
    "WITH claimed AS (
        UPDATE refresh_tokens r SET used_at = $2
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE r.token_hash = $1 AND r.used_at IS NULL AND s.id = r.session_id
          AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.last_seen_at > $3
          AND NOT (u.banned AND (u.ban_expires_at IS NULL OR u.ban_expires_at > $2))
        RETURNING r.id AS parent_id, r.session_id, s.user_id
    ), child AS (
        INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, created_at)
        SELECT $4, session_id, parent_id, $5, $2 FROM claimed
    ), stamped AS (
        UPDATE sessions SET last_seen_at = $2 WHERE id IN (SELECT session_id FROM claimed)
    ), recorded AS (
        INSERT INTO audit_events (id, at, action, outcome, actor_user_id, subject_user_id, ip,
            user_agent, request_id, login_key, detail)
        SELECT $6, $2, $7, $8, user_id, user_id, $9, $10, $11, NULL,
            jsonb_build_object('session_id', session_id)::text
        FROM claimed
    )
    SELECT ",
    user_columns!(),
    ", c.session_id AS rotated_session FROM claimed c JOIN users u ON u.id = c.user_id"
);

/// The same on SQLite, which has no data-modifying CTEs: statements sent together, in one
/// transaction, so that the writer is held for one exchange with it rather than seven. Each
/// step after the claim goes on only if the claim changed a row (`changes()`), then finds
/// its way through the child token ($5).
const ROTATE_AT_ONCE_SQLITE: &str = concat!(
    "UPDATE refresh_tokens SET used_at = $2
     WHERE token_hash = $1 AND used_at IS NULL AND EXISTS (
        SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = refresh_tokens.session_id
          AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.last_seen_at > $3
          AND NOT (u.banned AND (u.ban_expires_at IS NULL OR u.ban_expires_at > $2)));
     INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, created_at)
     SELECT $4, session_id, id, $5, $2 FROM refresh_tokens
     WHERE token_hash = $1 AND changes() = 1;
     UPDATE sessions SET last_seen_at = $2
     WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $5);
     INSERT INTO audit_events (id, at, action, outcome, actor_user_id, subject_user_id, ip,
         user_agent, request_id, login_key, detail)
     SELECT $6, $2, $7, $8, s.user_id, s.user_id, $9, $10, $11, NULL,
         json_object('session_id', s.id)
     FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $5;
     SELECT ",
    user_columns!(),
    ", r.session_id AS rotated_session
     FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
     JOIN users u ON u.id = s.user_id WHERE r.token_hash = $5"
);

/// Binds the arguments of the `ROTATE_AT_ONCE_*` statements, `$1` to `$11`, in order.
macro_rules! bind_rotation {
    ($sql:expr, $token_hash:expr, $child_hash:expr, $live:expr, $event:expr) => {
        sqlx::query($sql)
            .bind($token_hash.as_str())
            .bind($live.now)
            .bind($live.idle_cutoff)
            .bind(uuid::Uuid::now_v7().to_string())
            .bind($child_hash.as_str())
            .bind(&$event.id)
            .bind($event.action)
            .bind($event.outcome)
            .bind(&$event.ip)
            .bind(&$event.user_agent)
            .bind(&$event.request_id)
    };
}

/// The rotation in `row`, the last answer of a `ROTATE_AT_ONCE_*` statement.
fn rotation<R: sqlx::Row>(row: &R) -> Result<Option<Rotation>>
where
    UserRow: for<'r> sqlx::FromRow<'r, R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let user = UserRow::from_row(row)?;
    let session_id: String = row.try_get("rotated_session")?;
    Ok(session_id
        .parse()
        .ok()
        .map(|session_id| Rotation { session_id, user }))
}

impl Store {
    /// The common refresh in one exchange with the database: uses the token if it is unused,
    /// its session live and its user not banned, stores `child_hash` after it, stamps the
    /// session and records `event` (its actor and subject the session's user, its detail the
    /// session id), all or nothing. `None` when the token did not rotate, having changed
    /// nothing: then [`Tx::rotate_refresh_token`] says why. On SQLite a token never issued
    /// holds the writer for one indexed look-up here; the refresh limit per client bounds how
    /// often.
    pub async fn rotate_refresh_token_at_once(
        &self,
        token_hash: &HashedToken,
        child_hash: &HashedToken,
        live: Liveness,
        event: &NewAuditEvent,
    ) -> Result<Option<Rotation>> {
        match self {
            Store::Postgres(pool) => {
                let row =
                    bind_rotation!(ROTATE_AT_ONCE_POSTGRES, token_hash, child_hash, live, event)
                        .fetch_optional(pool)
                        .await?;
                row.as_ref().map_or(Ok(None), rotation)
            }
            Store::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                let row =
                    bind_rotation!(ROTATE_AT_ONCE_SQLITE, token_hash, child_hash, live, event)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let rotated = rotation(&row)?;
                tx.commit().await?;
                Ok(rotated)
            }
        }
    }
}

impl Store {
    /// Deletes sessions that ended before `before` (revoked, past their absolute end, or idle
    /// since `idle_before`) with their refresh tokens, and refresh tokens used before
    /// `before`, whose children (the live tokens of their family among them) lose only their
    /// parent link. Three statements, each complete in itself, so that the writer is never
    /// held between them. Returns the sessions and the tokens deleted.
    pub async fn prune_sessions(&self, before: i64, idle_before: i64) -> Result<(u64, u64)> {
        Ok(dispatch_write!(self, pool => {
            let sessions = sqlx::query(
                "DELETE FROM sessions WHERE revoked_at < $1 OR expires_at < $1 OR last_seen_at < $2",
            )
            .bind(before)
            .bind(idle_before)
            .execute(pool)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE refresh_tokens SET parent_id = NULL
                 WHERE parent_id IN (SELECT id FROM refresh_tokens WHERE used_at < $1)",
            )
            .bind(before)
            .execute(pool)
            .await?;
            let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE used_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected();
            (sessions, tokens)
        }))
    }
}
