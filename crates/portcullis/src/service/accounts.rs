//! The one way an account comes to exist, whoever makes it: sign-up, `admin create` and
//! `users import` all build a [`NewAccount`] and insert it with [`create`].

use portcullis_core::{DisplayName, Email, Role, UserId, Username};
use portcullis_store::{Credential, NewUser, UserRow};

use super::change::Change;
use super::{ServiceError, ServiceResult};

/// An account to create: an address and a role, then what else is known of it.
#[derive(Debug, Clone)]
pub struct NewAccount(NewUser);

impl NewAccount {
    /// An account for `email` with `role`, created at `created_at` (unix ms), whose id sorts
    /// by that time.
    pub fn new(email: Email, role: Role, created_at: i64) -> Self {
        Self(NewUser {
            id: UserId::at(created_at),
            email,
            name: None,
            username: None,
            role,
            email_verified: false,
            credential: None,
            created_at,
        })
    }

    pub fn name(mut self, name: Option<DisplayName>) -> Self {
        self.0.name = name;
        self
    }

    pub fn username(mut self, username: Option<Username>) -> Self {
        self.0.username = username;
        self
    }

    /// Marks the address verified: the operator vouches for it, or the source system did.
    pub fn verified(mut self, verified: bool) -> Self {
        self.0.email_verified = verified;
        self
    }

    pub fn password(mut self, credential: Option<Credential>) -> Self {
        self.0.credential = credential;
        self
    }

    pub fn id(&self) -> &UserId {
        &self.0.id
    }

    pub fn email(&self) -> &Email {
        &self.0.email
    }

    pub fn row(&self) -> &NewUser {
        &self.0
    }
}

/// Inserts the account in `change` and returns it as stored.
pub async fn create(change: &mut Change<'_>, account: &NewAccount) -> ServiceResult<UserRow> {
    change.create_user(account.row()).await?;
    change
        .user_by_id(account.id())
        .await?
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("a user just created is missing")))
}
