//! Social sign-in: starting it (the state, bound to the browser by a cookie, with the PKCE
//! verifier and nonce sealed beside it), the callback (the state taken once, the browser
//! checked, the identity proven by the provider), and what the identity then does: sign in
//! (a cookie session, or a one-time code a bearer app exchanges), link to the signed-in
//! user, or re-authenticate them. Any failure of the flow is one `oauth_failed`, audited with
//! its reason; the rule of which account an identity reaches is in [`linking`].

pub mod accounts;
pub mod linking;

use portcullis_core::{PlainToken, SessionId, secrets_equal};
use portcullis_store::{NewOauthState, NewOneTimeToken, UserRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::audit::{Action, AuditEvent, Outcome};
use super::change::{self, Change};
use super::limits;
use super::redirects;
use super::sessions::{self, Authenticated, SignedIn, Transport};
use super::{Client, Core, ServiceError, ServiceResult};
use crate::config::Group;
use crate::oauth::{Authorization, Callback, Identity, IdentityProvider};
use crate::sealed;

/// How long a browser has between the start and the callback.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;
/// How long the one-time code of a bearer app's sign-in is good for.
const CODE_TTL_MS: i64 = 60_000;
/// Where the browser goes when the start names no `redirect_to`.
const DEFAULT_REDIRECT: &str = "/account";

/// The purposes the flow's tokens are hashed under.
mod purpose {
    pub const STATE: &str = "oauth_state";
    pub const BINDING: &str = "oauth_binding";
    pub const CODE: &str = "oauth_code";
}

/// What a start asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Sign in (or up) and hold the session this way.
    SignIn(Transport),
    /// Link the identity to the signed-in user.
    Link,
    /// Prove again that the signed-in user is who they are (an account without a password).
    Reauthenticate,
}

impl Intent {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignIn(_) => "sign_in",
            Self::Link => "link",
            Self::Reauthenticate => "reauth",
        }
    }
}

pub struct Start<'a> {
    pub provider: &'a str,
    pub redirect_to: Option<&'a str>,
    pub intent: Intent,
}

/// Where to send the browser, and the cookie that binds the state to it.
pub struct Started {
    pub location: Url,
    pub binding: PlainToken,
}

/// The secrets a state keeps sealed.
#[derive(Serialize, Deserialize)]
struct Secrets {
    verifier: String,
    nonce: String,
}

/// Starts a social sign-in with `provider`. Linking and re-authenticating need `session`.
#[tracing::instrument(name = "oauth_start", skip_all, fields(provider = start.provider))]
pub async fn start(
    core: &Core,
    start: Start<'_>,
    session: Option<&Authenticated>,
    client: &Client,
) -> ServiceResult<Started> {
    limits::per_client(
        core,
        Group::Oauth,
        "GET /api/auth/oauth/{provider}/start",
        client,
    )
    .await?;
    let provider = enabled(core, start.provider)?;
    let redirect_to = redirects::allowed(core, start.redirect_to.unwrap_or(DEFAULT_REDIRECT))?;
    let session_id = match start.intent {
        Intent::SignIn(_) => None,
        Intent::Link | Intent::Reauthenticate => {
            Some(session.ok_or(ServiceError::Unauthenticated)?.session.id)
        }
    };
    let (state, binding) = (PlainToken::generate(), PlainToken::generate());
    let secrets = Secrets {
        verifier: PlainToken::generate().expose().to_owned(),
        nonce: PlainToken::generate().expose().to_owned(),
    };
    let redirect_uri = callback_uri(core, provider.name());
    let authorization = Authorization {
        state: state.expose(),
        nonce: &secrets.nonce,
        pkce_verifier: &secrets.verifier,
        redirect_uri: &redirect_uri,
    };
    let location = match provider.authorize(&authorization).await {
        Ok(location) => location,
        Err(err) => {
            let reason = err.reason();
            tracing::warn!(provider = provider.name(), error = %err, "social sign-in could not start");
            return Err(failed(core, provider.name(), start.intent, reason, client).await);
        }
    };
    let state_hash = core.token_hasher.hash(purpose::STATE, &state);
    let now = core.now();
    core.store
        .save_oauth_state(&NewOauthState {
            secrets: sealed::seal(
                &core.state_key,
                state_hash.as_str(),
                &serde_json::to_vec(&secrets).map_err(anyhow::Error::from)?,
            )?,
            state_hash,
            binding_hash: core.token_hasher.hash(purpose::BINDING, &binding),
            provider: provider.name().to_owned(),
            redirect_to: redirect_to.to_string(),
            transport: match start.intent {
                Intent::SignIn(transport) => transport.as_str(),
                Intent::Link | Intent::Reauthenticate => Transport::Cookie.as_str(),
            },
            intent: start.intent.as_str(),
            session_id,
            created_at: now,
            expires_at: now + STATE_TTL_MS,
        })
        .await?;
    Ok(Started { location, binding })
}

/// What the provider sent back to the callback, and the browser's binding cookie.
pub struct Returned<'a> {
    pub provider: &'a str,
    pub code: Option<&'a str>,
    pub state: Option<&'a str>,
    pub iss: Option<&'a str>,
    pub error: Option<&'a str>,
    pub binding: Option<&'a str>,
}

/// Where the browser lands after the callback.
pub enum Landing {
    /// Signed in with a cookie session: set its cookies and go to `redirect_to`.
    Session {
        redirect_to: Url,
        signed_in: Box<SignedIn>,
    },
    /// Go to this URL: a bearer app's `redirect_to?code=…`, or back after a link or a
    /// re-authentication.
    Redirect(Url),
}

/// Completes a social sign-in.
#[tracing::instrument(name = "oauth_callback", skip_all, fields(provider = returned.provider))]
pub async fn callback(
    core: &Core,
    returned: Returned<'_>,
    client: &Client,
) -> ServiceResult<Landing> {
    limits::per_client(
        core,
        Group::Oauth,
        "GET /api/auth/oauth/{provider}/callback",
        client,
    )
    .await?;
    let provider = enabled(core, returned.provider)?;
    let name = provider.name();
    let unknown = Intent::SignIn(Transport::Cookie);
    let Some(state) = returned.state.and_then(PlainToken::parse) else {
        return Err(failed(core, name, unknown, "state_missing", client).await);
    };
    let state_hash = core.token_hasher.hash(purpose::STATE, &state);
    let Some(row) = core.store.take_oauth_state(&state_hash, core.now()).await? else {
        return Err(failed(core, name, unknown, "state_unknown_or_expired", client).await);
    };
    let intent = match (row.intent.as_str(), row.transport.as_str()) {
        ("link", _) => Intent::Link,
        ("reauth", _) => Intent::Reauthenticate,
        (_, "bearer") => Intent::SignIn(Transport::Bearer),
        _ => Intent::SignIn(Transport::Cookie),
    };
    let bound = returned
        .binding
        .and_then(PlainToken::parse)
        .is_some_and(|binding| {
            let hash = core.token_hasher.hash(purpose::BINDING, &binding);
            secrets_equal(hash.as_str(), &row.binding_hash)
        });
    let refusal = if row.provider != name {
        Some("state_of_another_provider")
    } else if !bound {
        Some("browser_mismatch")
    } else if returned.error.is_some() {
        Some("provider_error")
    } else if returned.code.is_none() {
        Some("code_missing")
    } else {
        None
    };
    if let Some(reason) = refusal {
        return Err(failed(core, name, intent, reason, client).await);
    }
    let secrets: Secrets = serde_json::from_slice(&sealed::open(
        &core.state_key,
        state_hash.as_str(),
        &row.secrets,
    )?)
    .map_err(anyhow::Error::from)?;
    let redirect_uri = callback_uri(core, name);
    let callback = Callback {
        code: returned.code.unwrap_or_default(),
        iss: returned.iss,
        pkce_verifier: &secrets.verifier,
        nonce: &secrets.nonce,
        redirect_uri: &redirect_uri,
    };
    let identity = match provider.identify(&callback).await {
        Ok(identity) => identity,
        Err(err) => {
            tracing::warn!(provider = name, error = %err, "social sign-in refused");
            return Err(failed(core, name, intent, err.reason(), client).await);
        }
    };
    let redirect_to = Url::parse(&row.redirect_to).map_err(anyhow::Error::from)?;
    let session_id = row.session_id.as_deref().and_then(|id| id.parse().ok());
    match intent {
        Intent::SignIn(transport) => {
            sign_in(core, name, &identity, transport, redirect_to, client).await
        }
        Intent::Link | Intent::Reauthenticate => {
            let Some(session_id) = session_id else {
                return Err(ServiceError::Unauthenticated);
            };
            let user = signed_in_user(core, &session_id).await?;
            if intent == Intent::Link {
                linking::link(core, &user, name, &identity, client).await?;
            } else {
                reauthenticate(core, &user, &session_id, name, &identity, client).await?;
            }
            Ok(Landing::Redirect(redirect_to))
        }
    }
}

/// Signs in (or up) with a proven identity: a cookie session, or for a bearer app a
/// one-time code on `redirect_to`.
async fn sign_in(
    core: &Core,
    provider: &str,
    identity: &Identity,
    transport: Transport,
    mut redirect_to: Url,
    client: &Client,
) -> ServiceResult<Landing> {
    let (mut change, user) = reach(
        core,
        Change::begin(core).await?,
        provider,
        identity,
        transport,
        client,
    )
    .await?;
    match transport {
        Transport::Cookie => {
            let opened =
                open_session(core, &mut change, &user, transport, provider, client).await?;
            change.commit().await?;
            Ok(Landing::Session {
                redirect_to,
                signed_in: Box::new(opened.finish(core, user)?),
            })
        }
        Transport::Bearer => {
            let code = PlainToken::generate();
            let now = core.now();
            change
                .issue_one_time_token(&NewOneTimeToken {
                    token_hash: core.token_hasher.hash(purpose::CODE, &code),
                    kind: purpose::CODE,
                    user_id: user.id,
                    email: user.email.clone(),
                    created_at: now,
                    expires_at: now + CODE_TTL_MS,
                })
                .await?;
            change
                .audit(
                    AuditEvent::by_user(Action::OauthLogin, client, &user.id)
                        .detail(json!({ "provider": provider, "transport": "bearer" })),
                )
                .await?;
            change.commit().await?;
            redirect_to
                .query_pairs_mut()
                .append_pair("code", code.expose());
            Ok(Landing::Redirect(redirect_to))
        }
    }
}

/// The user a sign-in with `identity` reaches, by the linking rule, and the change to go on
/// with; every refusal is audited with its reason. An account that must verify its address
/// first is committed (with its verification link) before the refusal.
async fn reach<'a>(
    core: &'a Core,
    mut change: Change<'a>,
    provider: &str,
    identity: &Identity,
    transport: Transport,
    client: &Client,
) -> ServiceResult<(Change<'a>, UserRow)> {
    let refused = match linking::account_for(core, &mut change, provider, identity, client).await {
        Ok(linking::Reached::User(user)) => return Ok((change, *user)),
        Ok(linking::Reached::MustVerify) => ServiceError::EmailNotVerified,
        Ok(linking::Reached::NoEmail) => ServiceError::OauthFailed,
        Err(err) => err,
    };
    let reason = match &refused {
        ServiceError::OauthFailed => "no_verified_email",
        other => other.code(),
    };
    let event = failure_event(provider, Intent::SignIn(transport), reason, client);
    if matches!(refused, ServiceError::EmailNotVerified) {
        change.audit(event).await?;
        change.commit().await?;
    } else {
        drop(change);
        change::record(core, event).await?;
    }
    Err(refused)
}

/// Opens a session for `user` in `change`, audited as `oauth.login`.
async fn open_session(
    core: &Core,
    change: &mut Change<'_>,
    user: &UserRow,
    transport: Transport,
    provider: &str,
    client: &Client,
) -> ServiceResult<sessions::Opened> {
    let opened = sessions::open(core, change, user, transport, client).await?;
    change
        .audit(
            AuditEvent::by_user(Action::OauthLogin, client, &user.id).detail(json!({
                "provider": provider,
                "transport": transport.as_str(),
                "session_id": opened.id(),
            })),
        )
        .await?;
    Ok(opened)
}

/// Exchanges a bearer app's one-time code for a bearer session: once, within 60 s.
#[tracing::instrument(name = "oauth_exchange", skip_all)]
pub async fn exchange(core: &Core, code: &str, client: &Client) -> ServiceResult<SignedIn> {
    limits::per_client(core, Group::Link, "POST /api/auth/oauth/exchange", client).await?;
    let hash = PlainToken::parse(code)
        .map(|code| core.token_hasher.hash(purpose::CODE, &code))
        .ok_or(ServiceError::InvalidToken)?;
    let mut change = Change::begin(core).await?;
    let used = change
        .use_one_time_token(purpose::CODE, &hash, core.now())
        .await?
        .ok_or(ServiceError::InvalidToken)?;
    let user = change
        .lock_user(&used.user_id)
        .await?
        .ok_or(ServiceError::InvalidToken)?;
    if user.is_banned(core.now()) {
        return Err(ServiceError::UserBanned);
    }
    let opened = sessions::open(core, &mut change, &user, Transport::Bearer, client).await?;
    change.commit().await?;
    opened.finish(core, user)
}

/// Signs in with an id_token the client obtained itself from `provider` (Google One Tap,
/// native apps); a token that does not check out is 401 `invalid_credentials`.
#[tracing::instrument(name = "oauth_id_token", skip_all, fields(provider))]
pub async fn sign_in_with_id_token(
    core: &Core,
    provider: &str,
    id_token: &str,
    transport: Transport,
    client: &Client,
) -> ServiceResult<SignedIn> {
    let endpoint = "POST /api/auth/oauth/google/id-token";
    limits::per_client(core, Group::Login, endpoint, client).await?;
    let provider = enabled(core, provider)?;
    let name = provider.name();
    let identity = match provider.verify_id_token(id_token).await {
        Ok(identity) => identity,
        Err(err) => {
            tracing::info!(provider = name, error = %err, "id_token refused");
            let event = failure_event(name, Intent::SignIn(transport), err.reason(), client);
            change::record(core, event).await?;
            return Err(ServiceError::InvalidCredentials);
        }
    };
    let (mut change, user) = reach(
        core,
        Change::begin(core).await?,
        name,
        &identity,
        transport,
        client,
    )
    .await?;
    let opened = open_session(core, &mut change, &user, transport, name, client).await?;
    change.commit().await?;
    opened.finish(core, user)
}

/// The live session `session_id`'s user, who asked to link or re-authenticate.
async fn signed_in_user(core: &Core, session_id: &SessionId) -> ServiceResult<UserRow> {
    let session = core
        .store
        .live_session(session_id, core.liveness())
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    let user = core
        .store
        .user_by_id(&session.user_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if user.is_banned(core.now()) {
        return Err(ServiceError::Unauthenticated);
    }
    Ok(user)
}

/// Records that `user` proved themselves through `provider` in this session: the identity
/// must be the one linked to them.
async fn reauthenticate(
    core: &Core,
    user: &UserRow,
    session_id: &SessionId,
    provider: &str,
    identity: &Identity,
    client: &Client,
) -> ServiceResult<()> {
    let linked = core
        .store
        .user_by_identity(provider, &identity.subject)
        .await?;
    if linked.is_none_or(|linked| linked.id != user.id) {
        return Err(failed(
            core,
            provider,
            Intent::Reauthenticate,
            "identity_of_another_user",
            client,
        )
        .await);
    }
    let mut change = Change::begin(core).await?;
    change.mark_reauthenticated(session_id, core.now()).await?;
    change
        .audit(
            AuditEvent::by_user(Action::OauthLogin, client, &user.id)
                .detail(json!({ "provider": provider, "reauthenticated": true })),
        )
        .await?;
    change.commit().await
}

/// The provider `name`, if configured and enabled (runtime settings); else 404.
fn enabled<'a>(
    core: &'a Core,
    name: &str,
) -> ServiceResult<&'a std::sync::Arc<dyn IdentityProvider>> {
    core.providers
        .get(name)
        .filter(|_| core.settings.get().provider_enabled(name))
        .ok_or(ServiceError::NotFound)
}

/// `{public URL}/api/auth/oauth/{name}/callback`, as registered at the provider.
pub fn callback_uri(core: &Core, name: &str) -> String {
    format!("{}/api/auth/oauth/{name}/callback", core.policy.public_url)
}

fn failure_event(provider: &str, intent: Intent, reason: &str, client: &Client) -> AuditEvent {
    let action = match intent {
        Intent::Link => Action::OauthLinked,
        Intent::SignIn(_) | Intent::Reauthenticate => Action::OauthLogin,
    };
    AuditEvent::new(action, client)
        .outcome(Outcome::Failure)
        .detail(json!({ "provider": provider, "intent": intent.as_str(), "reason": reason }))
}

/// Records a failed flow with its reason and gives the one answer the client sees.
async fn failed(
    core: &Core,
    provider: &str,
    intent: Intent,
    reason: &str,
    client: &Client,
) -> ServiceError {
    match change::record(core, failure_event(provider, intent, reason, client)).await {
        Ok(()) => ServiceError::OauthFailed,
        Err(err) => err,
    }
}
