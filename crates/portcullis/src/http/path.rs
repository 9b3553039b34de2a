//! Ids in paths, parsed by the extractor: an id that cannot exist (not a UUID, invalid
//! percent-encoding, bytes that are not UTF-8) is 404 `not_found` as problem+json, like an
//! id that exists nowhere, never the framework's plain-text 400.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use portcullis_core::{SessionId, UserId};

use super::ApiError;

/// The typed ids of a path: one id, or a user's id and one of their sessions' ids.
pub struct Ids<T>(pub T);

/// What a path's segments parse into.
pub trait FromSegments: Sized {
    fn from_segments(segments: &[String]) -> Option<Self>;
}

/// A path of exactly one id.
fn single<T: std::str::FromStr>(segments: &[String]) -> Option<T> {
    match segments {
        [id] => id.parse().ok(),
        _ => None,
    }
}

impl FromSegments for UserId {
    fn from_segments(segments: &[String]) -> Option<Self> {
        single(segments)
    }
}

impl FromSegments for SessionId {
    fn from_segments(segments: &[String]) -> Option<Self> {
        single(segments)
    }
}

impl FromSegments for (UserId, SessionId) {
    fn from_segments(segments: &[String]) -> Option<Self> {
        match segments {
            [user, session] => Some((user.parse().ok()?, session.parse().ok()?)),
            _ => None,
        }
    }
}

impl<S, T> FromRequestParts<S> for Ids<T>
where
    S: Send + Sync,
    T: FromSegments,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(segments) = Path::<Vec<String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NOT_FOUND)?;
        T::from_segments(&segments)
            .map(Ids)
            .ok_or(ApiError::NOT_FOUND)
    }
}
