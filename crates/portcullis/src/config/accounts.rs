//! Who may have an account and what it may do: registration, roles, verification.

use portcullis_core::{ADMIN, RoleSet};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::values::list;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AccountConfig {
    pub registration_open: bool,
    /// Sign-in with a password (social sign-in is not affected).
    pub password_login: bool,
    /// The role names users may hold; must include `admin` and the default role.
    #[serde(with = "list")]
    pub roles: Vec<String>,
    /// The role of new users; never `admin`.
    pub default_role: String,
    /// Refuse sign-in until the email is verified; true in production, false in development
    /// when unset.
    pub require_email_verification: Option<bool>,
    /// The product's name in mail, pages and the password policy.
    pub product_name: String,
    /// Sign-up answers alike for new and existing addresses (202); the owner of an existing
    /// one is told by mail. Needs verification before sign-in.
    pub quiet_signup: bool,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            registration_open: true,
            password_login: true,
            roles: vec!["user".into(), ADMIN.into()],
            default_role: "user".into(),
            require_email_verification: None,
            product_name: "Portcullis".into(),
            quiet_signup: false,
        }
    }
}

impl AccountConfig {
    pub fn role_set(&self) -> Result<RoleSet, ConfigError> {
        RoleSet::new(&self.roles, &self.default_role)
            .map_err(|e| ConfigError(format!("PORTCULLIS_ROLES / PORTCULLIS_DEFAULT_ROLE: {e}")))
    }
}
