//! Domain types and policies of Portcullis. No HTTP, no SQL: values here are valid once they
//! exist (`Email::parse`, `Password::parse`), and secrets redact themselves in `Debug`.

pub mod clock;
pub mod email;
pub mod ids;
pub mod password;
pub mod password_hash;
pub mod profile;
pub mod rate_limit;
pub mod role;
pub mod token;

pub use clock::{Clock, ManualClock, SystemClock};
pub use email::{Email, EmailError};
pub use ids::{InvalidId, SessionId, UserId};
pub use password::{Password, PasswordPolicy, PasswordRule};
pub use password_hash::{HashError, HashParams, PasswordHasher, Scheme};
pub use profile::{DisplayName, ImageUrl, ProfileRule, Username};
pub use role::{ADMIN, Role, RoleSet, RoleSetError};
pub use token::{HashedToken, PlainToken, TokenHasher, secrets_equal};
