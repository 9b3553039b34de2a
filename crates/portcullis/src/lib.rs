//! Portcullis: a self-hosted authentication server.

pub mod api;
pub mod cache;
pub mod cli;
pub mod config;
pub mod hash_pool;
pub mod http;
pub mod janitor;
pub mod jwt;
pub mod keys;
pub mod limiter;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod pages;
pub mod sealed;
pub mod secret;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod time;
