//! One state change: its writes, the audit events that record it and the mail it sends,
//! committed in one transaction. Dropping a `Change` without committing rolls it all back.

use std::ops::{Deref, DerefMut};

use portcullis_core::UserId;
use portcullis_store::Tx;

use super::audit::AuditEvent;
use super::{Core, ServiceResult};
use crate::mail::Letter;

pub struct Change<'a> {
    core: &'a Core,
    tx: Tx,
    events: Vec<AuditEvent>,
    mail_queued: bool,
}

impl<'a> Change<'a> {
    #[tracing::instrument(name = "store.begin", skip_all)]
    pub async fn begin(core: &'a Core) -> ServiceResult<Self> {
        Ok(Self {
            core,
            tx: core.store.begin().await?,
            events: Vec::new(),
            mail_queued: false,
        })
    }

    /// Writes the event's row in this transaction.
    pub async fn audit(&mut self, event: AuditEvent) -> ServiceResult<()> {
        self.tx.record_audit(&event.to_row(self.core.now())).await?;
        self.events.push(event);
        Ok(())
    }

    /// Queues a message to `to` in this transaction; it is delivered after the commit.
    pub async fn send(
        &mut self,
        letter: Letter<'_>,
        to: &str,
        user_id: &UserId,
    ) -> ServiceResult<()> {
        let mail = self
            .core
            .mailer
            .compose(letter, to, Some(*user_id), self.core.now())?;
        self.tx.enqueue_mail(&mail).await?;
        self.mail_queued = true;
        Ok(())
    }

    /// Commits; then logs and counts the events and wakes this node's mail worker.
    #[tracing::instrument(name = "store.commit", skip_all)]
    pub async fn commit(self) -> ServiceResult<()> {
        let touched = self.tx.commit().await?;
        self.core.cache.forget(&touched);
        for event in &self.events {
            event.emit();
        }
        if self.mail_queued {
            self.core.mailer.wake();
        }
        Ok(())
    }
}

/// Records an event that changes nothing else, such as a failed sign-in.
pub async fn record(core: &Core, event: AuditEvent) -> ServiceResult<()> {
    let mut change = Change::begin(core).await?;
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
