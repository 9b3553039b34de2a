//! Storage for Portcullis over SQLite and PostgreSQL.
//!
//! Every query is written once, with `$N` placeholders that both backends accept, and
//! [`dispatch!`] stamps it for each pool. Where SQL must differ, the difference lives here,
//! never in services. Ids are UUIDv7 text and timestamps unix milliseconds on both backends.

mod connect;
mod error;
mod migrations;
mod models;
mod sessions;
mod signing_keys;
mod users;

pub use connect::{PoolOptions, Store};
pub use error::StoreError;
pub use migrations::{Drift, MigrationReport};
pub use models::{
    Liveness, NewSession, NewSigningKey, NewUser, ProfileChange, RefreshOutcome, SessionRow,
    SigningKeyRow, UserFilter, UserRow,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs one body against whichever pool the store holds; `$pool` is bound to it.
macro_rules! dispatch {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite($pool) => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use dispatch;
