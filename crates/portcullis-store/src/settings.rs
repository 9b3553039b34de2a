//! Runtime settings: the values admins set, by key, as JSON text.

use portcullis_core::UserId;

use crate::{Result, Store, Tx, dispatch, on_tx};

impl Store {
    /// Every stored setting, `(key, JSON value)`.
    pub async fn settings(&self) -> Result<Vec<(String, String)>> {
        Ok(dispatch!(self, pool => {
            sqlx::query_as("SELECT key, value FROM settings ORDER BY key")
                .fetch_all(pool)
                .await?
        }))
    }
}

impl Tx {
    /// Sets `key` to the JSON `value`, by `by` at `now`.
    pub async fn put_setting(
        &mut self,
        key: &str,
        value: &str,
        now: i64,
        by: &UserId,
    ) -> Result<()> {
        const SQL: &str =
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3, updated_by = $4";
        on_tx!(self, tx => {
            sqlx::query(SQL)
                .bind(key)
                .bind(value)
                .bind(now)
                .bind(by.to_string())
                .execute(&mut **tx)
                .await?;
        });
        Ok(())
    }

    /// The stored value of `key`, read in this transaction.
    pub async fn setting(&mut self, key: &str) -> Result<Option<String>> {
        Ok(on_tx!(self, tx => {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?
        }))
    }

    /// Removes `key`: its default applies again.
    pub async fn delete_setting(&mut self, key: &str) -> Result<()> {
        on_tx!(self, tx => {
            sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(key)
                .execute(&mut **tx)
                .await?;
        });
        Ok(())
    }
}
