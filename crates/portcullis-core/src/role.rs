//! Roles: names from a configured set, one of which is always `admin`.

use std::fmt;

/// The role whose holders administer Portcullis itself.
pub const ADMIN: &str = "admin";

/// A role name. Values from the configured [`RoleSet`] or read back from the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Role(String);

impl Role {
    pub fn admin() -> Self {
        Self(ADMIN.to_owned())
    }

    pub fn is_admin(&self) -> bool {
        self.0 == ADMIN
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Rows hold roles as text; what the store has was written from a [`RoleSet`].
impl From<String> for Role {
    fn from(name: String) -> Self {
        Self(name)
    }
}

/// Why a role configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleSetError {
    #[error("role names are 1-32 of a-z, 0-9, _ and -: {0:?}")]
    BadName(String),
    #[error("the roles must include admin")]
    NoAdmin,
    #[error("the default role {0:?} is not one of the roles")]
    UnknownDefault(String),
    #[error("the default role cannot be admin: every new account would administer the server")]
    AdminDefault,
}

/// The configured roles and the one new accounts get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSet {
    roles: Vec<Role>,
    default: Role,
}

impl RoleSet {
    pub fn new(names: &[String], default: &str) -> Result<Self, RoleSetError> {
        if let Some(bad) = names.iter().find(|name| !valid_name(name)) {
            return Err(RoleSetError::BadName(bad.clone()));
        }
        if !names.iter().any(|name| name == ADMIN) {
            return Err(RoleSetError::NoAdmin);
        }
        if default == ADMIN {
            return Err(RoleSetError::AdminDefault);
        }
        if !names.iter().any(|name| name == default) {
            return Err(RoleSetError::UnknownDefault(default.to_owned()));
        }
        Ok(Self {
            roles: names.iter().cloned().map(Role).collect(),
            default: Role(default.to_owned()),
        })
    }

    /// The role named `name`, if it is one of the set.
    pub fn parse(&self, name: &str) -> Option<Role> {
        self.roles.iter().find(|role| role.0 == name).cloned()
    }

    /// The role of new accounts; never `admin`.
    pub fn default_role(&self) -> &Role {
        &self.default
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.roles.iter().map(Role::as_str)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str], default: &str) -> Result<RoleSet, RoleSetError> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        RoleSet::new(&names, default)
    }

    #[test]
    fn roles_must_include_admin_and_a_default_that_is_not_admin() {
        let roles = set(&["user", "admin", "editor"], "user").unwrap();
        assert_eq!(roles.parse("editor").unwrap().as_str(), "editor");
        assert!(roles.parse("owner").is_none());
        assert_eq!(roles.default_role().as_str(), "user");
        assert_eq!(set(&["user"], "user"), Err(RoleSetError::NoAdmin));
        assert_eq!(
            set(&["user", "admin"], "viewer"),
            Err(RoleSetError::UnknownDefault("viewer".into()))
        );
        assert_eq!(
            set(&["user", "admin"], "admin"),
            Err(RoleSetError::AdminDefault)
        );
        assert!(matches!(
            set(&["User", "admin"], "User"),
            Err(RoleSetError::BadName(_))
        ));
    }
}
