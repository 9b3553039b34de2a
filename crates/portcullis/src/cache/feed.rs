//! Hearing the changes other nodes commit (PostgreSQL's announcements, see
//! `portcullis_store::ChangeFeed`), and knowing when they cannot be heard.
//!
//! The node subscribes on a connection of its own, then sends itself a heartbeat on the same
//! channel every [`HEARTBEAT`]. The cache is trusted only while the subscription is up and
//! its own heartbeats come back within [`SILENCE`]: a connection that dies, or one that
//! silently stops delivering, puts the node back on the database within about a second,
//! which is also the bound on how long another node's revocation can go unseen here.
//!
//! On SQLite, where one node normally runs and hears its own writes directly, the node looks
//! twice a second for commits by other processes and forgets everything when there were any.

use std::sync::Arc;
use std::time::Duration;

use portcullis_store::{Announced, ChangeFeed, Store};
use tokio::time::{Instant, MissedTickBehavior};

use super::AuthCache;

/// How often the node checks its channel with a heartbeat.
const HEARTBEAT: Duration = Duration::from_millis(250);
/// How long without hearing its own heartbeat before the node stops trusting its cache.
const SILENCE: Duration = Duration::from_millis(750);
/// The wait between attempts to subscribe again.
const RETRY: Duration = Duration::from_millis(500);
/// How often a node on SQLite looks for other processes' commits.
const FILE_POLL: Duration = Duration::from_millis(500);

/// Keeps `cache` in step with the database's announcements, for as long as the node runs.
pub async fn follow(store: Store, cache: Arc<AuthCache>) {
    if !store.has_change_feed() {
        return watch_file(store, cache).await;
    }
    // Each node tells its heartbeats from other nodes' by a token of its own.
    let me = uuid::Uuid::now_v7().simple().to_string();
    loop {
        match store.change_feed().await {
            Ok(Some(feed)) => listen(&store, &cache, feed, &me).await,
            Ok(None) => return,
            Err(err) => tracing::warn!(%err, "cannot subscribe to change announcements"),
        }
        cache.distrust();
        tokio::time::sleep(RETRY).await;
    }
}

/// Until the feed is lost or goes quiet: forget what is announced, trust the cache once
/// the first own heartbeat is back.
async fn listen(store: &Store, cache: &AuthCache, mut feed: ChangeFeed, me: &str) {
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heard = None::<Instant>;
    loop {
        tokio::select! {
            next = feed.next() => match next {
                Ok(Some(Announced::Heartbeat(from))) => {
                    if from == me {
                        if heard.is_none() {
                            // Everything committed before the subscription began may have
                            // gone unheard: start from nothing.
                            cache.trust();
                        }
                        heard = Some(Instant::now());
                    }
                }
                Ok(Some(announced)) => cache.forget_announced(&announced),
                Ok(None) => {
                    tracing::warn!("change announcements: connection lost");
                    return;
                }
                Err(err) => {
                    tracing::warn!(%err, "change announcements: connection failed");
                    return;
                }
            },
            _ = beat.tick() => {
                if heard.is_some_and(|at| at.elapsed() > SILENCE) {
                    tracing::warn!("change announcements: own heartbeats stopped coming back");
                    return;
                }
                if let Err(err) = store.send_heartbeat(&feed, me).await {
                    tracing::warn!(%err, "change announcements: heartbeat not sent");
                    return;
                }
            }
        }
    }
}

/// SQLite: when another process has committed to the file since the last look (an operator's
/// `sqlite3`, a second node), forget everything, since what it changed is unknown.
async fn watch_file(store: Store, cache: Arc<AuthCache>) {
    let mut last = None;
    let mut tick = tokio::time::interval(FILE_POLL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.foreign_write_marker().await {
            Ok(marker) => {
                if last.is_some() && marker != last {
                    cache.forget_everything();
                }
                last = marker;
            }
            Err(err) => tracing::debug!(%err, "cannot read the database's write marker"),
        }
    }
}
