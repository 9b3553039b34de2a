//! `portcullis admin create`: the only way to make the first admin.

use secrecy::SecretString;

use crate::config::Config;
use crate::service::{Client, ServiceError, admin};

/// Creates an admin; the password is read as one line from standard input.
pub async fn create(config: &Config, email: &str) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let raw = line.strip_suffix('\n').unwrap_or(&line);
    let password = SecretString::from(raw.strip_suffix('\r').unwrap_or(raw));
    let core = super::open_core(config).await?;
    match admin::create_admin(&core, email, &password, &Client::command_line()).await {
        Ok(user) => {
            println!("created admin {} ({})", user.email, user.id);
            Ok(())
        }
        Err(ServiceError::EmailTaken) => anyhow::bail!("{email} is already registered"),
        Err(ServiceError::Invalid(violations)) => {
            let (field, rule) = violations
                .fields()
                .iter()
                .next()
                .map_or(("input", "invalid"), |(f, r)| (f.as_str(), r.as_str()));
            let field = if field == "email" {
                "--email"
            } else {
                "password refused"
            };
            anyhow::bail!("{field}: {rule}")
        }
        Err(other) => Err(other.into()),
    }
}
