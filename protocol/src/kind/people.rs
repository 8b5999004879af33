//! The people a record names: members, by a pseudonymous id, and officers, by their role.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A pseudonymous member id: 3 to 32 characters of lowercase letters, digits and `-`. It never
/// carries personal data; the node keeps names and phone numbers in a local table that is never
/// synced.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("member id {0:?} must be 3 to 32 characters of a-z, 0-9 and -")]
pub struct MemberIdError(String);

impl MemberId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl FromStr for MemberId {
    type Err = MemberIdError;
    fn from_str(s: &str) -> Result<Self, MemberIdError> {
        let ok = (3..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(MemberId(s.to_owned()))
        } else {
            Err(MemberIdError(s.chars().take(40).collect()))
        }
    }
}
impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberId({})", self.0)
    }
}
impl Serialize for MemberId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for MemberId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An officer's role in a savings book. Key holders are the modern form of the three padlock
/// keys: they approve what takes money out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Treasurer,
    Chair,
    Secretary,
    KeyHolder,
    /// An officer of an investor group in an enterprise book, granted by an `investor` record
    /// and holding it for that group only.
    Investor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Treasurer,
        Role::Chair,
        Role::Secretary,
        Role::KeyHolder,
        Role::Investor,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Treasurer => "treasurer",
            Role::Chair => "chair",
            Role::Secretary => "secretary",
            Role::KeyHolder => "key_holder",
            Role::Investor => "investor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "role {s:?} is not one of treasurer, chair, secretary, key_holder, investor"
                )
            })
    }
}
