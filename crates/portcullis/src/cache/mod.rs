//! The node's copies of hot sessions and users, so that authenticating a request is a few
//! memory reads instead of database round trips.
//!
//! Correctness rests on three rules:
//!
//! * A change this node commits drops the copies it touched before the request that made it
//!   answers ([`AuthCache::forget`], from `Change::commit`): a revocation or ban takes effect
//!   at once here.
//! * A change any other node (or program) commits is announced by the database (PostgreSQL
//!   triggers, [`feed`]) and dropped here when heard, normally within milliseconds. While the
//!   announcements cannot be heard, the copies are not trusted at all: every request reads
//!   the database, as without a cache.
//! * A copy read from the database while a change was being forgotten is not kept: every
//!   forgetting bumps an epoch, and a copy is kept only if the epoch did not move between
//!   the read and the keeping (checked again after it is stored).
//!
//! Copies are also re-read after [`MAX_AGE_MS`] whatever happens, which bounds the age of
//! what announcements leave out on purpose (a session's `last_seen_at`).

pub mod feed;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use portcullis_core::{HashedToken, SessionId, UserId};
use portcullis_store::{Announced, SessionRow, Touched, UserRow};
use quick_cache::sync::Cache;

use crate::metrics::{CacheKind, auth_cache_lookup};

/// The longest a copy is used before it is read again.
pub const MAX_AGE_MS: i64 = 30_000;

/// A copy and when it was read.
#[derive(Debug)]
struct Kept<T> {
    row: Arc<T>,
    read_at: i64,
}

impl<T> Clone for Kept<T> {
    fn clone(&self) -> Self {
        Self {
            row: self.row.clone(),
            read_at: self.read_at,
        }
    }
}

pub struct AuthCache {
    /// Off when the configuration sets no room for copies.
    enabled: bool,
    /// Whether announcements of other nodes' changes are being heard.
    trusted: AtomicBool,
    epoch: AtomicU64,
    sessions: Cache<SessionId, Kept<SessionRow>>,
    /// Which session a cookie's token hash belongs to (never changes for a session).
    by_token: Cache<String, SessionId>,
    users: Cache<UserId, Kept<UserRow>>,
}

/// The epoch read before a database read, to hand back when keeping what it found.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

impl AuthCache {
    /// Room for `entries` sessions and as many users; `trusted` from the start when the
    /// node's own writes are all there is (SQLite), else once announcements are heard.
    pub fn new(entries: usize, trusted: bool) -> Self {
        let room = entries.max(1);
        Self {
            enabled: entries > 0,
            trusted: AtomicBool::new(trusted),
            epoch: AtomicU64::new(0),
            sessions: Cache::new(room),
            by_token: Cache::new(room),
            users: Cache::new(room),
        }
    }

    fn usable(&self) -> bool {
        self.enabled && self.trusted.load(Ordering::Acquire)
    }

    pub fn is_trusted(&self) -> bool {
        self.trusted.load(Ordering::Acquire)
    }

    /// Read before the database is: see [`AuthCache::keep_session`].
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Acquire))
    }

    pub fn session(&self, id: &SessionId, now: i64) -> Option<Arc<SessionRow>> {
        let found = self.fresh(&self.sessions, id, now);
        auth_cache_lookup(CacheKind::Session, found.is_some());
        found
    }

    pub fn session_by_token(&self, token_hash: &HashedToken, now: i64) -> Option<Arc<SessionRow>> {
        if !self.usable() {
            return None;
        }
        let id = self.by_token.get(token_hash.as_str())?;
        self.session(&id, now)
    }

    pub fn user(&self, id: &UserId, now: i64) -> Option<Arc<UserRow>> {
        let found = self.fresh(&self.users, id, now);
        auth_cache_lookup(CacheKind::User, found.is_some());
        found
    }

    fn fresh<K, T>(&self, cache: &Cache<K, Kept<T>>, key: &K, now: i64) -> Option<Arc<T>>
    where
        K: Eq + std::hash::Hash,
    {
        if !self.usable() {
            return None;
        }
        cache
            .get(key)
            .filter(|copy| now - copy.read_at <= MAX_AGE_MS && copy.read_at <= now)
            .map(|copy| copy.row)
    }

    /// Keeps a session read from the database after `epoch` was read, unless something was
    /// forgotten since; a cookie session's token hash is remembered with it.
    pub fn keep_session(
        &self,
        epoch: Epoch,
        row: &Arc<SessionRow>,
        token_hash: Option<&HashedToken>,
        now: i64,
    ) {
        if !self.usable() {
            return;
        }
        if let Some(hash) = token_hash {
            self.by_token.insert(hash.as_str().to_owned(), row.id);
        }
        self.keep(&self.sessions, epoch, row.id, row, now);
    }

    /// As [`AuthCache::keep_session`], for a user.
    pub fn keep_user(&self, epoch: Epoch, row: &Arc<UserRow>, now: i64) {
        if self.usable() {
            self.keep(&self.users, epoch, row.id, row, now);
        }
    }

    fn keep<K, T>(&self, cache: &Cache<K, Kept<T>>, epoch: Epoch, key: K, row: &Arc<T>, now: i64)
    where
        K: Eq + std::hash::Hash + Clone,
    {
        if self.epoch.load(Ordering::Acquire) != epoch.0 {
            return;
        }
        let copy = Kept {
            row: row.clone(),
            read_at: now,
        };
        cache.insert(key.clone(), copy);
        // A forgetting that began after the check above may have missed what was just stored.
        if self.epoch.load(Ordering::Acquire) != epoch.0 {
            cache.remove(&key);
        }
    }

    /// Records that this node moved a session's `last_seen_at`, keeping its copy current.
    pub fn seen(&self, id: &SessionId, last_seen_at: i64) {
        let epoch = self.epoch();
        if let Some(kept) = self.sessions.get(id) {
            let row = SessionRow {
                last_seen_at,
                ..(*kept.row).clone()
            };
            let kept = Kept {
                row: Arc::new(row),
                read_at: kept.read_at,
            };
            // Only if still there, and dropped again if a forgetting overlapped.
            if self.sessions.replace(*id, kept, true).is_ok()
                && self.epoch.load(Ordering::Acquire) != epoch.0
            {
                self.sessions.remove(id);
            }
        }
    }

    /// Drops the copies of what a committed change touched.
    pub fn forget(&self, touched: &Touched) {
        if touched.is_empty() {
            return;
        }
        self.bump();
        for id in &touched.users {
            self.users.remove(id);
        }
        for id in &touched.sessions {
            self.sessions.remove(id);
        }
    }

    /// Drops what an announcement says changed elsewhere.
    pub fn forget_announced(&self, announced: &Announced) {
        match announced {
            Announced::User(id) => self.forget(&Touched {
                users: vec![*id],
                sessions: Vec::new(),
            }),
            Announced::Session(id) => self.forget(&Touched {
                users: Vec::new(),
                sessions: vec![*id],
            }),
            Announced::Heartbeat(_) => {}
            Announced::Unknown => self.forget_everything(),
        }
    }

    /// Announcements can no longer be heard: copies are neither used nor kept until they
    /// can again.
    pub fn distrust(&self) {
        if self.trusted.swap(false, Ordering::AcqRel) {
            tracing::warn!("change announcements lost: authenticating from the database");
        }
        self.forget_everything();
        metrics::gauge!(crate::metrics::AUTH_CACHE_TRUSTED).set(0.0);
    }

    /// Announcements are heard again; what was copied before may be stale, so start empty.
    pub fn trust(&self) {
        self.forget_everything();
        if !self.trusted.swap(true, Ordering::AcqRel) {
            tracing::info!("change announcements heard: the authentication cache is in use");
        }
        metrics::gauge!(crate::metrics::AUTH_CACHE_TRUSTED).set(1.0);
    }

    /// Forgets every copy (something changed, nobody knows what).
    pub fn forget_everything(&self) {
        self.bump();
        self.sessions.clear();
        self.by_token.clear();
        self.users.clear();
    }

    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: UserId) -> Arc<SessionRow> {
        Arc::new(SessionRow {
            id: SessionId::new(),
            user_id: user,
            transport: "cookie".into(),
            created_at: 0,
            last_seen_at: 0,
            expires_at: i64::MAX,
            ip: None,
            user_agent: None,
            reauthenticated_at: None,
        })
    }

    #[test]
    fn a_copy_read_while_something_was_forgotten_is_not_kept() {
        let cache = AuthCache::new(16, true);
        let row = session(UserId::new());
        let before = cache.epoch();
        cache.forget(&Touched {
            users: vec![UserId::new()],
            sessions: Vec::new(),
        });
        cache.keep_session(before, &row, None, 0);
        assert!(cache.session(&row.id, 0).is_none());
        cache.keep_session(cache.epoch(), &row, None, 0);
        assert!(cache.session(&row.id, 0).is_some());
    }

    #[test]
    fn forgotten_stale_or_untrusted_copies_are_not_used() {
        let cache = AuthCache::new(16, true);
        let row = session(UserId::new());
        cache.keep_session(cache.epoch(), &row, None, 1_000);
        assert!(cache.session(&row.id, 1_000 + MAX_AGE_MS).is_some());
        assert!(
            cache.session(&row.id, 1_001 + MAX_AGE_MS).is_none(),
            "too old"
        );
        cache.forget(&Touched {
            users: Vec::new(),
            sessions: vec![row.id],
        });
        assert!(cache.session(&row.id, 1_000).is_none(), "forgotten");
        cache.keep_session(cache.epoch(), &row, None, 1_000);
        cache.distrust();
        assert!(cache.session(&row.id, 1_000).is_none(), "distrusted");
        cache.keep_session(cache.epoch(), &row, None, 1_000);
        assert!(
            cache.session(&row.id, 1_000).is_none(),
            "nor kept while distrusted"
        );
        cache.trust();
        assert!(
            cache.session(&row.id, 1_000).is_none(),
            "trust starts empty"
        );
    }

    #[test]
    fn no_room_means_no_cache() {
        let cache = AuthCache::new(0, true);
        let row = session(UserId::new());
        cache.keep_session(cache.epoch(), &row, None, 0);
        assert!(cache.session(&row.id, 0).is_none());
    }
}
