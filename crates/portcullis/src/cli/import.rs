//! `portcullis users import FILE`: users from another system, as JSON Lines. Every line is
//! checked before anything is written, so one bad line imports nothing; the import is one
//! transaction; users whose email exists already are skipped, so running it again changes
//! nothing. Password hashes are kept as they are and re-hashed with Argon2id at each user's
//! first sign-in.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use portcullis_core::{Clock, Email, Scheme, SystemClock};
use portcullis_store::{ADMIN, Credential, NewUser, Store};
use serde::Deserialize;
use serde_json::json;

use crate::api::validate;
use crate::audit::{Action, AuditEvent};
use crate::auth::ClientInfo;
use crate::config::Config;
use crate::http::time::parse_rfc3339;

/// Bad lines printed before the rest are only counted.
const MAX_REPORTED: usize = 50;

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

/// A checked line: the user to create and where it came from.
struct Checked {
    line: usize,
    user: NewUser,
}

pub async fn run(config: &Config, path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let now = SystemClock.now_ms();
    let users = match check(&bytes, config, now) {
        Ok(users) => users,
        Err(errors) => {
            for error in errors.iter().take(MAX_REPORTED) {
                eprintln!("{error}");
            }
            if errors.len() > MAX_REPORTED {
                eprintln!("… and {} more", errors.len() - MAX_REPORTED);
            }
            bail!(
                "{} bad line(s) in {}; nothing was imported",
                errors.len(),
                path.display()
            );
        }
    };
    let store = super::open_store(config, false).await?;
    let (imported, skipped) = import(&store, &users, now).await?;
    // One log line for the import; each user has its own row in the audit trail.
    tracing::info!(
        target: "portcullis::audit",
        action = Action::UserRegistered.as_str(),
        outcome = "success",
        detail = %json!({ "source": "import", "users": imported }),
        "audit"
    );
    println!("imported {imported} users; skipped {skipped} whose email was already registered");
    Ok(())
}

/// Every line checked, with duplicates within the file; the users, or every problem found.
fn check(bytes: &[u8], config: &Config, now: i64) -> Result<Vec<Checked>, Vec<String>> {
    let mut users = Vec::new();
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
        let user = match parse(raw, config, now) {
            Ok(user) => user,
            Err(why) => {
                errors.push(format!("line {line}: {why}"));
                continue;
            }
        };
        if let Some(first) = emails.insert(user.email.to_lowercase(), line) {
            errors.push(format!("line {line}: email: the same as on line {first}"));
        }
        if let Some(username) = &user.username
            && let Some(first) = usernames.insert(username.to_lowercase(), line)
        {
            errors.push(format!(
                "line {line}: username: the same as on line {first}"
            ));
        }
        users.push(Checked { line, user });
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        Err(errors)
    }
}

fn parse(raw: &str, config: &Config, now: i64) -> Result<NewUser, String> {
    let line: ImportLine = serde_json::from_str(raw)
        .map_err(|e| e.to_string().replace(" at line 1 column ", " at column "))?;
    let email = Email::parse(&line.email).map_err(|e| format!("email: {}", e.code()))?;
    let field = |name: &str, value: Option<String>, rule: validate::Rule| {
        value
            .map(|raw| rule(&raw).map_err(|code| format!("{name}: {code}")))
            .transpose()
    };
    let name = field("name", line.name, validate::name)?;
    let username = field("username", line.username, validate::username)?;
    let role = line.role.unwrap_or_else(|| config.default_role.clone());
    if role == ADMIN {
        // A file must not be a way around `admin create`, the only way to make an admin.
        return Err(
            "role: admin is not imported; make admins with `portcullis admin create` or PUT /api/admin/users/{id}/role".into(),
        );
    }
    if !config.roles.contains(&role) {
        return Err(format!(
            "role: {role:?} is not one of the configured roles ({})",
            config.roles.join(", ")
        ));
    }
    let created_at = match line.created_at {
        None => now,
        Some(text) => parse_rfc3339(&text)
            .filter(|at| *at >= 0)
            .ok_or("created_at: not an RFC 3339 timestamp after 1970")?,
    };
    let credential = line
        .password_hash
        .map(|hash| {
            Scheme::detect(&hash)
                .map(|scheme| Credential {
                    scheme: scheme.as_str().to_owned(),
                    hash,
                })
                .map_err(|e| format!("password_hash: {e}"))
        })
        .transpose()?;
    Ok(NewUser {
        id: id_at(created_at),
        email: email.as_str().to_owned(),
        name,
        username,
        role,
        email_verified: line.email_verified,
        credential,
        created_at,
    })
}

/// A UUIDv7 stamped with the account's own creation time, so ids keep sorting by it.
fn id_at(created_at_ms: i64) -> String {
    let ms = u64::try_from(created_at_ms).unwrap_or(0);
    let stamp = uuid::Timestamp::from_unix(
        uuid::NoContext,
        ms / 1000,
        u32::try_from(ms % 1000).unwrap_or(0) * 1_000_000,
    );
    uuid::Uuid::new_v7(stamp).to_string()
}

/// Users written per batch, in three statements (users, credentials, audit events) of up to
/// 22,000 parameters, within SQLite's 32,766. Large batches also matter on PostgreSQL: sqlx
/// 0.9.0 leaves Nagle's algorithm on, so each large statement can wait ~40 ms for an ACK.
const BATCH: usize = 2000;

/// Writes the users in one transaction, a batch at a time; returns how many were imported
/// and how many skipped because their email is registered already.
async fn import(store: &Store, users: &[Checked], now: i64) -> anyhow::Result<(u64, u64)> {
    let progress = ProgressBar::new(users.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} users, {per_sec}, {eta} left",
        )?
        .progress_chars("=> "),
    );
    let mut tx = store.begin().await?;
    let mut imported = 0;
    for batch in users.chunks(BATCH) {
        let rows: Vec<&NewUser> = batch.iter().map(|c| &c.user).collect();
        let inserted = tx.create_users_if_absent(&rows).await?;
        // A user left out has a registered email (skipped) or a taken username (refused).
        let left_out: Vec<&Checked> = batch
            .iter()
            .filter(|c| !inserted.contains(&c.user.id))
            .collect();
        let emails: Vec<&str> = left_out.iter().map(|c| c.user.email.as_str()).collect();
        let registered = tx.registered_emails(&emails).await?;
        if let Some(refused) = left_out
            .iter()
            .find(|c| !registered.contains(&c.user.email.to_lowercase()))
        {
            bail!(
                "line {}: username: already taken by an existing account; nothing was imported",
                refused.line
            );
        }
        let events: Vec<_> = batch
            .iter()
            .filter(|c| inserted.contains(&c.user.id))
            .map(|c| {
                AuditEvent::new(Action::UserRegistered, &ClientInfo::default())
                    .subject(&c.user.id)
                    .detail(json!({ "source": "import" }))
                    .to_row(now)
            })
            .collect();
        if !events.is_empty() {
            tx.record_audits(&events).await?;
        }
        imported += inserted.len() as u64;
        progress.inc(batch.len() as u64);
    }
    tx.commit().await?;
    progress.finish_and_clear();
    Ok((imported, users.len() as u64 - imported))
}
