//! Announcements of changed users and sessions, for nodes that keep copies of them.
//!
//! On PostgreSQL, triggers (migration `20261208000001_change_announcements`) send
//! `NOTIFY "portcullis_changes:<schema>"` with `u:<user id>` or `s:<session id>` for every
//! change that matters to a copy, delivered when the writing transaction commits, whichever
//! node or program wrote it. A node listens on a connection of its own and checks that the
//! channel is alive by hearing its own heartbeats on it. SQLite has no such channel: a node
//! notices other processes' commits by polling [`Store::foreign_write_marker`].

use std::time::Duration;

use portcullis_core::{SessionId, UserId};
use sqlx::postgres::{PgListener, PgPoolOptions};

use crate::{Result, Store};

/// What one announcement says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    User(UserId),
    Session(SessionId),
    /// A heartbeat, with the payload its sender chose.
    Heartbeat(String),
    /// Something this version does not know how to read: assume anything changed.
    Unknown,
}

impl Announced {
    fn parse(payload: &str) -> Self {
        let parsed = match payload.split_once(':') {
            Some(("u", id)) => id.parse().ok().map(Self::User),
            Some(("s", id)) => id.parse().ok().map(Self::Session),
            Some(("h", beat)) => Some(Self::Heartbeat(beat.to_owned())),
            _ => None,
        };
        parsed.unwrap_or(Self::Unknown)
    }
}

/// A live subscription to the announcements of this database schema.
pub struct ChangeFeed {
    listener: PgListener,
    channel: String,
}

impl Store {
    /// Whether this database announces changes (PostgreSQL does; SQLite runs one node).
    pub fn has_change_feed(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Subscribes to announcements, on a connection of its own (application name
    /// `portcullis-changes`); `None` on SQLite.
    pub async fn change_feed(&self) -> Result<Option<ChangeFeed>> {
        let Self::Postgres(pool) = self else {
            return Ok(None);
        };
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(pool)
            .await?;
        let options = (*pool.connect_options())
            .clone()
            .application_name("portcullis-changes");
        let own = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        let mut listener = PgListener::connect_with(&own).await?;
        // A lost connection is reported, never mended behind the caller's back: what was
        // announced meanwhile is lost, which the caller must know.
        listener.eager_reconnect(false);
        let channel = format!("portcullis_changes:{schema}");
        listener.listen(&channel).await?;
        Ok(Some(ChangeFeed { listener, channel }))
    }

    /// On SQLite, a number that changes whenever another connection (another process, such
    /// as `sqlite3` or a second node on the same file) commits: SQLite's `data_version` as the
    /// writer connection sees it, which this node's own commits leave alone. `None` on
    /// PostgreSQL, whose changes are announced.
    pub async fn foreign_write_marker(&self) -> Result<Option<i64>> {
        let Self::Sqlite { write, .. } = self else {
            return Ok(None);
        };
        let version = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(write)
            .await?;
        Ok(Some(version))
    }

    /// Sends a heartbeat on `feed`'s channel, through the store's pool.
    pub async fn send_heartbeat(&self, feed: &ChangeFeed, beat: &str) -> Result<()> {
        if let Self::Postgres(pool) = self {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&feed.channel)
                .bind(format!("h:{beat}"))
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

impl ChangeFeed {
    /// The next announcement; `None` once the connection is lost, after which announcements
    /// may have been missed and the feed is done (subscribe again).
    pub async fn next(&mut self) -> Result<Option<Announced>> {
        Ok(self
            .listener
            .try_recv()
            .await?
            .map(|n| Announced::parse(n.payload())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_parse_or_say_anything_changed() {
        let user: UserId = "0190a0b0-0000-7000-8000-000000000001".parse().unwrap();
        assert_eq!(
            Announced::parse(&format!("u:{user}")),
            Announced::User(user)
        );
        assert_eq!(
            Announced::parse("h:abc"),
            Announced::Heartbeat("abc".into())
        );
        assert_eq!(Announced::parse("u:nope"), Announced::Unknown);
        assert_eq!(Announced::parse("x"), Announced::Unknown);
    }
}
