use crate::{NewSigningKey, Result, SigningKeyRow, Store, dispatch};

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

    pub async fn insert_signing_key(&self, key: &NewSigningKey) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.kid)
            .bind(&key.alg)
            .bind(&key.private_key)
            .bind(&key.public_jwk)
            .bind(key.now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
