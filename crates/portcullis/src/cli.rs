//! The command line: `serve` (default), `migrate`, `config check`.

use clap::{Parser, Subcommand};

use crate::config::Config;
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
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
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
