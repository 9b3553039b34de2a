use crate::{NewSigningKey, Result, SigningKeyRow, Store, dispatch, on_tx};

impl Store {
    /// Every stored signing key, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, SigningKeyRow>(
                "SELECT kid, alg, private_key, public_jwk, created_at, retired_at
                 FROM signing_keys ORDER BY created_at DESC, kid DESC",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Retires every active key and, when given, makes `new` the active one, atomically.
    pub async fn rotate_signing_key(&self, new: Option<&NewSigningKey>, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, tx => {
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(now)
                .execute(&mut **tx)
                .await?;
            if let Some(key) = new {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.private_key)
                .bind(&key.public_jwk)
                .bind(key.now)
                .execute(&mut **tx)
                .await?;
            }
        });
        tx.commit().await.map(|_| ())
    }
}
