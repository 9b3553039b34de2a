use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{Conn, Result, Tx, dispatch, dispatch_write};

/// The database behind Portcullis, chosen at run time by the URL's scheme.
///
/// SQLite allows one writer at a time, so writes go through a pool of one connection and
/// wait their turn in its fair queue rather than spinning on `SQLITE_BUSY`; reads use a pool
/// of their own, which WAL lets run beside the writer.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Connects to `sqlite://…` (created if missing, WAL) or `postgres://…`.
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            return Ok(Self::Postgres(pool));
        }
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = |max: u32| {
            SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
        };
        let write = pool(1).await?;
        // Every connection to an in-memory database is a database of its own.
        let read = if url.contains(":memory:") || url.contains("mode=memory") {
            write.clone()
        } else {
            pool(options.max_connections).await?
        };
        Ok(Self::Sqlite { read, write })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Starts a transaction; on SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a transaction that reads before it writes can never fail to upgrade its lock.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Self::Sqlite { write, .. } => {
                Tx::new(Conn::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?))
            }
            Self::Postgres(pool) => Tx::new(Conn::Postgres(pool.begin().await?)),
        })
    }

    /// A round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        dispatch_write!(self, pool => pool.close().await);
        dispatch!(self, pool => pool.close().await);
    }
}
