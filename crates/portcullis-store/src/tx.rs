//! A transaction: every state change of one request is written through one `Tx`, so the
//! change, its audit event and the email it sends commit together or not at all. Dropping a
//! `Tx` without [`Tx::commit`] rolls it back.

use portcullis_core::{SessionId, UserId};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::Result;

pub struct Tx {
    pub(crate) conn: Conn,
    touched: Touched,
}

/// The open transaction on one backend.
pub enum Conn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// The users and sessions a transaction changed in ways that matter to whoever holds a copy
/// of them (a node's cache of who is signed in): known once it commits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched {
    pub users: Vec<UserId>,
    pub sessions: Vec<SessionId>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.sessions.is_empty()
    }
}

impl Tx {
    pub(crate) fn new(conn: Conn) -> Self {
        Self {
            conn,
            touched: Touched::default(),
        }
    }

    /// Commits, and returns what the transaction changed of users and sessions.
    pub async fn commit(self) -> Result<Touched> {
        match self.conn {
            Conn::Sqlite(tx) => tx.commit().await?,
            Conn::Postgres(tx) => tx.commit().await?,
        }
        Ok(self.touched)
    }

    /// The open connection, for a statement of the caller's own (tests that hold locks).
    pub fn conn_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }

    pub(crate) fn touched_user(&mut self, id: &UserId) {
        self.touched.users.push(*id);
    }

    pub(crate) fn touched_session(&mut self, id: &SessionId) {
        self.touched.sessions.push(*id);
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.conn {
            Conn::Sqlite(_) => "Tx(sqlite)",
            Conn::Postgres(_) => "Tx(postgres)",
        })
    }
}
