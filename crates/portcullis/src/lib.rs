//! Portcullis: a self-hosted authentication server.

pub mod api;
pub mod audit;
pub mod auth;
pub mod background;
pub mod change;
pub mod cli;
pub mod config;
pub mod hash_pool;
pub mod http;
pub mod janitor;
pub mod jwt;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod sealed;
pub mod secret;
pub mod startup;
pub mod state;
pub mod telemetry;
