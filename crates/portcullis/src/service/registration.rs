//! Sign-up: a new account, its verification link, and (unless the address must be verified
//! first) a session. Quiet sign-up answers before anything depends on whether the address is
//! taken, and settles the rest by mail.

use std::sync::Arc;

use portcullis_core::{DisplayName, Email, Password};
use portcullis_store::UserRow;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::accounts::{self, NewAccount};
use super::audit::{Action, AuditEvent, Outcome};
use super::change::Change;
use super::credentials;
use super::limits;
use super::links::{self, Link};
use super::sessions::{self, SignedIn, Transport};
use super::{Client, Core, ServiceError, ServiceResult, Violations};
use crate::config::Group;

pub struct Registration {
    pub email: String,
    pub password: SecretString,
    pub name: Option<String>,
    pub transport: Transport,
}

/// What became of a sign-up.
pub enum Registered {
    /// The new account, signed in.
    SignedIn(Box<SignedIn>),
    /// The new account, which must verify its address before it signs in.
    Unverified(Box<UserRow>),
    /// Quiet sign-up: accepted alike whether the address was new or taken; what happened is
    /// told by mail (a verification link, or to the owner, a note with a reset link).
    Accepted,
}

#[tracing::instrument(name = "register", skip_all)]
pub async fn register(
    core: &Arc<Core>,
    registration: Registration,
    client: &Client,
) -> ServiceResult<Registered> {
    let settings = core.settings.get();
    if !settings.registration_open {
        return Err(ServiceError::RegistrationDisabled);
    }
    limits::per_client(core, Group::Register, "POST /api/auth/register", client).await?;
    let mut violations = Violations::default();
    let email = violations.check("email", Email::parse(&registration.email), |e| e.code());
    let password = violations.check(
        "password",
        Password::parse(
            registration.password.expose_secret(),
            &core.policy.passwords,
            email.as_ref(),
        ),
        |rule| rule.code(),
    );
    let name = registration
        .name
        .as_deref()
        .map(DisplayName::parse)
        .transpose();
    let name = violations.check("name", name, |rule| rule.code());
    let (Some(email), Some(password), Some(name)) = (email, password, name) else {
        return Err(ServiceError::Invalid(violations));
    };
    // Hashed whether or not the address is taken, so that quiet sign-up costs the same.
    let credential = credentials::hash(core, password).await?;
    let account = NewAccount::new(email, core.policy.roles.default_role().clone(), core.now())
        .name(name)
        .password(Some(credential));
    if core.policy.quiet_signup {
        let (core, client) = (core.clone(), client.clone());
        core.clone().background.spawn("quiet_signup", async move {
            settle_quietly(&core, account, &client).await
        })?;
        return Ok(Registered::Accepted);
    }
    let mut change = Change::begin(core).await?;
    let user = create_and_verify(core, &mut change, &account, client).await?;
    if settings.email_verification_required {
        change.commit().await?;
        return Ok(Registered::Unverified(Box::new(user)));
    }
    let opened = sessions::open(core, &mut change, &user, registration.transport, client).await?;
    change.commit().await?;
    Ok(Registered::SignedIn(Box::new(opened.finish(core, user)?)))
}

/// Creates the account in `change` with its verification link, both recorded.
async fn create_and_verify(
    core: &Core,
    change: &mut Change<'_>,
    account: &NewAccount,
    client: &Client,
) -> ServiceResult<UserRow> {
    let user = accounts::create(change, account).await?;
    change
        .audit(AuditEvent::by_user(
            Action::UserRegistered,
            client,
            &user.id,
        ))
        .await?;
    links::send_verification(core, change, &user, client).await?;
    metrics::counter!(crate::metrics::REGISTRATIONS).increment(1);
    Ok(user)
}

/// After a quiet sign-up has been answered: the new account and its verification link, or,
/// for an address that has an account, a note to its owner with a reset link (at most one
/// per mail cooldown) instead of a second account.
async fn settle_quietly(core: &Core, account: NewAccount, client: &Client) -> ServiceResult<()> {
    let mut change = Change::begin(core).await?;
    match create_and_verify(core, &mut change, &account, client).await {
        Ok(_) => return change.commit().await,
        Err(ServiceError::EmailTaken) => drop(change),
        Err(other) => return Err(other),
    }
    let Some(owner) = core.store.user_by_email(account.email().as_str()).await? else {
        return Ok(());
    };
    let mut change = Change::begin(core).await?;
    let mailed = links::send_link_once(
        core,
        &mut change,
        Link::AccountExists,
        &owner.id,
        &owner.email,
    )
    .await?;
    let event = AuditEvent::new(Action::UserRegistered, client)
        .subject(&owner.id)
        .outcome(Outcome::Denied)
        .detail(json!({ "reason": "email_taken", "owner_notified": mailed }));
    change.audit(event).await?;
    change.commit().await
}
