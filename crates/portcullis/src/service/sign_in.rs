//! Sign-in with a password. The outcome is either a session or a refusal with its reason, so
//! that every front door (the JSON API, pages, later a second factor) renders the same
//! decision.

use portcullis_store::UserRow;
use secrecy::SecretString;
use serde_json::json;

use super::audit::{Action, AuditEvent, Outcome};
use super::change::{self, Change};
use super::credentials::{self, LoginName, Verdict};
use super::limits;
use super::sessions::{self, SignedIn, Transport};
use super::{Client, Core, ServiceError, ServiceResult};

pub struct SignIn {
    /// The endpoint asked, whose budget the attempt spends.
    pub endpoint: &'static str,
    pub login: LoginName,
    pub password: SecretString,
    pub transport: Transport,
}

/// What became of a sign-in. A later second factor adds a variant here; adapters turn the
/// outcome into a result with [`SignInOutcome::into_result`] and render the error the same
/// way as every other.
pub enum SignInOutcome {
    SignedIn(Box<SignedIn>),
    Refused(Refusal),
}

impl SignInOutcome {
    pub fn into_result(self) -> ServiceResult<SignedIn> {
        match self {
            Self::SignedIn(signed_in) => Ok(*signed_in),
            Self::Refused(refusal) => Err(refusal.into()),
        }
    }
}

/// Why a sign-in is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not the password, or no longer: it changed while it was being checked.
    WrongPassword,
    /// The password was right; the account is banned.
    Banned,
    /// The password was right; the address must be verified first.
    Unverified,
}

impl Refusal {
    /// What policy says about a user whose password was right.
    fn of(core: &Core, user: &UserRow) -> Option<Self> {
        if user.is_banned(core.now()) {
            Some(Self::Banned)
        } else if core.settings.get().email_verification_required && !user.email_verified {
            Some(Self::Unverified)
        } else {
            None
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::WrongPassword => "invalid_credentials",
            Self::Banned => "banned",
            Self::Unverified => "email_not_verified",
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Self::WrongPassword => Outcome::Failure,
            Self::Banned | Self::Unverified => Outcome::Denied,
        }
    }
}

impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::WrongPassword => Self::InvalidCredentials,
            Refusal::Banned => Self::UserBanned,
            Refusal::Unverified => Self::EmailNotVerified,
        }
    }
}

#[tracing::instrument(name = "sign_in", skip_all, fields(transport = sign_in.transport.as_str()))]
pub async fn sign_in(
    core: &Core,
    sign_in: SignIn,
    client: &Client,
) -> ServiceResult<SignInOutcome> {
    if !core.settings.get().password_login {
        return Err(ServiceError::MethodDisabled);
    }
    let password = credentials::offered(&sign_in.password, "password")?;
    let pseudonym = login_key(core, &sign_in.login);
    let failure = |refusal: Refusal, user: Option<&UserRow>| {
        metrics::counter!(crate::metrics::LOGINS, "outcome" => refusal.reason()).increment(1);
        let event = AuditEvent::new(Action::LoginFailed, client)
            .outcome(refusal.outcome())
            .login_key(pseudonym.clone())
            .detail(json!({ "reason": refusal.reason() }));
        match user {
            Some(user) => event.subject(&user.id),
            None => event,
        }
    };
    let found = credentials::find(core, &sign_in.login).await?;
    let account = limits::Account {
        id: found.user_id(),
        pseudonym: &pseudonym,
    };
    let attempt = limits::sign_in(core, sign_in.endpoint, client, account).await?;
    let (user, verified, rehash) = match credentials::check(core, found, password).await? {
        Verdict::Valid { user, hash, rehash } => {
            // The password is right, whatever policy says next: the run of failures is over.
            attempt.succeeded(core).await;
            (user, hash, rehash)
        }
        Verdict::Invalid { user } => {
            let event = failure(Refusal::WrongPassword, user.as_deref());
            change::record(core, event).await?;
            return Ok(SignInOutcome::Refused(Refusal::WrongPassword));
        }
    };
    // What the password check read is read again, locked, in the transaction that starts the
    // session: a reset, password change or ban committed while the hash was being verified
    // wins, and one that comes after waits for this commit and then ends this session too.
    let mut change = Change::begin(core).await?;
    let locked = change.lock_user(&user.id).await?;
    let hash = change.lock_password_hash(&user.id).await?;
    let checked = match (locked, hash) {
        (Some(user), Some(stored)) if stored.hash == verified => match Refusal::of(core, &user) {
            Some(refusal) => Err(refusal),
            None => Ok(user),
        },
        _ => Err(Refusal::WrongPassword),
    };
    let user = match checked {
        Ok(user) => user,
        Err(refusal) => {
            change.audit(failure(refusal, Some(&user))).await?;
            change.commit().await?;
            return Ok(SignInOutcome::Refused(refusal));
        }
    };
    if let Some(credential) = &rehash {
        change
            .set_password(&user.id, credential, core.now())
            .await?;
    }
    let opened = sessions::open(core, &mut change, &user, sign_in.transport, client).await?;
    let event = AuditEvent::by_user(Action::LoginSucceeded, client, &user.id).detail(json!({
        "session_id": opened.id(),
        "transport": sign_in.transport.as_str(),
        "password_rehashed": rehash.is_some(),
    }));
    change.audit(event).await?;
    change.commit().await?;
    metrics::counter!(crate::metrics::LOGINS, "outcome" => "success").increment(1);
    Ok(SignInOutcome::SignedIn(Box::new(
        opened.finish(core, user)?,
    )))
}

/// The audit trail's pseudonym for a sign-in identifier: the same for every spelling of one
/// address, and meaningless without the server secret.
pub fn login_key(core: &Core, login: &LoginName) -> String {
    core.token_hasher
        .digest("audit_login", &login.as_str().to_lowercase())
}
