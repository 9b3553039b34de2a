//! `cargo run -p tasks-api` — the example resource server.
//!
//! Settings: `PORTCULLIS_ISSUER` (the server's public URL, default http://localhost:8080),
//! `PORTCULLIS_BASE_URL` (where to reach it, default the issuer), `TASKS_ADDR`
//! (default 127.0.0.1:8081), `TASKS_DATABASE_URL` (default sqlite://tasks.db).

use std::str::FromStr;

use portcullis_verify::{Algorithm, Verifier};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use tasks_api::{AppState, app, migrate};

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let issuer = setting("PORTCULLIS_ISSUER", "http://localhost:8080");
    let verifier = Verifier::builder(&issuer)
        .base_url(setting("PORTCULLIS_BASE_URL", &issuer))
        .algorithms(&[Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256])
        .build()?;
    let options =
        SqliteConnectOptions::from_str(&setting("TASKS_DATABASE_URL", "sqlite://tasks.db"))?
            .create_if_missing(true);
    let db = SqlitePool::connect_with(options).await?;
    migrate(&db).await?;
    let listener = tokio::net::TcpListener::bind(setting("TASKS_ADDR", "127.0.0.1:8081")).await?;
    tracing::info!(addr = %listener.local_addr()?, "tasks-api listening");
    axum::serve(listener, app(AppState { verifier, db })).await?;
    Ok(())
}
