//! `portcullis admin create`: the only way to make the first admin.

use portcullis_core::password_hash::ARGON2ID;
use portcullis_core::{Clock, Email, Password, PasswordHasher, SystemClock, UserId};
use portcullis_store::{ADMIN, Credential, NewUser, StoreError};
use serde_json::json;

use crate::audit::{Action, AuditEvent};
use crate::auth::ClientInfo;
use crate::config::Config;

/// Creates an admin; the password is read as one line from standard input.
pub async fn create(config: &Config, email: &str) -> anyhow::Result<()> {
    config.validate()?;
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let raw = line.strip_suffix('\n').unwrap_or(&line);
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    let password = Password::parse(raw, &config.password_policy(), Some(&email))
        .map_err(|rule| anyhow::anyhow!("password refused: {rule} ({})", rule.code()))?;
    let store = super::open_store(config, false).await?;
    let hash = PasswordHasher::new(config.hash_params())?.hash(&password)?;
    let id = UserId::new().to_string();
    let now = SystemClock.now_ms();
    let mut tx = store.begin().await?;
    tx.create_user(&NewUser {
        id: id.clone(),
        email: email.as_str().to_owned(),
        name: None,
        username: None,
        role: ADMIN.into(),
        // The operator vouches for the address they typed.
        email_verified: true,
        credential: Some(Credential {
            hash,
            scheme: ARGON2ID.into(),
        }),
        created_at: now,
    })
    .await
    .map_err(|e| match e {
        StoreError::EmailTaken => anyhow::anyhow!("{email} is already registered"),
        other => other.into(),
    })?;
    let event = AuditEvent::new(Action::UserRegistered, &ClientInfo::default())
        .subject(&id)
        .detail(json!({ "source": "cli", "role": ADMIN }));
    tx.record_audit(&event.to_row(now)).await?;
    tx.commit().await?;
    event.emit();
    println!("created admin {email} ({id})");
    Ok(())
}
