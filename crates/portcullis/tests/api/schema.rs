//! Schema drift: the server refuses a database that is behind (outside development) or
//! ahead of its migrations, naming the migration.

use std::sync::Arc;

use portcullis::config::Mode;
use portcullis::startup::{Application, BuildOptions};
use portcullis_core::SystemClock;
use portcullis_store::Store;

use crate::helpers::*;

fn production_like(config: &mut portcullis::config::Config) {
    config.server.env = Mode::Production;
    config.tokens.secret = Some("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=".into());
    config.server.public_url = "https://auth.example.com".parse().unwrap();
    config.mail.smtp_url = Some("smtp://127.0.0.1:2525".into());
}

async fn build(config: portcullis::config::Config, migrate: bool) -> anyhow::Result<Application> {
    Application::build(
        config,
        BuildOptions {
            clock: Arc::new(SystemClock),
            migrate,
        },
    )
    .await
}

#[tokio::test]
async fn production_refuses_a_database_that_is_behind_unless_told_to_migrate() {
    let dir = std::env::temp_dir().join(format!("portcullis-drift-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = test_config(dir.clone());
    config.database.database_url = Some(fresh_database(&dir).await.into());
    production_like(&mut config);
    let err = build(config.clone(), false)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("behind") && err.contains("initial"), "{err}");
    assert!(build(config.clone(), true).await.is_ok());
    assert!(build(config, false).await.is_ok(), "now up to date");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_database_ahead_of_the_binary_is_refused_even_in_development() {
    let app = spawn_app().await;
    let insert =
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                  VALUES (29990101000000, 'from the future', TRUE, $1, 0)";
    match &app.store {
        Store::Sqlite { write: pool, .. } => sqlx::query(insert)
            .bind(vec![0u8; 48])
            .execute(pool)
            .await
            .map(|_| ())
            .unwrap(),
        Store::Postgres(pool) => sqlx::query(insert)
            .bind(vec![0u8; 48])
            .execute(pool)
            .await
            .map(|_| ())
            .unwrap(),
    };
    let mut config = app.config.clone();
    config.server.addr = "127.0.0.1:0".parse().unwrap();
    let err = build(config, true)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("ahead") && err.contains("29990101000000"),
        "{err}"
    );
}

#[tokio::test]
async fn production_refuses_to_start_without_its_settings() {
    let dir = std::env::temp_dir().join(format!("portcullis-prod-{}", uuid::Uuid::now_v7()));
    let mut config = test_config(dir);
    production_like(&mut config);
    config.mail.smtp_url = None;
    let err = build(config, false)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("PORTCULLIS_SMTP_URL"), "{err}");
}
