//! Storage for Portcullis over SQLite and PostgreSQL.
//!
//! Every query is written once, with `$N` placeholders that both backends accept, and
//! [`dispatch!`] (reads), [`dispatch_write!`] (single-statement writes) or [`on_tx!`] (writes
//! inside a [`Tx`]) stamps it for each backend. Where SQL must differ, the difference lives
//! here, never in services. Ids are UUIDv7 text and timestamps unix milliseconds on both.

mod audit;
mod changes;
mod connect;
mod error;
mod migrations;
mod models;
mod oauth;
mod outbox;
mod sessions;
mod settings;
mod signing_keys;
mod tokens;
mod tx;
mod users;

pub use changes::{Announced, ChangeFeed};
pub use connect::{PoolOptions, Store};
pub use error::StoreError;
pub use migrations::{Drift, MigrationReport};
pub use models::*;
pub use sessions::{MAX_LISTED_SESSIONS, Rotation};
pub use tx::{Conn, Touched, Tx};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs one body against whichever read pool the store holds; `$pool` is bound to it.
macro_rules! dispatch {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite { read: $pool, .. } => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}

/// As [`dispatch!`], with the pool that writes (SQLite's single writer).
macro_rules! dispatch_write {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite { write: $pool, .. } => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}

/// Runs one body inside a transaction; `$conn` is bound to the open transaction, and
/// queries take `&mut **$conn` as their executor.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut $tx.conn {
            $crate::Conn::Sqlite($conn) => $body,
            $crate::Conn::Postgres($conn) => $body,
        }
    };
}
pub(crate) use {dispatch, dispatch_write, on_tx};
