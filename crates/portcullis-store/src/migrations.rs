//! Embedded migrations and the schema drift check run at start-up.

use sqlx::migrate::Migrator;

use crate::{Result, Store, StoreError, dispatch, dispatch_write};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// How the database's schema compares with the migrations built into this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Every migration is applied and nothing unknown is.
    UpToDate,
    /// These migrations of the binary are not applied yet.
    Behind(Vec<String>),
    /// The database has migrations this binary does not know (a newer version ran on it),
    /// or an applied migration differs from the binary's copy.
    Ahead(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub backend: &'static str,
    pub drift: Drift,
}

impl Store {
    fn migrator(&self) -> &'static Migrator {
        match self {
            Self::Sqlite { .. } => &SQLITE,
            Self::Postgres(_) => &POSTGRES,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = self.migrator();
        dispatch_write!(self, pool => migrator.run(pool).await?);
        Ok(())
    }

    /// Compares applied migrations with the binary's, without writing anything.
    pub async fn migration_report(&self) -> Result<MigrationReport> {
        // A database never migrated has no bookkeeping table; that reads as "none applied".
        let applied: Vec<(i64, Vec<u8>)> = dispatch!(self, pool => {
            match sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(pool)
                .await
            {
                Ok(rows) => rows,
                Err(sqlx::Error::Database(_)) => Vec::new(),
                Err(e) => return Err(StoreError::Database(e)),
            }
        });
        let known = &self.migrator().migrations;
        let name = |version: i64| {
            known.iter().find(|m| m.version == version).map_or_else(
                || version.to_string(),
                |m| format!("{} {}", m.version, m.description),
            )
        };
        let ahead: Vec<String> = applied
            .iter()
            .filter(|(version, checksum)| {
                known
                    .iter()
                    .find(|m| m.version == *version)
                    .is_none_or(|m| m.checksum.as_ref() != checksum.as_slice())
            })
            .map(|(version, _)| name(*version))
            .collect();
        let behind: Vec<String> = known
            .iter()
            .filter(|m| !applied.iter().any(|(version, _)| *version == m.version))
            .map(|m| name(m.version))
            .collect();
        let drift = if !ahead.is_empty() {
            Drift::Ahead(ahead)
        } else if !behind.is_empty() {
            Drift::Behind(behind)
        } else {
            Drift::UpToDate
        };
        Ok(MigrationReport {
            backend: self.backend(),
            drift,
        })
    }
}
