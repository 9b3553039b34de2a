//! A refusal never breaks the client's connection: a request refused before its body was
//! read (a cookie write from a foreign origin, a JSON request with a bad bearer token, a
//! body over the limit) leaves its keep-alive connection usable, or its response says
//! `Connection: close`. Tested with the headers and the body in separate TCP writes, as
//! httpx sends them, and with alternating pairs on one pooled client.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// One response read off a raw connection: status, headers (lowercased names), body.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Raw {
    fn closes(&self) -> bool {
        self.headers
            .iter()
            .any(|(name, value)| name == "connection" && value.eq_ignore_ascii_case("close"))
    }
}

/// Sends `head` and, after a pause that puts it in a packet of its own, `body`; reads one
/// response (bounded in time).
async fn exchange(stream: &mut TcpStream, head: &str, body: &[u8]) -> Option<Raw> {
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.flush().await.ok()?;
    if !body.is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        stream.write_all(body).await.ok()?;
    }
    tokio::time::timeout(Duration::from_secs(10), read_response(stream))
        .await
        .ok()?
}

async fn read_response(stream: &mut TcpStream) -> Option<Raw> {
    let mut buffer = Vec::new();
    let header_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    Some(Raw { status, headers })
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

#[tokio::test]
async fn refusals_with_a_body_in_its_own_packet_keep_the_connection() {
    let app = spawn_app().await;
    let cookies = app
        .login_cookie(&{
            let email = unique_email();
            app.register(&email).await;
            email
        })
        .await;
    let cookie = cookies.header();
    let profile = json!({ "name": "Eve" }).to_string().into_bytes();
    let change =
        json!({ "current_password": PASSWORD, "new_password": "another passphrase entirely" })
            .to_string()
            .into_bytes();
    let oversized = vec![b' '; 70 * 1024];
    let cases: [(&str, String, &[u8], u16); 3] = [
        (
            "a cookie write from a foreign origin",
            request(
                "PATCH",
                "/api/auth/me",
                &[
                    ("cookie", &cookie),
                    ("x-csrf-token", &cookies.csrf),
                    ("origin", "https://evil.example"),
                ],
                &profile,
            ),
            &profile,
            403,
        ),
        (
            "a JSON request with a bad bearer token",
            request(
                "POST",
                "/api/auth/password/change",
                &[("authorization", "Bearer not-a-token")],
                &change,
            ),
            &change,
            401,
        ),
        (
            "a body over the limit",
            request("POST", "/api/auth/register", &[], &oversized),
            &oversized,
            413,
        ),
    ];
    let address = app.base.trim_start_matches("http://").to_owned();
    for (what, head, body, status) in cases {
        for _ in 0..20 {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            let refused = exchange(&mut stream, &head, body).await.expect(what);
            assert_eq!(refused.status, status, "{what}");
            let next = exchange(
                &mut stream,
                "GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
                b"",
            )
            .await;
            match next {
                Some(next) => assert_eq!(next.status, 200, "{what}: the next request"),
                None => assert!(
                    refused.closes(),
                    "{what}: the connection was dropped without Connection: close"
                ),
            }
        }
    }
}

#[tokio::test]
async fn alternating_refusals_and_reads_on_one_client_all_get_answers() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    for _ in 0..100 {
        let refused = app
            .post(
                "/api/auth/password/change",
                &json!({ "current_password": "x" }),
            )
            .bearer_auth("not-a-token")
            .send()
            .await
            .expect("the refused request is answered");
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let me = app.me(&tokens.access).await;
        assert_eq!(me.status(), StatusCode::OK);
    }
}
