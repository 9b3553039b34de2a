//! The audit trail: one row per security-relevant action, written in the transaction of the
//! change it records; listed newest first; summarised for spotting credential stuffing.

use sqlx::QueryBuilder;

use crate::{
    AuditFilter, AuditRow, FailureQuery, FailuresByAccount, FailuresByIp, NewAuditEvent, Page,
    Result, Store, Tx, dispatch, dispatch_write, on_tx,
};

/// `$1` user (actor or subject), `$2` action, `$3` since (inclusive), `$4` until (exclusive).
macro_rules! audit_filter {
    () => {
        " WHERE ($1 IS NULL OR actor_user_id = $1 OR subject_user_id = $1)
            AND ($2 IS NULL OR action = $2)
            AND ($3 IS NULL OR at >= $3)
            AND ($4 IS NULL OR at < $4)"
    };
}

/// Sign-in failures of `$1` with outcome `$2` since `$3`, grouped by `$group`; `$4` rows.
macro_rules! failures_sql {
    ($columns:literal, $extra:literal, $group:literal) => {
        concat!(
            "SELECT ",
            $columns,
            ", COUNT(*) AS failures, MIN(at) AS first_seen, MAX(at) AS last_seen
             FROM audit_events WHERE action = $1 AND outcome = $2 AND at >= $3 ",
            $extra,
            " GROUP BY ",
            $group,
            " ORDER BY failures DESC, last_seen DESC LIMIT $4"
        )
    };
}

impl Tx {
    pub async fn record_audit(&mut self, event: &NewAuditEvent) -> Result<()> {
        self.record_audits(std::slice::from_ref(event)).await
    }

    /// Records many events, many rows per statement (imports).
    pub async fn record_audits(&mut self, events: &[NewAuditEvent]) -> Result<()> {
        on_tx!(self, tx => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO audit_events (id, at, action, outcome, actor_user_id,
                    subject_user_id, ip, user_agent, request_id, login_key, detail) ",
            );
            insert.push_values(events, |mut row, event| {
                row.push_bind(&event.id)
                    .push_bind(event.at)
                    .push_bind(event.action)
                    .push_bind(event.outcome)
                    .push_bind(&event.actor_user_id)
                    .push_bind(&event.subject_user_id)
                    .push_bind(&event.ip)
                    .push_bind(&event.user_agent)
                    .push_bind(&event.request_id)
                    .push_bind(&event.login_key)
                    .push_bind(&event.detail);
            });
            insert.build().execute(&mut **tx).await?;
        });
        Ok(())
    }
}

impl Store {
    /// One page of events matching `filter`, newest first, and how many match in all.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditRow>, i64)> {
        const PAGE: &str = concat!(
            "SELECT id, at, action, outcome, actor_user_id, subject_user_id, ip, user_agent,
                request_id, detail FROM audit_events",
            audit_filter!(),
            " ORDER BY at DESC, id DESC LIMIT $5 OFFSET $6"
        );
        const COUNT: &str = concat!("SELECT COUNT(*) FROM audit_events", audit_filter!());
        Ok(dispatch!(self, pool => {
            let events = sqlx::query_as::<_, AuditRow>(PAGE)
                .bind(&filter.user_id)
                .bind(&filter.action)
                .bind(filter.since)
                .bind(filter.until)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(COUNT)
                .bind(&filter.user_id)
                .bind(&filter.action)
                .bind(filter.since)
                .bind(filter.until)
                .fetch_one(pool)
                .await?;
            (events, total)
        }))
    }

    /// Failures grouped by client address, most first.
    pub async fn failures_by_ip(&self, query: &FailureQuery<'_>) -> Result<Vec<FailuresByIp>> {
        const SQL: &str = failures_sql!("ip, COUNT(DISTINCT login_key) AS accounts", "", "ip");
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, FailuresByIp>(SQL)
                .bind(query.action)
                .bind(query.outcome)
                .bind(query.since)
                .bind(query.limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Failures grouped by the identifier tried, most first.
    pub async fn failures_by_account(
        &self,
        query: &FailureQuery<'_>,
    ) -> Result<Vec<FailuresByAccount>> {
        const SQL: &str = failures_sql!(
            "login_key, MAX(subject_user_id) AS user_id, COUNT(DISTINCT ip) AS ips",
            "AND login_key IS NOT NULL",
            "login_key"
        );
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, FailuresByAccount>(SQL)
                .bind(query.action)
                .bind(query.outcome)
                .bind(query.since)
                .bind(query.limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Deletes events older than `before`, in batches so SQLite's writer is never held long;
    /// returns how many.
    pub async fn prune_audit(&self, before: i64) -> Result<u64> {
        const SQL: &str = "DELETE FROM audit_events WHERE id IN
             (SELECT id FROM audit_events WHERE at < $1 LIMIT 5000)";
        let mut total = 0;
        loop {
            let deleted = dispatch_write!(self, pool => {
                sqlx::query(SQL).bind(before).execute(pool).await?.rows_affected()
            });
            total += deleted;
            if deleted < 5000 {
                return Ok(total);
            }
        }
    }
}
