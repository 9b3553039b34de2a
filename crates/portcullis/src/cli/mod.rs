//! The command line: `serve` (default), `migrate`, `admin create`, `users import`,
//! `keys list|rotate`, `config check`.

mod admin;
mod import;
mod keys;

use std::path::PathBuf;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use portcullis_core::SystemClock;
use portcullis_store::Store;

use crate::config::Config;
use crate::mail::transport::Transport;
use crate::service::Core;
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
    /// Bring users in from another system.
    Users {
        #[command(subcommand)]
        action: UsersAction,
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
enum UsersAction {
    /// Import users from a JSON Lines file: one object a line with `email` and optionally
    /// `name`, `username`, `email_verified`, `role` (not `admin`), `created_at` (RFC 3339) and
    /// `password_hash` (Argon2, bcrypt, scrypt or PBKDF2, in PHC, modular-crypt, passlib or
    /// Django form). Every line is checked first; one bad line imports nothing. Users whose
    /// email already exists are skipped, so a second run changes nothing.
    Import { file: PathBuf },
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
                let store = open_store(&config, true).await?;
                println!("{} schema is up to date", store.backend());
            }
            Command::Keys { action } => keys::run(&config, action).await?,
            Command::Admin {
                action: AdminAction::Create { email },
            } => admin::create(&config, &email).await?,
            Command::Users {
                action: UsersAction::Import { file },
            } => import::run(&config, &file).await?,
            Command::Config {
                action: ConfigAction::Check,
            } => {
                config.validate()?;
                Transport::from_config(&config)?;
                for (name, value) in config.describe() {
                    println!("{name:<40} {value}");
                }
                println!("configuration is valid");
            }
        }
        Ok(())
    }
}

/// The configured database, its schema checked (see [`startup::open_store`]).
async fn open_store(config: &Config, migrate: bool) -> anyhow::Result<Store> {
    config.validate()?;
    startup::open_store(config, migrate).await
}

/// The service core over the configured database, for commands that change state through
/// the same use cases as the server.
async fn open_core(config: &Config) -> anyhow::Result<Core> {
    let store = open_store(config, false).await?;
    Core::new(config, store, Arc::new(SystemClock)).await
}
