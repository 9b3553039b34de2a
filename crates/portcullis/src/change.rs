//! One state change: its writes, the audit events that record it and the mail it sends,
//! committed in one transaction. Dropping a `Change` without committing rolls it all back.

use std::ops::{Deref, DerefMut};

use portcullis_store::Tx;

use crate::audit::AuditEvent;
use crate::http::ApiResult;
use crate::mail::Letter;
use crate::state::AppState;

pub struct Change<'a> {
    state: &'a AppState,
    tx: Tx,
    events: Vec<AuditEvent>,
    mail_queued: bool,
}

impl<'a> Change<'a> {
    pub async fn begin(state: &'a AppState) -> ApiResult<Self> {
        Ok(Self {
            state,
            tx: state.store.begin().await?,
            events: Vec::new(),
            mail_queued: false,
        })
    }

    /// Writes the event's row in this transaction.
    pub async fn audit(&mut self, event: AuditEvent) -> ApiResult<()> {
        self.tx
            .record_audit(&event.to_row(self.state.now()))
            .await?;
        self.events.push(event);
        Ok(())
    }

    /// Queues a message to `to` in this transaction; it is delivered after the commit.
    pub async fn send(&mut self, letter: Letter<'_>, to: &str, user_id: &str) -> ApiResult<()> {
        let mail = self
            .state
            .mailer
            .compose(letter, to, Some(user_id), self.state.now())?;
        self.tx.enqueue_mail(&mail).await?;
        self.mail_queued = true;
        Ok(())
    }

    /// Commits; then logs and counts the events and wakes this node's mail worker.
    pub async fn commit(self) -> ApiResult<()> {
        self.tx.commit().await?;
        for event in &self.events {
            event.emit();
        }
        if self.mail_queued {
            self.state.mailer.wake();
        }
        Ok(())
    }
}

/// Records an event that changes nothing else, such as a failed sign-in.
pub async fn record(state: &AppState, event: AuditEvent) -> ApiResult<()> {
    let mut change = Change::begin(state).await?;
    change.audit(event).await?;
    change.commit().await
}

impl Deref for Change<'_> {
    type Target = Tx;

    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl DerefMut for Change<'_> {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}
