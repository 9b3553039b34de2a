//! Integration tests: the real server on a random port, spoken to over HTTP. SQLite by
//! default; PostgreSQL (one fresh schema per test) when TEST_DATABASE_URL is set.

mod browser;
mod helpers;
mod oidc;
mod redis_server;
mod smtp;

mod admin;
mod admin_changes;
mod audit;
mod cache;
mod cli;
mod cluster;
mod cookies;
mod email_change;
mod hardening;
mod import;
mod interop;
mod introspection;
mod keepalive;
mod keys;
mod limits;
mod lockout;
mod metrics;
mod nodes;
mod openapi;
mod outage;
mod pages;
mod passwords;
mod profile;
mod quiet_signup;
mod races;
mod refresh;
mod reset;
mod schema;
mod secrets;
mod sessions;
mod settings;
mod sign_in;
mod smtp_security;
mod social;
mod tokens;
#[cfg(feature = "otel")]
mod traces;
mod verification;
mod verify;
