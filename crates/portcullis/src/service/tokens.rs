//! Tokens for application backends: access tokens for cookie sessions, and RFC 7662
//! introspection through the one authentication path.

use std::sync::Arc;

use portcullis_core::PlainToken;
use portcullis_store::{SessionRow, UserRow};

use super::sessions::{self, Authenticated, Presented, Transport};
use super::{Core, ServiceError, ServiceResult};
use crate::jwt::AccessClaims;

/// An access token minted for a cookie session, for calling separate resource servers.
/// Bearer callers hold tokens already: 401 for them.
pub fn for_cookie_session(core: &Core, auth: &Authenticated) -> ServiceResult<String> {
    if auth.transport != Transport::Cookie {
        return Err(ServiceError::Unauthenticated);
    }
    sessions::access_token(core, &auth.user, &auth.session.id)
}

/// An active token, as introspection reports it.
pub struct Active {
    pub user: Arc<UserRow>,
    pub session: Arc<SessionRow>,
    /// The claims of an access token; `None` for a refresh token.
    pub claims: Option<Arc<AccessClaims>>,
}

/// Whether `token` (an access or an unused refresh token) is active right now: valid, and
/// of a live session of a user who is not banned. Never an error for a bad token: inactive.
pub async fn introspect(core: &Core, token: &str) -> ServiceResult<Option<Active>> {
    let refresh = PlainToken::parse(token);
    let presented = match &refresh {
        Some(refresh) => Presented::RefreshToken(refresh),
        None => Presented::AccessToken(token),
    };
    match sessions::authenticate(core, presented).await {
        Ok(auth) => Ok(Some(Active {
            user: auth.user,
            session: auth.session,
            claims: auth.claims,
        })),
        Err(ServiceError::Unauthenticated) => Ok(None),
        Err(other) => Err(other),
    }
}
