//! Link tokens (email verification, password reset, email change), kept only as keyed
//! hashes. Issuing one replaces the user's earlier token of the same kind; using one deletes
//! it in the same statement that finds it, so a token works at most once.

use portcullis_core::{HashedToken, UserId};

use crate::{NewOneTimeToken, Result, Store, Tx, UsedToken, dispatch, dispatch_write, on_tx};

const ISSUED_SINCE: &str = "SELECT COUNT(*) FROM one_time_tokens
     WHERE user_id = $1 AND kind = $2 AND created_at > $3";

impl Tx {
    pub async fn issue_one_time_token(&mut self, token: &NewOneTimeToken) -> Result<()> {
        let user_id = token.user_id.to_string();
        on_tx!(self, tx => {
            sqlx::query("DELETE FROM one_time_tokens WHERE user_id = $1 AND kind = $2")
                .bind(&user_id)
                .bind(token.kind)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO one_time_tokens (token_hash, kind, user_id, email, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(token.token_hash.as_str())
            .bind(token.kind)
            .bind(&user_id)
            .bind(&token.email)
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(&mut **tx)
            .await?;
        });
        Ok(())
    }

    /// Whether the user was sent a token of `kind` after `since` that is still unused.
    pub async fn token_issued_since(
        &mut self,
        user_id: &UserId,
        kind: &str,
        since: i64,
    ) -> Result<bool> {
        let count: i64 = on_tx!(self, tx => {
            sqlx::query_scalar(ISSUED_SINCE)
                .bind(user_id.to_string())
                .bind(kind)
                .bind(since)
                .fetch_one(&mut **tx)
                .await?
        });
        Ok(count > 0)
    }

    /// Uses up the unexpired token of `kind` with this hash; `None` when there is none.
    pub async fn use_one_time_token(
        &mut self,
        kind: &str,
        token_hash: &HashedToken,
        now: i64,
    ) -> Result<Option<UsedToken>> {
        const SQL: &str = "DELETE FROM one_time_tokens
             WHERE token_hash = $1 AND kind = $2 AND expires_at > $3
             RETURNING user_id, email";
        Ok(on_tx!(self, tx => {
            sqlx::query_as::<_, UsedToken>(SQL)
                .bind(token_hash.as_str())
                .bind(kind)
                .bind(now)
                .fetch_optional(&mut **tx)
                .await?
        }))
    }

    /// Invalidates every outstanding link token of the user (after a password change).
    pub async fn delete_one_time_tokens_of(&mut self, user_id: &UserId) -> Result<u64> {
        Ok(on_tx!(self, tx => {
            sqlx::query("DELETE FROM one_time_tokens WHERE user_id = $1")
                .bind(user_id.to_string())
                .execute(&mut **tx)
                .await?
                .rows_affected()
        }))
    }
}

impl Store {
    /// As [`Tx::token_issued_since`], outside a transaction: a cheap first look.
    pub async fn token_issued_since(
        &self,
        user_id: &UserId,
        kind: &str,
        since: i64,
    ) -> Result<bool> {
        let count: i64 = dispatch!(self, pool => {
            sqlx::query_scalar(ISSUED_SINCE)
                .bind(user_id.to_string())
                .bind(kind)
                .bind(since)
                .fetch_one(pool)
                .await?
        });
        Ok(count > 0)
    }

    /// The unexpired token of `kind` with this hash, without using it up.
    pub async fn live_one_time_token(
        &self,
        kind: &str,
        token_hash: &HashedToken,
        now: i64,
    ) -> Result<Option<UsedToken>> {
        const SQL: &str = "SELECT user_id, email FROM one_time_tokens
             WHERE token_hash = $1 AND kind = $2 AND expires_at > $3";
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, UsedToken>(SQL)
                .bind(token_hash.as_str())
                .bind(kind)
                .bind(now)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Deletes expired link tokens; returns how many.
    pub async fn prune_one_time_tokens(&self, now: i64) -> Result<u64> {
        Ok(dispatch_write!(self, pool => {
            sqlx::query("DELETE FROM one_time_tokens WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
