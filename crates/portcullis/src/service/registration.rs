//! Sign-up: a new account, its verification link, and (unless the address must be verified
//! first) a session.

use portcullis_core::{DisplayName, Email, Password};
use portcullis_store::UserRow;
use secrecy::{ExposeSecret, SecretString};

use super::accounts::{self, NewAccount};
use super::audit::{Action, AuditEvent};
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

/// The new account, signed in unless verification is required before sign-in.
pub struct Registered {
    pub user: UserRow,
    pub signed_in: Option<SignedIn>,
}

#[tracing::instrument(name = "register", skip_all)]
pub async fn register(
    core: &Core,
    registration: Registration,
    client: &Client,
) -> ServiceResult<Registered> {
    if !core.policy.registration_open {
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
    let credential = credentials::hash(core, password).await?;
    let account = NewAccount::new(email, core.policy.roles.default_role().clone(), core.now())
        .name(name)
        .password(Some(credential));
    let mut change = Change::begin(core).await?;
    let user = accounts::create(&mut change, &account).await?;
    change
        .audit(AuditEvent::by_user(
            Action::UserRegistered,
            client,
            &user.id,
        ))
        .await?;
    links::send_link(core, &mut change, Link::VerifyEmail, &user.id, &user.email).await?;
    change
        .audit(AuditEvent::by_user(
            Action::EmailVerificationSent,
            client,
            &user.id,
        ))
        .await?;
    metrics::counter!(crate::metrics::REGISTRATIONS).increment(1);
    if core.policy.require_email_verification {
        change.commit().await?;
        return Ok(Registered {
            user,
            signed_in: None,
        });
    }
    let opened = sessions::open(core, &mut change, &user, registration.transport, client).await?;
    change.commit().await?;
    Ok(Registered {
        signed_in: Some(opened.finish(core, user.clone())?),
        user,
    })
}
