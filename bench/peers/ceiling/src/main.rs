//! The ceiling of bench/peers: GET /ceiling answers the constant JSON `{"ok":true}` on
//! BENCH_CEILING_ADDR (default 127.0.0.1:18340), on tokio's multi-thread runtime with its
//! default worker count (one per core). No database, no hashing, no middleware: what the
//! HTTP stack (hyper through axum) does on its own on this machine.

use axum::{Router, http::header, response::IntoResponse, routing::get};

async fn ceiling() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"ok":true}"#,
    )
}

#[tokio::main]
async fn main() {
    let addr = std::env::var("BENCH_CEILING_ADDR").unwrap_or_else(|_| "127.0.0.1:18340".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    let app = Router::new().route("/ceiling", get(ceiling));
    axum::serve(listener, app).await.expect("serve");
}
