//! `Application::build(config)` → a bound listener, `port()`, `run_until_stopped()`.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::IntoResponse;
use axum::{Extension, Router, middleware};
use portcullis_core::{Clock, SystemClock};
use portcullis_store::{Drift, PoolOptions, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api;
use crate::api::docs::OpenApiJson;
use crate::config::{Config, Mode, decode_secret};
use crate::http::cookies::CookieSettings;
use crate::http::error::{method_not_allowed, not_found};
use crate::http::middleware::{
    BodyLimit, Hsts, RequestId, read_body, request_id, screen_methods, screen_uri, security_headers,
};
use crate::http::{ApiError, csrf};
use crate::janitor::Janitor;
use crate::keys::{KeySettings, Keys, PrivateKey, Signer, SigningAlg};
use crate::mail::delivery::{Delivery, Retry};
use crate::mail::transport::Transport;
use crate::metrics::MetricsListener;
use crate::pages::Pages;
use crate::service::background::Background;
use crate::service::{Core, ServiceError, millis};
use crate::state::{AppState, Inner};

/// How to build the application beyond its configuration.
pub struct BuildOptions {
    pub clock: Arc<dyn Clock>,
    /// Apply pending migrations even outside development (`serve --migrate`).
    pub migrate: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            migrate: false,
        }
    }
}

pub struct Application {
    listener: TcpListener,
    /// `/metrics` alone, when `PORTCULLIS_METRICS_ADDR` gives it an address of its own.
    metrics: Option<(TcpListener, Router)>,
    router: Router,
    store: Store,
    /// Loops that only read (key reloads, the Redis probe, change announcements): stopped at
    /// shutdown.
    tickers: Vec<tokio::task::JoinHandle<()>>,
    /// Background work (mail delivery, pruning) that finishes its step when told to stop.
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// Work requests handed off after answering; waited for at shutdown.
    background: Background,
    stop: watch::Sender<bool>,
}

impl Application {
    pub async fn build(config: Config, options: BuildOptions) -> anyhow::Result<Self> {
        config.validate()?;
        let store = open_store(&config, options.migrate).await?;
        let transport = Transport::from_config(&config)?;
        let core = Arc::new(Core::new(&config, store.clone(), options.clock.clone()).await?);
        let reloader = tokio::spawn(reload_keys(
            core.tokens.keys().clone(),
            store.clone(),
            options.clock.clone(),
            config.tokens.key_reload_interval,
        ));
        let limiter_probe = tokio::spawn({
            let core = core.clone();
            async move { core.limits.limiter.watch().await }
        });
        let settings_reload = tokio::spawn({
            let core = core.clone();
            async move { core.settings.watch(core.store.clone()).await }
        });
        let announcements = tokio::spawn(crate::cache::feed::follow(
            store.clone(),
            core.cache.clone(),
        ));
        let (stop, stopped) = watch::channel(false);
        let delivery = Delivery {
            store: store.clone(),
            mailer: core.mailer.clone(),
            transport,
            clock: options.clock.clone(),
            retry: Retry::from_config(&config),
            poll_interval: config.mail.mail_poll_interval,
        };
        let janitor = Janitor {
            store: store.clone(),
            clock: options.clock.clone(),
            interval: config.operations.prune_interval,
            audit_retention: config.operations.audit_retention,
            session_idle_timeout: config.sessions.session_idle_timeout,
        };
        let workers = vec![
            tokio::spawn(delivery.run(stopped.clone())),
            tokio::spawn(janitor.run(stopped)),
        ];
        let background = core.background.clone();
        let state = AppState::new(Inner {
            cookies: CookieSettings::new(
                config.server.cookie_prefix(),
                config.server.cookie_secure,
                secs(config.sessions.session_lifetime),
            ),
            origins: config.server.origins(),
            trusted_proxies: config.server.trusted_proxy_nets(),
            pages: Pages::new(&config)?,
            core,
            config,
        });
        let listener = bind(state.config.server.addr).await?;
        let metrics = match state.config.operations.metrics_addr {
            Some(addr) => Some((bind(addr).await?, metrics_router(state.clone()))),
            None => None,
        };
        let router = router(state)?;
        Ok(Self {
            tickers: vec![reloader, limiter_probe, settings_reload, announcements],
            listener,
            metrics,
            router,
            store,
            workers,
            background,
            stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// The server's own handle on its database; closing it is how tests take the database
    /// away from a running server.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// The port of the separate metrics listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        let (listener, _) = self.metrics.as_ref()?;
        listener.local_addr().ok().map(|a| a.port())
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests and the background
    /// workers' current steps finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, backend = self.store.backend(), "listening");
        let (stopping, _) = watch::channel(false);
        let serve = |listener: TcpListener, router: Router| {
            let mut stopping = stopping.subscribe();
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopping.changed().await;
            })
            .into_future()
        };
        let main = tokio::spawn(serve(self.listener, self.router));
        let metrics = self
            .metrics
            .map(|(listener, router)| tokio::spawn(serve(listener, router)));
        shutdown_signal().await;
        let _ = stopping.send(true);
        for server in std::iter::once(main).chain(metrics) {
            server.await.map_err(std::io::Error::other)??;
        }
        self.background.finished().await;
        let _ = self.stop.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
        for ticker in self.tickers {
            ticker.abort();
        }
        self.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// The signing-key settings the configuration describes; reads the key file, if any.
pub fn key_settings(config: &Config, kek: [u8; 32]) -> anyhow::Result<KeySettings> {
    let tokens = &config.tokens;
    let signer = match (tokens.jwt_alg, &tokens.jwt_key_file, &tokens.jwt_secret) {
        (SigningAlg::HS256, _, Some(secret)) => Signer::Shared(decode_secret(secret)?),
        (alg, Some(path), _) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Signer::File(
                PrivateKey::from_pem(alg, &pem)
                    .with_context(|| format!("PORTCULLIS_JWT_KEY_FILE {}", path.display()))?,
            )
        }
        (alg, None, _) => Signer::Stored(alg),
    };
    // A node that has not reloaded since the rotation still signs with the old key for up to
    // one reload interval, so the key stays published that much longer than its tokens'
    // lifetime and leeway.
    let publish_ms =
        millis(tokens.access_token_ttl + tokens.jwt_leeway + tokens.key_reload_interval);
    Ok(KeySettings {
        signer,
        kek,
        publish_ms,
    })
}

/// Re-reads the stored keys every `interval`, so rotations on other nodes are picked up.
async fn reload_keys(keys: Keys, store: Store, clock: Arc<dyn Clock>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if let Err(err) = keys.reload(&store, clock.now_ms()).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "reloading signing keys failed; keeping the current ones"
            );
        }
    }
}

/// The configured database, its schema checked: migrated when `migrate` says so or in
/// development, else refused when behind or ahead. Makes the data directory when the
/// database or the secret is to live there.
pub async fn open_store(config: &Config, migrate: bool) -> anyhow::Result<Store> {
    if config.database.database_url.is_none() || config.tokens.secret.is_none() {
        std::fs::create_dir_all(&config.server.data_dir).with_context(|| {
            format!(
                "creating data directory {}",
                config.server.data_dir.display()
            )
        })?;
    }
    let store = connect(config).await?;
    ensure_schema(&store, migrate || config.server.env == Mode::Development).await?;
    Ok(store)
}

/// Connects to the configured database.
pub async fn connect(config: &Config) -> anyhow::Result<Store> {
    let options = PoolOptions {
        max_connections: config.database.database_max_connections,
        ..PoolOptions::default()
    };
    Store::connect(&config.database_url(), options)
        .await
        .context("connecting to the database")
}

/// Applies migrations when allowed; otherwise refuses a database that is behind or ahead.
pub async fn ensure_schema(store: &Store, apply: bool) -> anyhow::Result<()> {
    match store.migration_report().await?.drift {
        Drift::UpToDate => Ok(()),
        Drift::Behind(_) if apply => Ok(store.migrate().await?),
        Drift::Behind(pending) => bail!(
            "database schema is behind: migration {} is not applied; run `portcullis migrate` or start with --migrate",
            pending.join(", ")
        ),
        Drift::Ahead(unknown) => bail!(
            "database schema is ahead of this binary: migration {} is unknown to it; run the newer version",
            unknown.join(", ")
        ),
    }
}

fn router(state: AppState) -> anyhow::Result<Router> {
    crate::metrics::handle();
    let (api, mut openapi) = api::router().split_for_parts();
    let router = api.merge(crate::pages::router());
    api::docs::complete(&mut openapi);
    let doc = OpenApiJson(Arc::new(openapi.to_json()?));
    let hsts = Hsts(state.config.server.hsts());
    let body_limit = state.config.server.body_limit_bytes;
    let cors = cors(&state.origins)?;
    let routes = router
        .route_layer(middleware::from_fn(crate::metrics::keep_route))
        .fallback(crate::pages::not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(doc))
        .with_state(state);
    // One tower stack around all the routes, outermost first, rather than `Router::layer`,
    // which wraps every route and boxes the response body again at each layer: the same
    // behaviour for a fraction of the instructions per request (docs/benchmarks.md).
    let stack = ServiceBuilder::new()
        .layer(middleware::from_fn(request_id))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req.extensions().get::<RequestId>().map_or("", |id| id.0.as_str());
                    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
                    crate::telemetry::continue_trace(&span, req.headers());
                    span
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                // Every answer is logged above with its status; a 5xx is not an error of its
                // own (503 sheds load, and a 500's cause is logged where it happens).
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .layer(middleware::from_fn_with_state(hsts, security_headers))
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(middleware::from_fn_with_state(BodyLimit(body_limit), read_body))
        .layer(middleware::from_fn(screen_uri))
        .layer(middleware::from_fn(screen_methods))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::from(ServiceError::Internal(anyhow::anyhow!("handler panicked"))).into_response()
        }))
        .layer(cors);
    Ok(Router::new().fallback_service(stack.service(routes)))
}

/// The router of the separate metrics listener: `/metrics` and nothing else.
fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(crate::api::prometheus))
        .layer(Extension(MetricsListener))
        .fallback(not_found)
        .with_state(state)
}

/// CORS for allow-listed origins only, exactly, with credentials; never `*` or `null`.
fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let origins = origins
        .iter()
        .map(|o| HeaderValue::from_str(o))
        .collect::<Result<Vec<_>, _>>()
        .context("allowed origins")?;
    // A predicate over a shared list rather than `AllowOrigin::list`, whose list is copied
    // with the layer at every request.
    let origins = Arc::new(origins);
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.contains(origin)
        }))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(csrf::CSRF_HEADER),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600)))
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
