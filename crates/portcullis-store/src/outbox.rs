//! The mail outbox. Messages are written in the transaction of the change that sends them;
//! workers on any number of nodes claim due messages one at a time with a lease longer than a
//! delivery may take, so a message is in one worker's hands at a time, and a crashed worker's
//! claim lapses for another to take.

use crate::{
    ClaimedMail, NewMail, OutboxCounts, Result, Store, Tx, dispatch, dispatch_write, on_tx,
};

/// The oldest due, unclaimed message; `$2` is now.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE mail_outbox SET claimed_by = $1, claimed_until = $3, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM mail_outbox
                 WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2
                   AND (claimed_until IS NULL OR claimed_until <= $2)
                 ORDER BY next_attempt_at, id LIMIT 1 ",
            $lock,
            ")
             RETURNING id, kind, recipient, payload, attempts"
        )
    };
}

impl Tx {
    pub async fn enqueue_mail(&mut self, mail: &NewMail) -> Result<()> {
        const SQL: &str = "INSERT INTO mail_outbox
                (id, kind, user_id, recipient, payload, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)";
        on_tx!(self, tx => {
            sqlx::query(SQL)
                .bind(&mail.id)
                .bind(mail.kind)
                .bind(mail.user_id.map(|id| id.to_string()))
                .bind(&mail.recipient)
                .bind(&mail.payload)
                .bind(mail.created_at)
                .execute(&mut **tx)
                .await?;
        });
        Ok(())
    }
}

impl Store {
    /// Claims the oldest due message for `claim` (a fresh id per claim) until `until`.
    /// SQLite has one writer, so its update is exclusive as it stands; PostgreSQL skips a row
    /// another node is claiming at the same moment.
    pub async fn claim_mail(
        &self,
        claim: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<ClaimedMail>> {
        macro_rules! claim {
            ($pool:expr, $sql:expr) => {
                sqlx::query_as::<_, ClaimedMail>($sql)
                    .bind(claim)
                    .bind(now)
                    .bind(until)
                    .fetch_optional($pool)
                    .await?
            };
        }
        Ok(match self {
            Self::Sqlite { write, .. } => claim!(write, claim_sql!("")),
            Self::Postgres(pool) => claim!(pool, claim_sql!("FOR UPDATE SKIP LOCKED")),
        })
    }

    /// Records delivery and drops the sealed body. This and the two below answer false when
    /// the claim had lapsed and another worker holds the message.
    pub async fn mark_mail_sent(&self, id: &str, claim: &str, now: i64) -> Result<bool> {
        self.settle_mail(
            "UPDATE mail_outbox SET sent_at = $3, payload = NULL, last_error = $4,
                claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND claimed_by = $2",
            (id, claim, now),
            None,
        )
        .await
    }

    /// Schedules another attempt at `next_attempt_at`.
    pub async fn mark_mail_retry(
        &self,
        id: &str,
        claim: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<bool> {
        self.settle_mail(
            "UPDATE mail_outbox SET next_attempt_at = $3, last_error = $4,
                claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND claimed_by = $2",
            (id, claim, next_attempt_at),
            Some(error),
        )
        .await
    }

    /// Gives up on a message: it is kept, marked failed, without its body.
    pub async fn mark_mail_failed(
        &self,
        id: &str,
        claim: &str,
        now: i64,
        error: &str,
    ) -> Result<bool> {
        self.settle_mail(
            "UPDATE mail_outbox SET failed_at = $3, last_error = $4, payload = NULL,
                claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND claimed_by = $2",
            (id, claim, now),
            Some(error),
        )
        .await
    }

    /// Runs one of the settling updates above: `$1` id, `$2` claim, `$3` a time, `$4` error.
    async fn settle_mail(
        &self,
        sql: &'static str,
        (id, claim, at): (&str, &str, i64),
        error: Option<&str>,
    ) -> Result<bool> {
        Ok(dispatch_write!(self, pool => {
            sqlx::query(sql)
                .bind(id)
                .bind(claim)
                .bind(at)
                .bind(error)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// Messages waiting to be sent, and messages given up on.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        const SQL: &str = "SELECT
                COUNT(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 END),
                COUNT(CASE WHEN failed_at IS NOT NULL THEN 1 END)
             FROM mail_outbox";
        let (pending, failed): (i64, i64) = dispatch!(self, pool => {
            sqlx::query_as(SQL).fetch_one(pool).await?
        });
        Ok(OutboxCounts { pending, failed })
    }

    /// Deletes sent and failed messages settled before `before`; returns how many.
    pub async fn prune_mail(&self, before: i64) -> Result<u64> {
        const SQL: &str = "DELETE FROM mail_outbox WHERE sent_at < $1 OR failed_at < $1";
        Ok(dispatch_write!(self, pool => {
            sqlx::query(SQL).bind(before).execute(pool).await?.rows_affected()
        }))
    }
}
