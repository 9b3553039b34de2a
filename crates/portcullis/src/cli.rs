//! The command line: `serve` (default), `migrate`, `config check`.

use clap::{Parser, Subcommand};

use anyhow::bail;
use portcullis_core::password_hash::ARGON2ID;
use portcullis_core::{Clock, Email, Password, PasswordHasher, SystemClock, UserId};
use portcullis_store::{Credential, NewUser, StoreError};
use serde_json::json;

use crate::audit::{Action, AuditEvent};
use crate::auth::ClientInfo;
use crate::config::{Config, Mode};
use crate::http::time::rfc3339;
use crate::keys::{Signer, key_state};
use crate::secret::{DerivedKeys, load_secret};
use crate::startup::{self, Application, BuildOptions};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Self-hosted authentication server"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve {
        /// Apply pending database migrations before serving (always done in development).
        #[arg(long)]
        migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administer accounts.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Manage token signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Create an admin account; the password is read as one line from standard input.
    /// This is the only way to make the first admin: there is no default account.
    Create {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// List stored keys: kid, algorithm, state, dates.
    List,
    /// Make a new key of the configured algorithm the signing key; the old one stays
    /// published until the tokens it signed have expired. Running servers switch within
    /// PORTCULLIS_KEY_RELOAD_INTERVAL (10 s by default).
    Rotate,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate the settings and print them, secrets masked.
    Check,
}

impl Cli {
    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        match self.command.unwrap_or(Command::Serve { migrate: false }) {
            Command::Serve { migrate } => {
                let options = BuildOptions {
                    migrate,
                    ..BuildOptions::default()
                };
                Application::build(config, options)
                    .await?
                    .run_until_stopped()
                    .await?;
            }
            Command::Migrate => {
                config.validate()?;
                if config.database_url.is_none() {
                    std::fs::create_dir_all(&config.data_dir)?;
                }
                let store = startup::connect(&config).await?;
                startup::ensure_schema(&store, true).await?;
                println!("{} schema is up to date", store.backend());
            }
            Command::Keys { action } => keys(&config, action).await?,
            Command::Admin {
                action: AdminAction::Create { email },
            } => create_admin(&config, &email).await?,
            Command::Config {
                action: ConfigAction::Check,
            } => {
                config.validate()?;
                for (name, value) in config.describe() {
                    println!("{name:<34} {value}");
                }
                println!("configuration is valid");
            }
        }
        Ok(())
    }
}

async fn keys(config: &Config, action: KeysAction) -> anyhow::Result<()> {
    config.validate()?;
    let store = startup::connect(config).await?;
    startup::ensure_schema(&store, config.env == Mode::Development).await?;
    let derived = DerivedKeys::from_secret(&load_secret(config)?);
    let settings = startup::key_settings(config, derived.key_encryption)?;
    let now = SystemClock.now_ms();
    match action {
        KeysAction::List => {
            match &settings.signer {
                Signer::File(key) => println!(
                    "signing with {} from PORTCULLIS_JWT_KEY_FILE",
                    key.alg.as_str()
                ),
                Signer::Shared(_) => {
                    println!("signing with HS256 and PORTCULLIS_JWT_SECRET (never published)")
                }
                Signer::Stored(_) => {}
            }
            println!(
                "{:<44} {:<6} {:<8} {:<26} retired",
                "kid", "alg", "state", "created"
            );
            for row in store.signing_keys().await? {
                let retired = row.retired_at.map_or_else(|| "-".to_owned(), rfc3339);
                let state = key_state(&row, settings.publish_ms, now);
                println!(
                    "{:<44} {:<6} {:<8} {:<26} {retired}",
                    row.kid,
                    row.alg,
                    state,
                    rfc3339(row.created_at)
                );
            }
        }
        KeysAction::Rotate => {
            let Signer::Stored(alg) = settings.signer else {
                bail!(
                    "keys come from PORTCULLIS_JWT_KEY_FILE or PORTCULLIS_JWT_SECRET; rotate by changing that setting"
                );
            };
            let key = crate::keys::new_stored_key(alg, &derived.key_encryption, now)?;
            store.rotate_signing_key(Some(&key), now).await?;
            println!(
                "new {} signing key {}; the previous key stays published until its tokens expire",
                alg.as_str(),
                key.kid
            );
        }
    }
    Ok(())
}

async fn create_admin(config: &Config, email: &str) -> anyhow::Result<()> {
    config.validate()?;
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let raw = line.strip_suffix('\n').unwrap_or(&line);
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    let password = Password::parse(raw, &config.password_policy(), Some(&email))
        .map_err(|rule| anyhow::anyhow!("password refused: {rule} ({})", rule.code()))?;
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let store = startup::connect(config).await?;
    startup::ensure_schema(&store, config.env == Mode::Development).await?;
    let hash = PasswordHasher::new(config.hash_params())?.hash(&password)?;
    let id = UserId::new().to_string();
    let now = SystemClock.now_ms();
    let mut tx = store.begin().await?;
    tx.create_user(&NewUser {
        id: id.clone(),
        email: email.as_str().to_owned(),
        name: None,
        username: None,
        role: "admin".into(),
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
        .detail(json!({ "source": "cli", "role": "admin" }));
    tx.record_audit(&event.to_row(now)).await?;
    tx.commit().await?;
    event.emit();
    println!("created admin {email} ({id})");
    Ok(())
}
