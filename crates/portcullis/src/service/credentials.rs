//! Passwords against accounts: checking one on the hash pool (unknown accounts cost a hash
//! too), hashing a new one, and replacing one together with what the old one opened.

use portcullis_core::password_hash::Origin;
use portcullis_core::{Password, Scheme, SessionId, UserId};
use portcullis_store::{Credential, StoredPassword, UserRow};
use secrecy::{ExposeSecret, SecretString};

use super::change::Change;
use super::sessions::Authenticated;
use super::{Core, ServiceError, ServiceResult};

/// What a user signs in with.
pub enum LoginName {
    Email(String),
    Username(String),
}

impl LoginName {
    /// The identifier as typed, trimmed.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(text) | Self::Username(text) => text.trim(),
        }
    }
}

/// The result of checking a password against an account.
pub enum Verdict {
    /// The password is the user's: it matched `hash`. `rehash` is set when that hash was of a
    /// legacy scheme or weaker parameters: the replacement to store with the sign-in.
    Valid {
        user: Box<UserRow>,
        hash: String,
        rehash: Option<Credential>,
    },
    /// No such account (`None`) or the wrong password.
    Invalid { user: Option<Box<UserRow>> },
}

/// A password offered to prove who one is: normalised, never checked against the policy (so
/// users whose password predates a stricter policy can still sign in). Too long is refused
/// as `rule`'s field.
pub fn offered(raw: &SecretString, field: &str) -> ServiceResult<Password> {
    Password::for_verification(raw.expose_secret())
        .map_err(|rule| ServiceError::field(field, rule.code()))
}

/// A new password under the policy for the account of `email`, reported under `field`.
pub fn chosen(
    core: &Core,
    raw: &SecretString,
    field: &str,
    email: Option<&portcullis_core::Email>,
) -> ServiceResult<Password> {
    Password::parse(raw.expose_secret(), &core.policy.passwords, email)
        .map_err(|rule| ServiceError::field(field, rule.code()))
}

/// The account `login` names, if any, with its password hash, if it has one.
pub struct Found(Option<(UserRow, Option<StoredPassword>)>);

impl Found {
    pub fn user_id(&self) -> Option<&UserId> {
        self.0.as_ref().map(|(user, _)| &user.id)
    }
}

/// Looks up the account `login` names: a read, so that limits can be decided on the account
/// before any hash is spent.
pub async fn find(core: &Core, login: &LoginName) -> ServiceResult<Found> {
    let found = match login {
        LoginName::Email(_) => {
            core.store
                .user_with_password_by_email(login.as_str())
                .await?
        }
        LoginName::Username(_) => {
            core.store
                .user_with_password_by_username(login.as_str())
                .await?
        }
    };
    Ok(Found(found))
}

/// Checks `password` for the account `find` found. Unknown accounts cost one hash too, so
/// neither the answer nor its timing tells whether an account exists.
#[tracing::instrument(name = "check_password", skip_all)]
pub async fn check(core: &Core, found: Found, password: Password) -> ServiceResult<Verdict> {
    let (user, stored) = found
        .0
        .map_or((None, None), |(user, stored)| (Some(user), stored));
    match (verify(core, stored.clone(), password).await?, user, stored) {
        ((true, rehash), Some(user), Some(stored)) => Ok(Verdict::Valid {
            user: Box::new(user),
            hash: stored.hash,
            rehash,
        }),
        (_, user, _) => Ok(Verdict::Invalid {
            user: user.map(Box::new),
        }),
    }
}

/// How long a re-authentication through a provider stands in for a password.
const REAUTHENTICATION_WINDOW_MS: i64 = 5 * 60 * 1000;

/// What proved, for a change that asks, that the signed-in user is who they say.
pub enum Proof {
    /// The current password, matching this stored hash.
    Password(String),
    /// An account without a password, re-authenticated through its provider in this session
    /// within the last five minutes.
    Provider,
}

/// Proof that the signed-in user of `auth` is who they say: `offered`, their current
/// password as a request gives it, when they have one (401 `invalid_credentials` when it is
/// wrong, missing or too long to be one); for an account without a password, a recent
/// re-authentication through its provider (401 `reauthentication_required` otherwise). Changes
/// that rely on it check it again inside their transaction ([`Proof::holds`]).
#[tracing::instrument(name = "confirm_password", skip_all)]
pub async fn confirm(
    core: &Core,
    auth: &Authenticated,
    offered: Option<&SecretString>,
) -> ServiceResult<Proof> {
    let stored = core.store.password_hash(&auth.user.id).await?;
    let Some(stored) = stored else {
        let recent = auth
            .session
            .reauthenticated_at
            .is_some_and(|at| core.now() - at <= REAUTHENTICATION_WINDOW_MS);
        return if recent {
            Ok(Proof::Provider)
        } else {
            Err(ServiceError::ReauthenticationRequired)
        };
    };
    let password = offered
        .and_then(|offered| Password::for_verification(offered.expose_secret()).ok())
        .ok_or(ServiceError::InvalidCredentials)?;
    match verify(core, Some(stored.clone()), password).await? {
        (true, _) => Ok(Proof::Password(stored.hash)),
        (false, _) => Err(ServiceError::InvalidCredentials),
    }
}

impl Proof {
    /// Whether the proof still holds for what `change` reads now: the same password hash, or
    /// still no password at all.
    pub async fn holds(&self, change: &mut Change<'_>, user_id: &UserId) -> ServiceResult<bool> {
        let stored = change.lock_password_hash(user_id).await?;
        Ok(match (self, stored) {
            (Self::Password(checked), Some(stored)) => stored.hash == *checked,
            (Self::Provider, None) => true,
            _ => false,
        })
    }
}

/// Verifies against `stored` (or, without one, a dummy hash) on the hash pool; on a match
/// with an outdated hash also makes its replacement.
async fn verify(
    core: &Core,
    stored: Option<StoredPassword>,
    password: Password,
) -> ServiceResult<(bool, Option<Credential>)> {
    let verdict = core
        .hashing
        .run(move |hasher| {
            let Some(stored) = stored else {
                hasher.verify_dummy(&password);
                return Ok((false, None));
            };
            let origin = if stored.imported {
                Origin::Imported
            } else {
                Origin::Ours
            };
            match hasher.verify(&password, &stored.hash, origin) {
                Ok(true) => {}
                Ok(false) => return Ok((false, None)),
                // A hash that cannot be checked (beyond the cost ceilings, or damaged) proves
                // nothing: the sign-in fails as for a wrong password, and the account needs
                // a reset.
                Err(err) => {
                    tracing::warn!(error = %err, "a stored password hash cannot be verified");
                    hasher.verify_dummy(&password);
                    return Ok((false, None));
                }
            }
            // An imported hash is replaced by our own even when its parameters match ours:
            // ours are made from the NFKC form.
            let rehash = (stored.imported || hasher.needs_rehash(&stored.hash))
                .then(|| hasher.hash(&password))
                .transpose()?
                .map(|hash| Credential {
                    hash,
                    scheme: Scheme::Argon2id,
                    imported: false,
                });
            Ok::<_, portcullis_core::HashError>((true, rehash))
        })
        .await??;
    Ok(verdict)
}

/// A new Argon2id hash of `password`, on the hash pool.
#[tracing::instrument(name = "hash_password", skip_all)]
pub async fn hash(core: &Core, password: Password) -> ServiceResult<Credential> {
    let hash = core
        .hashing
        .run(move |hasher| hasher.hash(&password))
        .await??;
    Ok(Credential {
        hash,
        scheme: Scheme::Argon2id,
        imported: false,
    })
}

/// Stores a new password in `change` and ends what the old one opened: every session but
/// `keep` (refresh tokens die with them) and every emailed link. Returns the sessions ended.
pub async fn replace(
    change: &mut Change<'_>,
    user_id: &UserId,
    credential: &Credential,
    keep: Option<&SessionId>,
    now: i64,
) -> ServiceResult<u64> {
    // The user's row first, as a sign-in locks it, so the two wait for each other in order.
    change.lock_user(user_id).await?;
    change.set_password(user_id, credential, now).await?;
    let revoked = change.revoke_sessions_of(user_id, keep, now).await?;
    change.delete_one_time_tokens_of(user_id).await?;
    Ok(revoked)
}
