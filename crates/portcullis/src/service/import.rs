//! Users from another system, as JSON Lines. Every line is checked before anything is
//! written, so one bad line imports nothing; the import is one transaction; users whose
//! email exists already are skipped, so running it again changes nothing. Password hashes
//! are kept as they are and re-hashed with Argon2id at each user's first sign-in.

use std::collections::HashMap;

use portcullis_core::{DisplayName, Email, Scheme, Username};
use portcullis_store::Credential;
use serde::Deserialize;
use serde_json::json;

use super::accounts::NewAccount;
use super::audit::{Action, AuditEvent};
use super::change::Change;
use super::{Client, Core, ServiceError, ServiceResult};

/// One line of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    email: String,
    name: Option<String>,
    username: Option<String>,
    #[serde(default)]
    email_verified: bool,
    role: Option<String>,
    /// RFC 3339; the time of the import when absent.
    created_at: Option<String>,
    password_hash: Option<String>,
}

/// A checked line: the account to create and the line it came from.
pub struct Checked {
    line: usize,
    account: NewAccount,
}

/// Every line checked, with duplicates within the file; the accounts, or every problem found
/// as `line N: field: rule`.
pub fn check(core: &Core, bytes: &[u8]) -> Result<Vec<Checked>, Vec<String>> {
    let now = core.now();
    let mut accounts = Vec::new();
    let mut errors = Vec::new();
    let mut emails: HashMap<String, usize> = HashMap::new();
    let mut usernames: HashMap<String, usize> = HashMap::new();
    for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = index + 1;
        let Ok(raw) = std::str::from_utf8(raw) else {
            errors.push(format!("line {line}: not UTF-8"));
            continue;
        };
        if raw.trim().is_empty() {
            continue;
        }
        let account = match parse(core, raw, now) {
            Ok(account) => account,
            Err(why) => {
                errors.push(format!("line {line}: {why}"));
                continue;
            }
        };
        if let Some(first) = emails.insert(account.email().lowercase(), line) {
            errors.push(format!("line {line}: email: the same as on line {first}"));
        }
        if let Some(username) = &account.row().username
            && let Some(first) = usernames.insert(username.as_str().to_lowercase(), line)
        {
            errors.push(format!(
                "line {line}: username: the same as on line {first}"
            ));
        }
        accounts.push(Checked { line, account });
    }
    if errors.is_empty() {
        Ok(accounts)
    } else {
        Err(errors)
    }
}

fn parse(core: &Core, raw: &str, now: i64) -> Result<NewAccount, String> {
    let line: ImportLine = serde_json::from_str(raw)
        .map_err(|e| e.to_string().replace(" at line 1 column ", " at column "))?;
    let email = Email::parse(&line.email).map_err(|e| format!("email: {}", e.code()))?;
    let name = line
        .name
        .map(|raw| DisplayName::parse(&raw).map_err(|r| format!("name: {}", r.code())))
        .transpose()?;
    let username = line
        .username
        .map(|raw| Username::parse(&raw).map_err(|r| format!("username: {}", r.code())))
        .transpose()?;
    let roles = &core.policy.roles;
    let role = match line.role {
        None => roles.default_role().clone(),
        Some(name) if name == portcullis_core::ADMIN => {
            // A file must not be a way around `admin create`, the only way to make an admin.
            return Err(
                "role: admin is not imported; make admins with `portcullis admin create` or PUT /api/admin/users/{id}/role".into(),
            );
        }
        Some(name) => roles.parse(&name).ok_or_else(|| {
            format!(
                "role: {name:?} is not one of the configured roles ({})",
                roles.names().collect::<Vec<_>>().join(", ")
            )
        })?,
    };
    let created_at = match line.created_at {
        None => now,
        Some(text) => crate::time::parse_rfc3339(&text)
            .filter(|at| *at >= 0)
            .ok_or("created_at: not an RFC 3339 timestamp after 1970")?,
    };
    let credential = line
        .password_hash
        .map(|hash| {
            Scheme::detect(&hash)
                .map(|scheme| Credential {
                    scheme,
                    hash,
                    imported: true,
                })
                .map_err(|e| format!("password_hash: {e}"))
        })
        .transpose()?;
    Ok(NewAccount::new(email, role, created_at)
        .name(name)
        .username(username)
        .verified(line.email_verified)
        .password(credential))
}

/// Users written per batch, in three statements (users, credentials, audit events) of up to
/// 22,000 parameters, within SQLite's 32,766. Large batches also matter on PostgreSQL: sqlx
/// 0.9.0 leaves Nagle's algorithm on, so each large statement can wait ~40 ms for an ACK.
const BATCH: usize = 2000;

/// How many were imported and how many skipped because their email is registered already.
pub struct Imported {
    pub imported: u64,
    pub skipped: u64,
}

/// Writes the checked accounts in one transaction, a batch at a time, each with its audit
/// event; `progress` hears how many lines each batch covered.
#[tracing::instrument(name = "import_users", skip_all, fields(users = accounts.len()))]
pub async fn import(
    core: &Core,
    accounts: &[Checked],
    client: &Client,
    progress: impl Fn(u64),
) -> ServiceResult<Imported> {
    let mut change = Change::begin(core).await?;
    let mut imported = 0;
    for batch in accounts.chunks(BATCH) {
        let rows: Vec<_> = batch.iter().map(|c| c.account.row()).collect();
        let inserted = change.create_users_if_absent(&rows).await?;
        // A user left out has a registered email (skipped) or a taken username (refused).
        let left_out: Vec<&Checked> = batch
            .iter()
            .filter(|c| !inserted.contains(c.account.id()))
            .collect();
        let emails: Vec<&str> = left_out
            .iter()
            .map(|c| c.account.email().as_str())
            .collect();
        let registered = change.registered_emails(&emails).await?;
        if let Some(refused) = left_out
            .iter()
            .find(|c| !registered.contains(&c.account.email().lowercase()))
        {
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "line {}: username: already taken by an existing account; nothing was imported",
                refused.line
            )));
        }
        let events: Vec<_> = batch
            .iter()
            .filter(|c| inserted.contains(c.account.id()))
            .map(|c| {
                AuditEvent::new(Action::UserRegistered, client)
                    .subject(c.account.id())
                    .detail(json!({ "source": "import" }))
                    .to_row(core.now())
            })
            .collect();
        if !events.is_empty() {
            change.record_audits(&events).await?;
        }
        imported += inserted.len() as u64;
        progress(batch.len() as u64);
    }
    // The trail has a row per user; the log gets one line for the whole import.
    change.commit().await?;
    tracing::info!(
        target: "portcullis::audit",
        action = Action::UserRegistered.as_str(),
        outcome = "success",
        detail = %json!({ "source": "import", "users": imported }),
        "audit"
    );
    Ok(Imported {
        imported,
        skipped: accounts.len() as u64 - imported,
    })
}
