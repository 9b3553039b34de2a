//! A real SMTP server on loopback for the mail tests: Python's aiosmtpd running
//! `tests/smtp/sink.py`, which writes each accepted message to a directory as JSON.
//! Without aiosmtpd the mail tests skip, unless TEST_REQUIRE_SMTP=1 (CI) makes that a failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py");

/// One message as the server received it, its parts decoded.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub subject: String,
    /// The Message-ID header, empty when there was none.
    #[serde(default)]
    pub message_id: String,
    pub text: String,
    pub html: String,
    /// Whether it came over TLS (STARTTLS or from the first byte).
    pub tls: bool,
    /// Whether the client had authenticated.
    pub authenticated: bool,
}

/// How the server is secured: nothing (plain, no AUTH), or TLS of a kind and AUTH.
#[derive(Debug, Clone, Copy, Default)]
pub struct Security {
    pub tls: Option<TlsMode>,
    /// `user:password` that AUTH must present.
    pub auth: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
pub enum TlsMode {
    /// STARTTLS, required before MAIL.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

impl Received {
    /// The `token` parameter of the first link in the text part.
    pub fn token(&self) -> String {
        let start = self.text.find("token=").expect("a link with a token") + "token=".len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// The first link in the text part.
    pub fn link(&self) -> String {
        let start = self.text.find("http").expect("a link");
        self.text[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }
}

pub struct SmtpSink {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    security: Security,
}

impl SmtpSink {
    /// Starts a plain server on a free port; `None` (skip) when aiosmtpd is not installed.
    pub fn start() -> Option<Self> {
        Self::start_with(Security::default())
    }

    /// Starts a server secured as `security` says; with TLS its certificate, for 127.0.0.1,
    /// is self-signed and at [`Self::certificate`].
    pub fn start_with(security: Security) -> Option<Self> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            assert!(
                std::env::var("TEST_REQUIRE_SMTP").as_deref() != Ok("1"),
                "TEST_REQUIRE_SMTP=1 but python3 cannot import aiosmtpd (pip install aiosmtpd)"
            );
            eprintln!("aiosmtpd not installed: mail test skipped (pip install aiosmtpd)");
            return None;
        }
        let port = crate::helpers::free_port();
        let dir = std::env::temp_dir().join(format!("portcullis-smtp-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        if security.tls.is_some() {
            let certified =
                rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                    .unwrap();
            std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
            std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
        }
        let mut sink = Self {
            child: None,
            port,
            dir,
            security,
        };
        sink.up();
        Some(sink)
    }

    /// The server's certificate (PEM), to trust.
    pub fn certificate(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and waits until it listens.
    pub fn up(&mut self) {
        let mut args = vec![
            SINK.to_owned(),
            self.port.to_string(),
            self.dir.join("mail").to_str().unwrap().to_owned(),
        ];
        if let Some(mode) = self.security.tls {
            args.push(match mode {
                TlsMode::StartTls => "--starttls".into(),
                TlsMode::Implicit => "--tls".into(),
            });
            args.push(self.certificate().to_str().unwrap().to_owned());
            args.push(self.dir.join("key.pem").to_str().unwrap().to_owned());
        }
        if let Some(credentials) = self.security.auth {
            args.extend(["--auth".to_owned(), credentials.to_owned()]);
        }
        let mut child = Command::new("python3")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        self.child = Some(child);
    }

    /// Stops the server; connections to its port are refused until [`Self::up`].
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("mail")) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// The messages to `to`, waiting up to ten seconds until there are at least `count`.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let found = self.to(to);
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {count} message(s) to {to}; received: {:#?}",
            self.received()
        );
    }

    /// The messages received so far for `to`.
    pub fn to(&self, to: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r.eq_ignore_ascii_case(to)))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
