use std::path::PathBuf;
use std::sync::Arc;

use portcullis::config::Config;
use portcullis::startup::{Application, BuildOptions};
use portcullis_core::ManualClock;
use portcullis_store::{PoolOptions, Store};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub use crate::smtp::SmtpSink;

pub const PASSWORD: &str = "correct horse battery staple";
pub const INTROSPECTION_SECRET: &str = "introspection-secret-for-tests-0123456789";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub clock: ManualClock,
    pub store: Store,
    pub config: Config,
    data_dir: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Bearer credentials from a sign-in.
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub session_id: String,
}

/// The two cookies of a cookie sign-in.
pub struct CookieSession {
    pub session: String,
    pub csrf: String,
    pub session_id: String,
}

impl CookieSession {
    pub fn header(&self) -> String {
        format!(
            "__Host-portcullis_session={}; __Host-portcullis_csrf={}",
            self.session, self.csrf
        )
    }
}

/// An HTTP client. reqwest's TLS provider is chosen by the process (portcullis-verify
/// builds it without one), so install rustls's ring provider first.
pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

/// The PostgreSQL URL to test against; when CI says PostgreSQL is expected, its absence fails.
pub fn postgres_url() -> Option<String> {
    service_url("TEST_DATABASE_URL", "TEST_REQUIRE_POSTGRES")
}

/// The Redis to share limits through, from `TEST_REDIS_URL`; when CI says Redis is expected
/// (`TEST_REQUIRE_REDIS=1`), its absence fails.
pub fn redis_url() -> Option<String> {
    service_url("TEST_REDIS_URL", "TEST_REQUIRE_REDIS")
}

/// The URL in `variable`, if set; a failure when `required` is `1` and it is not.
fn service_url(variable: &str, required: &str) -> Option<String> {
    let url = std::env::var(variable).ok().filter(|u| !u.is_empty());
    if url.is_none() && std::env::var(required).is_ok_and(|v| v == "1") {
        panic!("{required}=1 but {variable} is not set");
    }
    url
}

/// A fresh database: a new SQLite file, or a new PostgreSQL schema.
pub async fn fresh_database(data_dir: &std::path::Path) -> String {
    match postgres_url() {
        None => format!("sqlite://{}", data_dir.join("test.db").display()),
        Some(url) => {
            let schema = format!("test_{}", uuid::Uuid::now_v7().simple());
            let admin = Store::connect(
                &url,
                PoolOptions {
                    max_connections: 1,
                    ..Default::default()
                },
            )
            .await
            .expect("TEST_DATABASE_URL must be reachable");
            let Store::Postgres(pool) = &admin else {
                panic!("TEST_DATABASE_URL is not PostgreSQL")
            };
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(pool)
                .await
                .unwrap();
            admin.close().await;
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{schema}")
        }
    }
}

pub fn test_config(data_dir: PathBuf) -> Config {
    let mut config = Config::default();
    config.server.addr = "127.0.0.1:0".parse().unwrap();
    config.server.data_dir = data_dir;
    // Most tests sign in and sign up far more often than a client may; the limits' own tests
    // switch them on.
    config.limits.rate_limit = portcullis::config::Switch::Off;
    // Plain http on loopback, but cookie tests still check the __Host- names.
    config.server.cookie_secure = true;
    config.database.database_max_connections = 4;
    // Rotations by other processes reach the test server quickly.
    config.tokens.key_reload_interval = std::time::Duration::from_millis(100);
    // Mail queued by another node is found quickly.
    config.mail.mail_poll_interval = std::time::Duration::from_millis(100);
    // With TEST_REDIS_URL, limits live in Redis, under keys of this app's own.
    if let Some(url) = redis_url() {
        config.redis.redis_url = Some(url.into());
        config.redis.redis_prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    }
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = std::env::temp_dir().join(format!("portcullis-test-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let mut config = test_config(data_dir.clone());
    config.database.database_url = Some(fresh_database(&data_dir).await.into());
    adjust(&mut config);
    let clock = ManualClock::new();
    let base = start_node(&config, &clock).await;
    let store = test_store(&config).await;
    TestApp {
        base,
        client: client(),
        clock,
        store,
        config,
        data_dir,
    }
}

/// An app whose mail goes to a real SMTP server on loopback; `None` when none can run here.
pub async fn spawn_app_with_mail(adjust: impl FnOnce(&mut Config)) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start()?;
    let url = sink.url();
    let app = spawn_app_with(|config| {
        config.mail.smtp_url = Some(url.into());
        adjust(config);
    })
    .await;
    Some((app, sink))
}

impl TestApp {
    /// A handle on a server running elsewhere (another process) on `config`'s database.
    pub async fn attach(base: String, config: Config) -> TestApp {
        TestApp {
            store: test_store(&config).await,
            data_dir: config.server.data_dir.clone(),
            base,
            client: client(),
            clock: ManualClock::new(),
            config,
        }
    }
}

/// The test's own connection to the database under `config`.
async fn test_store(config: &Config) -> Store {
    let options = PoolOptions {
        max_connections: 2,
        ..Default::default()
    };
    Store::connect(
        config.database.database_url.as_ref().unwrap().expose(),
        options,
    )
    .await
    .unwrap()
}

/// Starts one more server on `config`'s database; returns its base URL.
pub async fn start_node(config: &Config, clock: &ManualClock) -> String {
    let options = BuildOptions {
        clock: Arc::new(clock.clone()),
        migrate: false,
    };
    let app = Application::build(config.clone(), options)
        .await
        .expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

impl TestApp {
    /// Another node sharing this app's database, secret and clock.
    pub async fn second_node(&self) -> TestApp {
        let base = start_node(&self.config, &self.clock).await;
        let store = test_store(&self.config).await;
        // The data directory (and its generated secret) stays with the first node.
        let data_dir =
            std::env::temp_dir().join(format!("portcullis-node-{}", uuid::Uuid::now_v7()));
        TestApp {
            base,
            client: client(),
            clock: self.clock.clone(),
            store,
            config: self.config.clone(),
            data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client.delete(self.url(path))
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.client.patch(self.url(path))
    }

    /// A POST without a body.
    pub fn post_empty(&self, path: &str) -> RequestBuilder {
        self.client.post(self.url(path))
    }

    pub fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.client.post(self.url(path)).json(body)
    }

    /// POST /api/auth/register with `email` and `password`.
    pub async fn register_with(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/auth/register",
            &json!({"email": email, "password": password}),
        )
        .send()
        .await
        .unwrap()
    }

    pub async fn register(&self, email: &str) -> Tokens {
        let response = self.register_with(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        tokens(response.json().await.unwrap())
    }

    /// POST /api/auth/logout with a bearer token.
    pub async fn logout(&self, access: &str) -> Response {
        self.post_empty("/api/auth/logout")
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// Gives the signed-in user `username`.
    pub async fn set_username(&self, access: &str, username: &str) {
        let patch = self
            .patch("/api/auth/me")
            .bearer_auth(access)
            .json(&json!({"username": username}))
            .send()
            .await
            .unwrap();
        assert_eq!(patch.status(), StatusCode::OK);
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/auth/login",
            &json!({"email": email, "password": password}),
        )
        .send()
        .await
        .unwrap()
    }

    pub async fn login_bearer(&self, email: &str) -> Tokens {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        tokens(response.json().await.unwrap())
    }

    pub async fn login_cookie(&self, email: &str) -> CookieSession {
        let response = self
            .post(
                "/api/auth/login",
                &json!({"email": email, "password": PASSWORD, "transport": "cookie"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let session = cookie_value(&response, "__Host-portcullis_session").expect("session cookie");
        let csrf = cookie_value(&response, "__Host-portcullis_csrf").expect("csrf cookie");
        let body: Value = response.json().await.unwrap();
        assert!(
            body.get("access_token").is_none(),
            "cookie sign-in must not return tokens"
        );
        CookieSession {
            session,
            csrf,
            session_id: body["session"]["id"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates an admin through `portcullis admin create` against the app's database. The
    /// command runs off the test's runtime, which keeps serving the app meanwhile (a blocked
    /// runtime would stall any of the app's tasks that the command waits for).
    pub async fn create_admin(&self, email: &str, password: &str) -> std::process::Output {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        command
            .args(["admin", "create", "--email", email])
            .env_clear()
            .env(
                "DATABASE_URL",
                self.config.database.database_url.as_ref().unwrap().expose(),
            )
            .env("PORTCULLIS_DATA_DIR", &self.config.server.data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let line = format!("{password}\n");
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(line.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    /// A new admin, signed in with a bearer token.
    pub async fn admin(&self) -> Tokens {
        let email = unique_email();
        let output = self.create_admin(&email, PASSWORD).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.login_bearer(&email).await
    }

    /// The user id behind an access token.
    pub async fn user_id(&self, access: &str) -> String {
        let me: Value = self.me(access).await.json().await.unwrap();
        me["id"].as_str().expect("signed in").to_owned()
    }

    /// Runs one SQL statement on the app's database, behind the API's back.
    pub async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.store {
            Store::Sqlite { write, .. } => sqlx::query(sql).execute(write).await.map(|_| ()),
            Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap();
    }

    /// Waits until the outbox holds nothing left to send, so that what arrived is all that
    /// will arrive.
    pub async fn outbox_settled(&self) {
        self.wait_for_count(
            "SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL",
            0,
        )
        .await;
    }

    /// Waits up to ten seconds until the count query `sql` returns `expected`.
    pub async fn wait_for_count(&self, sql: &str, expected: i64) {
        for _ in 0..200 {
            if self.scalar(sql).await == expected {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(self.scalar(sql).await, expected, "{sql}");
    }

    /// Every row of `table` as text, one line a row, for searching it for what must not be
    /// there.
    pub async fn dump(&self, table: &str) -> String {
        use sqlx::Row;
        let sql = format!("SELECT * FROM {table}");
        macro_rules! dump {
            ($pool:expr) => {{
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all($pool)
                    .await
                    .unwrap();
                rows.iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| {
                                row.try_get::<Option<String>, _>(i)
                                    .ok()
                                    .flatten()
                                    .unwrap_or_default()
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }};
        }
        match &self.store {
            Store::Sqlite { read, .. } => dump!(read),
            Store::Postgres(pool) => dump!(pool),
        }
    }

    /// The single integer a query returns (a count, say), read behind the API's back.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.store {
            Store::Sqlite { read, .. } => sqlx::query_scalar(sql).fetch_one(read).await,
            Store::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap()
    }

    /// GET /api/auth/me with a bearer token.
    pub async fn me(&self, access: &str) -> Response {
        self.get("/api/auth/me")
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// GET /api/auth/me with session cookies.
    pub async fn me_cookie(&self, cookies: &CookieSession) -> Response {
        self.get("/api/auth/me")
            .header("cookie", cookies.header())
            .send()
            .await
            .unwrap()
    }
}

pub fn tokens(body: Value) -> Tokens {
    Tokens {
        access: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh: body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
        session_id: body["session"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The raw `Set-Cookie` header for `name`.
pub fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub fn cookie_value(response: &Response, name: &str) -> Option<String> {
    let header = set_cookie(response, name)?;
    let value = header.split(';').next()?.split_once('=')?.1;
    Some(value.to_owned())
}

/// Asserts a problem+json response with `status` and `code`, and returns its body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

/// `token` re-signed as HS256 with the server's published Ed25519 public key as the HMAC
/// secret, keeping its kid, type and claims: the classic algorithm-confusion forgery.
pub async fn forge_hs256_with_public_key(app: &TestApp, token: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let mut parts = token.split('.');
    let (header, claims) = (decode(parts.next().unwrap()), decode(parts.next().unwrap()));
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut forged = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    forged.kid = header["kid"].as_str().map(str::to_owned);
    forged.typ = Some("at+jwt".into());
    jsonwebtoken::encode(
        &forged,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap()
}

/// The live OpenAPI document.
pub async fn openapi_document(app: &TestApp) -> Value {
    let response = app.get("/api/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// One operation of the live OpenAPI document.
pub struct Operation {
    pub method: reqwest::Method,
    /// The documented template, e.g. `/api/auth/sessions/{id}`.
    pub path: String,
    /// The template with `{id}` filled by an id that exists nowhere.
    pub url: String,
    pub spec: Value,
}

/// Every operation the live OpenAPI document lists.
pub async fn documented_operations(app: &TestApp) -> Vec<Operation> {
    let doc = openapi_document(app).await;
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, spec) in item.as_object().unwrap() {
            operations.push(Operation {
                method: reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path: path.clone(),
                url: app.url(
                    &path
                        .replace("{id}", "01900000-0000-7000-8000-000000000000")
                        .replace("{sid}", "01900000-0000-7000-8000-000000000001")
                        .replace("{provider}", "nope"),
                ),
                spec: spec.clone(),
            });
        }
    }
    operations
}

/// A port nobody listens on right now, for a server started in another process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits up to ten seconds for the server at `base` to answer `/health`.
pub async fn wait_until_up(client: &Client, base: &str) {
    for _ in 0..100 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server at {base} did not start");
}

pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::now_v7().simple())
}
