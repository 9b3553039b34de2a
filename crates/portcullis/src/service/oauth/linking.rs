//! The linking rule: which account a proven identity reaches. An identity signs in to the
//! account linked to it. An unlinked identity whose provider-verified address is a local
//! account's verified address is linked to it; one whose address belongs to no account makes
//! a new account (when registration is open); any other case is 409 `account_exists`: the
//! owner signs in and links explicitly. An identity belongs to at most one user, and a user
//! holds at most one identity per provider (the database says so too).

use portcullis_core::{DisplayName, Email, ImageUrl};
use portcullis_store::{NewOauthAccount, StoreError, UserRow};
use serde_json::json;

use super::super::accounts::{self, NewAccount};
use super::super::audit::{Action, AuditEvent, Outcome};
use super::super::change::{self, Change};
use super::super::links;
use super::super::{Client, Core, ServiceError, ServiceResult};
use crate::oauth::Identity;

/// Where an identity leads.
pub enum Reached {
    /// Sign in as this user.
    User(Box<UserRow>),
    /// The account's address must be verified before it signs in (a new account's link is
    /// queued in the change, which must still commit).
    MustVerify,
    /// Linked to no one, and no address the provider vouches for: nothing to sign in to.
    NoEmail,
}

/// The account `identity` of `provider` reaches, linked or created in `change` as the rule
/// says, each step audited.
pub async fn account_for(
    core: &Core,
    change: &mut Change<'_>,
    provider: &str,
    identity: &Identity,
    client: &Client,
) -> ServiceResult<Reached> {
    let email = identity
        .email
        .as_deref()
        .and_then(|raw| Email::parse(raw).ok());
    if let Some(mut user) = core
        .store
        .user_by_identity(provider, &identity.subject)
        .await?
    {
        // The provider vouches for the account's own address: that verifies it.
        let proves_address = identity.email_verified
            && email
                .as_ref()
                .is_some_and(|e| e.lowercase() == user.email.to_lowercase());
        if proves_address && !user.email_verified {
            change
                .mark_email_verified(&user.id, &user.email, core.now())
                .await?;
            user.email_verified = true;
        }
        return admit(core, user);
    }
    let Some(email) = email else {
        return Ok(Reached::NoEmail);
    };
    if let Some(user) = core.store.user_by_email(email.as_str()).await? {
        if !(identity.email_verified && user.email_verified) {
            return Err(ServiceError::AccountExists);
        }
        attach(
            change,
            &user,
            provider,
            identity,
            "verified_email",
            client,
            core.now(),
        )
        .await?;
        return admit(core, user);
    }
    if !core.settings.get().registration_open {
        return Err(ServiceError::RegistrationDisabled);
    }
    let account = NewAccount::new(email, core.policy.roles.default_role().clone(), core.now())
        .verified(identity.email_verified)
        .name(
            identity
                .name
                .as_deref()
                .and_then(|n| DisplayName::parse(n).ok()),
        );
    let mut user = accounts::create(change, &account).await?;
    if let Some(image) = identity
        .picture
        .as_deref()
        .and_then(|p| ImageUrl::parse(p).ok())
    {
        let update = portcullis_store::UserChange {
            image: Some(Some(image)),
            ..Default::default()
        };
        change.update_user(&user.id, &update, core.now()).await?;
        user = change.user_by_id(&user.id).await?.unwrap_or(user);
    }
    change
        .audit(
            AuditEvent::by_user(Action::UserRegistered, client, &user.id)
                .detail(json!({ "source": "oauth", "provider": provider })),
        )
        .await?;
    attach(
        change,
        &user,
        provider,
        identity,
        "new_account",
        client,
        core.now(),
    )
    .await?;
    metrics::counter!(crate::metrics::REGISTRATIONS).increment(1);
    if !user.email_verified {
        links::send_verification(core, change, &user, client).await?;
    }
    admit(core, user)
}

/// Links `identity` to the signed-in `user` who asked for it. An identity already linked to
/// them is fine; one linked to someone else, or a second identity of the same provider, is
/// 409 `account_exists`.
pub async fn link(
    core: &Core,
    user: &UserRow,
    provider: &str,
    identity: &Identity,
    client: &Client,
) -> ServiceResult<()> {
    if let Some(linked) = core
        .store
        .user_by_identity(provider, &identity.subject)
        .await?
    {
        if linked.id == user.id {
            return Ok(());
        }
        return Err(refused_link(core, provider, "identity_linked_to_another_user", client).await);
    }
    let mut change = Change::begin(core).await?;
    change.lock_user(&user.id).await?;
    match attach(
        &mut change,
        user,
        provider,
        identity,
        "user",
        client,
        core.now(),
    )
    .await
    {
        Ok(()) => change.commit().await,
        Err(ServiceError::AccountExists) => {
            drop(change);
            Err(refused_link(core, provider, "already_linked", client).await)
        }
        Err(other) => Err(other),
    }
}

/// Writes the link of `identity` to `user`, audited as `oauth.linked` with how it came
/// about (`by`).
async fn attach(
    change: &mut Change<'_>,
    user: &UserRow,
    provider: &str,
    identity: &Identity,
    by: &str,
    client: &Client,
    now: i64,
) -> ServiceResult<()> {
    let account = NewOauthAccount {
        user_id: user.id,
        provider: provider.to_owned(),
        provider_user_id: identity.subject.clone(),
        email: identity.email.clone(),
        created_at: now,
    };
    match change.link_identity(&account).await {
        Err(StoreError::IdentityLinked | StoreError::ProviderLinked) => {
            return Err(ServiceError::AccountExists);
        }
        other => other?,
    }
    change
        .audit(
            AuditEvent::by_user(Action::OauthLinked, client, &user.id)
                .detail(json!({ "provider": provider, "by": by })),
        )
        .await
}

/// Whether `user` may sign in now.
fn admit(core: &Core, user: UserRow) -> ServiceResult<Reached> {
    if user.is_banned(core.now()) {
        return Err(ServiceError::UserBanned);
    }
    if core.settings.get().email_verification_required && !user.email_verified {
        return Ok(Reached::MustVerify);
    }
    Ok(Reached::User(Box::new(user)))
}

async fn refused_link(core: &Core, provider: &str, reason: &str, client: &Client) -> ServiceError {
    let event = AuditEvent::new(Action::OauthLinked, client)
        .outcome(Outcome::Denied)
        .detail(json!({ "provider": provider, "reason": reason }));
    match change::record(core, event).await {
        Ok(()) => ServiceError::AccountExists,
        Err(err) => err,
    }
}
