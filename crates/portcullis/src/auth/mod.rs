//! Authentication of requests and the lifecycle of sessions.

pub mod extractor;
pub mod links;
pub mod service;

pub use extractor::{AdminAuth, Auth, ClientInfo, SameOrigin};
pub use service::{SessionGrant, Transport};

/// The purposes tokens are hashed under, kept apart so one kind never passes as another.
pub mod purpose {
    pub const SESSION: &str = "session";
    pub const REFRESH: &str = "refresh";
    pub const CSRF: &str = "csrf";
}
