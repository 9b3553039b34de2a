//! The test servers of social sign-in, started per test on 127.0.0.1: a real OpenID provider
//! (`oidc-provider`, `tests/oidc/provider.mjs`) and a GitHub stand-in (`tests/oidc/github.mjs`),
//! and a browser's part in their flows, driven over plain HTTP. They skip (or, with
//! `TEST_REQUIRE_OIDC=1`, fail) where Node or `tests/oidc/node_modules` is missing.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use portcullis::config::{Config, OauthConfig};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::browser::*;
use crate::helpers::*;

pub const CLIENT_SECRET: &str = "client-secret-for-the-test-provider";

fn servers() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// A Node test server: the child process, killed on drop, and its URL.
pub struct NodeServer {
    child: Child,
    pub url: String,
    http: Client,
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeServer {
    /// Starts `script` with `args`; `None` (skip) where it cannot run here.
    fn start(script: &str, args: &[&str]) -> Option<Self> {
        let available = servers().join("node_modules").is_dir()
            && Command::new("node")
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !available {
            assert!(
                std::env::var("TEST_REQUIRE_OIDC").as_deref() != Ok("1"),
                "TEST_REQUIRE_OIDC=1 but node or tests/oidc/node_modules is missing (npm ci there)"
            );
            eprintln!("node or tests/oidc/node_modules missing: social sign-in test skipped");
            return None;
        }
        let mut child = Command::new("node")
            .arg(servers().join(script))
            .args([
                "--port",
                "0",
                "--stdin-watch",
                "--quiet",
                "--max-lifetime",
                "600",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("{script} said {line:?}"))
            .to_owned();
        Some(Self {
            child,
            url,
            http: no_redirects(),
        })
    }

    /// POSTs `body` to the server's test endpoint `path`.
    pub async fn admin(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/__test/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }
}

/// The OpenID provider; `args` as `provider.mjs` takes them (`--keys 1`, say).
pub fn start_provider(args: &[&str]) -> Option<NodeServer> {
    NodeServer::start("provider.mjs", args)
}

pub fn start_github() -> Option<NodeServer> {
    NodeServer::start("github.mjs", &[])
}

/// A server whose public URL is its own address (as a provider's callback must be), with
/// the providers that `oauth` lists (as `PORTCULLIS_OAUTH_*` would: lower-case keys).
pub async fn spawn_app_with_providers(
    oauth: &[(&str, String)],
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let port = free_port();
    let keys = oauth
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect();
    spawn_app_with(|config| {
        config.server.addr = format!("127.0.0.1:{port}").parse().unwrap();
        config.server.public_url = format!("http://127.0.0.1:{port}").parse().unwrap();
        config.oauth = OauthConfig::from_keys(&keys).expect("test providers are valid");
        adjust(config);
    })
    .await
}

/// An app with the generic OpenID provider `corp` at `op`, registered there as a client of
/// its own; returns the app and its client id.
pub async fn app_with_corp(op: &NodeServer, adjust: impl FnOnce(&mut Config)) -> (TestApp, String) {
    let client_id = format!("portcullis-{}", uuid::Uuid::now_v7().simple());
    let app = spawn_app_with_providers(
        &[
            ("oauth_providers", "corp".into()),
            ("oauth_corp_client_id", client_id.clone()),
            ("oauth_corp_client_secret", CLIENT_SECRET.into()),
            ("oauth_corp_issuer", op.url.clone()),
            ("oauth_corp_display_name", "Corp SSO".into()),
        ],
        adjust,
    )
    .await;
    op.admin(
        "client",
        json!({
            "client_id": client_id,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [app.url("/api/auth/oauth/corp/callback")],
        }),
    )
    .await;
    (app, client_id)
}

/// The provider's part for a browser sent to `authorize`: its login form (as `login`) and
/// consent form, until it redirects back to the callback; returns that callback URL.
pub async fn consent(
    browser: &mut Browser,
    op: &NodeServer,
    authorize: &str,
    login: &str,
) -> String {
    let mut url = authorize.to_owned();
    for _ in 0..8 {
        let response = browser.get(&url).await;
        let next = location(&url, &response);
        if !next.starts_with(&op.url) {
            return next;
        }
        if let Some(uid) = next.strip_prefix(&format!("{}/interaction/", op.url)) {
            let prompt = if browser.cookie(&op.url, "op_session").is_some() {
                "consent"
            } else {
                "login"
            };
            let form: Vec<(&str, &str)> = match prompt {
                "login" => vec![("prompt", "login"), ("login", login), ("password", "any")],
                _ => vec![("prompt", "consent")],
            };
            let posted = browser
                .post_form(&format!("{}/interaction/{uid}", op.url), &form)
                .await;
            assert_eq!(posted.status(), StatusCode::SEE_OTHER, "{prompt} form");
            url = location(&op.url, &posted);
        } else {
            url = next;
        }
    }
    panic!("the provider never sent the browser back");
}

/// A browser's whole sign-in at `app` through provider `name` (`op` the provider, `login`
/// the user there), from the start with `query` to the callback's answer.
pub async fn sign_in_through(
    app: &TestApp,
    op: &NodeServer,
    browser: &mut Browser,
    name: &str,
    query: &str,
    login: &str,
) -> Response {
    let start = browser
        .get(&app.url(&format!("/api/auth/oauth/{name}/start{query}")))
        .await;
    assert_eq!(start.status(), StatusCode::FOUND, "start");
    let authorize = location(&app.base, &start);
    let back = consent(browser, op, &authorize, login).await;
    browser.get(&back).await
}
