//! A transaction: every state change of one request is written through one `Tx`, so the
//! change, its audit event and the email it sends commit together or not at all. Dropping a
//! `Tx` without [`Tx::commit`] rolls it back.

use sqlx::{Postgres, Sqlite, Transaction};

use crate::Result;

pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Self::Sqlite(tx) => tx.commit().await?,
            Self::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite(_) => "Tx(sqlite)",
            Self::Postgres(_) => "Tx(postgres)",
        })
    }
}
