//! The audit trail: one row per security-relevant action, written in the transaction of the
//! change it records; listed newest first; summarised for spotting credential stuffing.

use sqlx::QueryBuilder;

use crate::{
    AuditFilter, AuditRow, FailureQuery, FailuresByAccount, FailuresByIp, NewAuditEvent, Page,
    Result, Store, Tx, dispatch, dispatch_write, on_tx,
};

/// `$select` with the conditions of `filter`, each written only when it applies, so that
/// the planner sees plain predicates it can answer from an index.
macro_rules! filtered_events {
    ($select:expr, $filter:expr) => {{
        let mut query = QueryBuilder::new($select);
        let mut and = " WHERE ";
        if let Some(user) = &$filter.user_id {
            query
                .push(and)
                .push("(actor_user_id = ")
                .push_bind(user)
                .push(" OR subject_user_id = ")
                .push_bind(user)
                .push(")");
            and = " AND ";
        }
        if let Some(action) = &$filter.action {
            query.push(and).push("action = ").push_bind(action);
            and = " AND ";
        }
        if let Some(since) = $filter.since {
            query.push(and).push("at >= ").push_bind(since);
            and = " AND ";
        }
        if let Some(until) = $filter.until {
            query.push(and).push("at < ").push_bind(until);
        }
        query
    }};
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
                    .push_bind(event.actor_user_id.map(|id| id.to_string()))
                    .push_bind(event.subject_user_id.map(|id| id.to_string()))
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
        const SELECT: &str = "SELECT id, at, action, outcome, actor_user_id, subject_user_id, ip,
            user_agent, request_id, detail FROM audit_events";
        Ok(dispatch!(self, pool => {
            let mut list = filtered_events!(SELECT, filter);
            list.push(" ORDER BY at DESC, id DESC LIMIT ")
                .push_bind(page.limit)
                .push(" OFFSET ")
                .push_bind(page.offset);
            let events = list.build_query_as::<AuditRow>().fetch_all(pool).await?;
            let mut count = filtered_events!("SELECT COUNT(*) FROM audit_events", filter);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            (events, total)
        }))
    }

    /// Failures grouped by client address, most first.
    pub async fn failures_by_ip(&self, query: &FailureQuery<'_>) -> Result<Vec<FailuresByIp>> {
        const SQL: &str = failures_sql!("ip, COUNT(DISTINCT login_key) AS accounts", "", "ip");
        self.failures(SQL, query).await
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
        self.failures(SQL, query).await
    }

    /// The groups of a `failures_sql!` query.
    async fn failures<T>(&self, sql: &'static str, query: &FailureQuery<'_>) -> Result<Vec<T>>
    where
        T: Send + Unpin,
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        Ok(dispatch!(self, pool => {
            sqlx::query_as::<_, T>(sql)
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
