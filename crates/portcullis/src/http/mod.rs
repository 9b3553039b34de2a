//! HTTP plumbing shared by every handler: errors, the JSON extractor, middleware, cookies.

pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod json;
pub mod middleware;
pub mod time;

pub use error::{ApiError, ApiResult};
pub use json::Json;
