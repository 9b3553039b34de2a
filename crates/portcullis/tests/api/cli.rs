//! The `portcullis` binary itself: configuration checks, migrations, graceful shutdown.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

fn portcullis(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_DATA_DIR", data_dir);
    command
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portcullis-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn production_without_a_secret_refuses_with_one_line() {
    let dir = temp_dir();
    let output = portcullis(&dir)
        .env("PORTCULLIS_ENV", "production")
        .env("PORTCULLIS_PUBLIC_URL", "https://auth.example.com")
        .env("PORTCULLIS_SMTP_URL", "smtp://mail.example.com:587")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("PORTCULLIS_SECRET"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn config_check_masks_secrets() {
    let dir = temp_dir();
    let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==";
    let output = portcullis(&dir)
        .args(["config", "check"])
        .env("PORTCULLIS_SECRET", secret)
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@db.internal/portcullis",
        )
        .env(
            "PORTCULLIS_ALLOWED_ORIGINS",
            "https://app.example.com,https://admin.example.com",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        !stdout.contains(secret) && !stdout.contains("hunter2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("https://app.example.com,https://admin.example.com"),
        "{stdout}"
    );
    let bad = portcullis(&dir)
        .args(["config", "check"])
        .env("PORTCULLIS_ALLOWED_ORIGINS", "null")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn migrate_brings_a_new_database_up_to_date() {
    let dir = temp_dir();
    let output = portcullis(&dir).arg("migrate").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("up to date")
    );
    assert!(dir.join("portcullis.db").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let dir = temp_dir();
    let port = free_port();
    // A deliberately slow hash keeps the sign-in in flight when the signal arrives.
    let mut child = portcullis(&dir)
        .env("PORTCULLIS_ADDR", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_HASH_MEMORY_KIB", "65536")
        .env("PORTCULLIS_HASH_ITERATIONS", "12")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = client();
    wait_until_up(&client, &base).await;
    let login = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .post(format!("{base}/api/auth/login"))
                .json(&json!({"email": unique_email(), "password": PASSWORD}))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let response = login
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exited cleanly: {status}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn development_mail_goes_to_the_log_with_its_link() {
    let dir = temp_dir();
    let port = free_port();
    let log = dir.join("server.log");
    let mut child = portcullis(&dir)
        .env("PORTCULLIS_ADDR", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_MAIL_POLL_INTERVAL", "100ms")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = client();
    wait_until_up(&client, &base).await;
    let email = unique_email();
    let registered = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let mut printed = String::new();
    for _ in 0..100 {
        printed = std::fs::read_to_string(&log).unwrap();
        if printed.contains("verify-email?token=") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(printed.contains("log transport"), "{printed}");
    assert!(
        printed.contains("http://localhost:8080/verify-email?token="),
        "{printed}"
    );
    assert!(printed.contains(&email), "the message names its recipient");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
