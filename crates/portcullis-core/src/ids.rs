//! Typed ids. UUIDv7, so ids sort by creation time in both databases.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

const HYPHENATED_LEN: usize = 36;

/// Text that is not an id of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an id: ids are hyphenated UUIDs")]
pub struct InvalidId;

macro_rules! uuid_id {
    ($name:ident) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// An id whose UUIDv7 timestamp is `unix_ms`, so that ids of records brought in
            /// from elsewhere keep sorting by their own creation time.
            pub fn at(unix_ms: i64) -> Self {
                let ms = u64::try_from(unix_ms).unwrap_or(0);
                let nanos = u32::try_from(ms % 1000).unwrap_or(0) * 1_000_000;
                let stamp = uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, nanos);
                Self(Uuid::new_v7(stamp))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            /// Accepts only the hyphenated form the server itself writes.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match Uuid::try_parse(s) {
                    Ok(uuid) if s.len() == HYPHENATED_LEN => Ok(Self(uuid)),
                    _ => Err(InvalidId),
                }
            }
        }

        /// For rows read back from the database, which holds ids as text.
        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }
    };
}

uuid_id!(UserId);
uuid_id!(SessionId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = UserId::new();
        assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
        assert_eq!(UserId::try_from(id.to_string()).unwrap(), id);
        for bad in ["not-a-uuid", "", "0190000000007000800000000000000000"] {
            assert!(bad.parse::<SessionId>().is_err(), "{bad}");
        }
        let simple = id.to_string().replace('-', "");
        assert!(
            simple.parse::<UserId>().is_err(),
            "only the hyphenated form"
        );
    }

    #[test]
    fn ids_can_carry_another_creation_time() {
        let early = UserId::at(1_600_000_000_000);
        let late = UserId::at(1_700_000_000_000);
        assert!(early.to_string() < late.to_string());
    }
}
