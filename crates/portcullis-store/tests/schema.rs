//! The two migration folders must produce the same tables and columns, and the drift check
//! must see a database that is behind. PostgreSQL runs when TEST_DATABASE_URL is set.

use std::collections::BTreeSet;

use portcullis_store::{Drift, PoolOptions, Store};

async fn sqlite() -> Store {
    Store::connect(
        "sqlite::memory:",
        PoolOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

async fn columns(store: &Store) -> BTreeSet<(String, String)> {
    let rows: Vec<(String, String)> = match store {
        // SQLite's search index is tables (FTS5 and its key map); PostgreSQL's is indexes.
        Store::Sqlite { read: pool, .. } => sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'user_search%'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Store::Postgres(pool) => sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema()",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    rows.into_iter()
        .filter(|(table, _)| !table.starts_with("_sqlx"))
        .collect()
}

#[tokio::test]
async fn fresh_database_is_behind_then_up_to_date() {
    let store = sqlite().await;
    assert!(
        matches!(store.migration_report().await.unwrap().drift, Drift::Behind(names) if names[0].contains("initial"))
    );
    store.migrate().await.unwrap();
    assert_eq!(
        store.migration_report().await.unwrap().drift,
        Drift::UpToDate
    );
}

/// The PostgreSQL URL to test against; when CI says PostgreSQL is expected, its absence fails.
fn postgres_url() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL").ok();
    if url.is_none() && std::env::var("TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("TEST_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set");
    }
    url
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("URL has a database path");
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

#[tokio::test]
async fn both_backends_have_the_same_columns() {
    let Some(url) = postgres_url() else {
        eprintln!("TEST_DATABASE_URL unset: comparing against PostgreSQL skipped");
        return;
    };
    let lite = sqlite().await;
    lite.migrate().await.unwrap();
    let name = format!("portcullis_schema_{}", uuid::Uuid::now_v7().simple());
    let admin = Store::connect(&url, PoolOptions::default()).await.unwrap();
    let Store::Postgres(admin_pool) = &admin else {
        panic!("TEST_DATABASE_URL is not PostgreSQL")
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin_pool)
        .await
        .unwrap();
    let pg = Store::connect(&with_database(&url, &name), PoolOptions::default())
        .await
        .unwrap();
    pg.migrate().await.unwrap();
    assert_eq!(pg.migration_report().await.unwrap().drift, Drift::UpToDate);
    let (lite_cols, pg_cols) = (columns(&lite).await, columns(&pg).await);
    pg.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(admin_pool)
        .await
        .unwrap();
    assert!(!lite_cols.is_empty());
    assert_eq!(lite_cols, pg_cols);
}
