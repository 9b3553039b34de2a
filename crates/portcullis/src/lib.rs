//! Portcullis: a self-hosted authentication server.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod hash_pool;
pub mod http;
pub mod jwt;
pub mod keys;
pub mod metrics;
pub mod secret;
pub mod startup;
pub mod state;
pub mod telemetry;
