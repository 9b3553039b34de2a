//! OpenTelemetry traces (the `otel` feature): the real binary exports its spans over
//! OTLP/HTTP to a receiver on loopback that decodes them; a sign-in continues the W3C
//! `traceparent` it was sent with, and its spans nest request → sign-in → password check →
//! hash, beside the store's transaction, with the request id on the request span.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

use crate::helpers::*;

type Received = Arc<Mutex<Vec<Span>>>;

/// An OTLP/HTTP trace receiver on a free loopback port; every span it is sent is kept.
async fn receiver() -> (String, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(|State(kept): State<Received>, body: Bytes| async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let spans = request
                    .resource_spans
                    .into_iter()
                    .flat_map(|r| r.scope_spans)
                    .flat_map(|s| s.spans);
                kept.lock().unwrap().extend(spans);
                ([("content-type", "application/x-protobuf")], Vec::new())
            }),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            AnyValue::StringValue(text) => text.clone(),
            other => format!("{other:?}"),
        })
}

#[tokio::test]
async fn a_sign_in_continues_the_callers_trace_down_to_the_hash() {
    let (collector, received) = receiver().await;
    let data_dir = std::env::temp_dir().join(format!("portcullis-otel-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let database = fresh_database(&data_dir).await;
    let port = free_port();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env_clear()
            .env("PORTCULLIS_ADDR", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS_DATA_DIR", &data_dir)
            .env("DATABASE_URL", &database)
            .env("PORTCULLIS_RATE_LIMIT", "off")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("RUST_LOG", "warn,portcullis=info")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = client();
    wait_until_up(&client, &base).await;
    let email = unique_email();
    let body = json!({"email": email, "password": PASSWORD});
    let created = client
        .post(format!("{base}/api/auth/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let signed_in = client
        .post(format!("{base}/api/auth/login"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .header("x-request-id", "trace-test-request")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);

    let names = [
        "request",
        "sign_in",
        "check_password",
        "hash",
        "store.commit",
    ];
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = received
            .lock()
            .unwrap()
            .iter()
            .filter(|span| hex(&span.trace_id) == trace_id)
            .cloned()
            .collect();
        if names
            .iter()
            .all(|name| spans.iter().any(|s| s.name == *name))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let find = |name: &str| {
        spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("no {name} span in the caller's trace: {spans:?}"))
    };
    let request = find("request");
    assert_eq!(
        hex(&request.parent_span_id),
        caller_span,
        "the caller's span is the parent"
    );
    assert_eq!(
        attribute(request, "request_id").as_deref(),
        Some("trace-test-request")
    );
    let parent_of = |child: &Span, parent: &Span| {
        assert_eq!(
            child.parent_span_id, parent.span_id,
            "{} under {}",
            child.name, parent.name
        );
    };
    parent_of(find("sign_in"), request);
    parent_of(find("check_password"), find("sign_in"));
    parent_of(find("hash"), find("check_password"));
    parent_of(find("store.commit"), find("sign_in"));
    let _ = std::fs::remove_dir_all(&data_dir);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
