//! Social sign-in: identities linked to users, and sign-ins under way (their state, kept
//! only as a keyed hash and taken by the one callback that may use it).

use portcullis_core::{HashedToken, SessionId, UserId};

use crate::error::map_unique;
use crate::{
    NewOauthAccount, NewOauthState, OauthAccountRow, OauthStateRow, Result, Store, Tx, UserRow,
    dispatch, dispatch_write, on_tx,
};

impl Store {
    pub async fn save_oauth_state(&self, state: &NewOauthState) -> Result<()> {
        const SQL: &str = "INSERT INTO oauth_states
             (state_hash, binding_hash, provider, secrets, redirect_to, transport, intent, session_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        dispatch_write!(self, pool => {
            sqlx::query(SQL)
                .bind(state.state_hash.as_str())
                .bind(state.binding_hash.as_str())
                .bind(&state.provider)
                .bind(&state.secrets)
                .bind(&state.redirect_to)
                .bind(state.transport)
                .bind(state.intent)
                .bind(state.session_id.map(|id| id.to_string()))
                .bind(state.created_at)
                .bind(state.expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Deletes the state with this hash and returns it, if it has not expired at `now`: a
    /// state is taken once, whatever the outcome of the callback that took it.
    pub async fn take_oauth_state(
        &self,
        state_hash: &HashedToken,
        now: i64,
    ) -> Result<Option<OauthStateRow>> {
        const SQL: &str = "DELETE FROM oauth_states WHERE state_hash = $1
             RETURNING binding_hash, provider, secrets, redirect_to, transport, intent, session_id, expires_at";
        let row = dispatch_write!(self, pool => {
            sqlx::query_as::<_, OauthStateRow>(SQL)
                .bind(state_hash.as_str())
                .fetch_optional(pool)
                .await?
        });
        Ok(row.filter(|state| state.expires_at > now))
    }

    /// Deletes the states that expired unused; returns how many.
    pub async fn prune_oauth_states(&self, now: i64) -> Result<u64> {
        Ok(dispatch_write!(self, pool => {
            sqlx::query("DELETE FROM oauth_states WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// The identities linked to the user, oldest first.
    pub async fn oauth_accounts_of(&self, user_id: &UserId) -> Result<Vec<OauthAccountRow>> {
        const SQL: &str = "SELECT provider, provider_user_id, email, created_at FROM oauth_accounts
             WHERE user_id = $1 ORDER BY created_at, provider";
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, OauthAccountRow>(SQL)
                .bind(user_id.to_string())
                .fetch_all(pool)
                .await?
        }))
    }

    /// The user an identity is linked to.
    pub async fn user_by_identity(
        &self,
        provider: &str,
        provider_user_id: &str,
    ) -> Result<Option<UserRow>> {
        const SQL: &str = "SELECT u.id, u.email, u.email_verified, u.name, u.username, u.image,
                u.role, u.banned, u.ban_reason, u.ban_expires_at, u.created_at, u.last_login_at
             FROM oauth_accounts a JOIN users u ON u.id = a.user_id
             WHERE a.provider = $1 AND a.provider_user_id = $2";
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, UserRow>(SQL)
                .bind(provider)
                .bind(provider_user_id)
                .fetch_optional(pool)
                .await?
        }))
    }
}

impl Tx {
    /// Links an identity; `IdentityLinked` when another user holds it, `ProviderLinked` when
    /// the user already holds another identity of this provider.
    pub async fn link_identity(&mut self, account: &NewOauthAccount) -> Result<()> {
        const SQL: &str = "INSERT INTO oauth_accounts (id, user_id, provider, provider_user_id, email, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)";
        on_tx!(self, tx => {
            sqlx::query(SQL)
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(account.user_id.to_string())
                .bind(&account.provider)
                .bind(&account.provider_user_id)
                .bind(&account.email)
                .bind(account.created_at)
                .execute(&mut **tx)
                .await
                .map_err(map_unique)?;
        });
        Ok(())
    }

    /// Unlinks the user's identity at `provider`; false when there was none.
    pub async fn unlink_identity(&mut self, user_id: &UserId, provider: &str) -> Result<bool> {
        Ok(on_tx!(self, tx => {
            sqlx::query("DELETE FROM oauth_accounts WHERE user_id = $1 AND provider = $2")
                .bind(user_id.to_string())
                .bind(provider)
                .execute(&mut **tx)
                .await?
                .rows_affected()
        }) > 0)
    }

    /// How many identities the user has linked.
    pub async fn identity_count(&mut self, user_id: &UserId) -> Result<i64> {
        Ok(on_tx!(self, tx => {
            sqlx::query_scalar("SELECT COUNT(*) FROM oauth_accounts WHERE user_id = $1")
                .bind(user_id.to_string())
                .fetch_one(&mut **tx)
                .await?
        }))
    }

    /// Records that the session's user proved who they are again at `now`.
    pub async fn mark_reauthenticated(&mut self, session_id: &SessionId, now: i64) -> Result<()> {
        self.touched_session(session_id);
        on_tx!(self, tx => {
            sqlx::query("UPDATE sessions SET reauthenticated_at = $2 WHERE id = $1")
                .bind(session_id.to_string())
                .bind(now)
                .execute(&mut **tx)
                .await?;
        });
        Ok(())
    }
}
