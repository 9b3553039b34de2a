//! `portcullis users import FILE`: users from another system, as JSON Lines (see
//! [`crate::service::import`]), with a progress bar on a terminal.

use std::path::Path;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::service::{Client, import};

/// Bad lines printed before the rest are only counted.
const MAX_REPORTED: usize = 50;

pub async fn run(config: &Config, path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let core = super::open_core(config).await?;
    let accounts = match import::check(&core, &bytes) {
        Ok(accounts) => accounts,
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
    let progress = ProgressBar::new(accounts.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} users, {per_sec}, {eta} left",
        )?
        .progress_chars("=> "),
    );
    let done = import::import(&core, &accounts, &Client::command_line(), |n| {
        progress.inc(n)
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    progress.finish_and_clear();
    println!(
        "imported {} users; skipped {} whose email was already registered",
        done.imported, done.skipped
    );
    Ok(())
}
