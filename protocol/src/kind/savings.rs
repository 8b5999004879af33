//! The bodies of a savings book's records: its founding and rules, members and officers,
//! meetings and the money members put in and take out, and how the group invests and settles.

use super::{Kind, MemberId, Role};
use crate::key::PublicKey;
use crate::money::{Currency, Money};
use crate::record::{BookId, RecordId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Founds a savings book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Genesis {
    pub name: String,
    pub currency: Currency,
    pub rules: Rules,
    pub officers: Vec<Officer>,
    /// Present when the book is an enterprise book: a home-country cooperative's enterprise,
    /// whose officers are the cooperative's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<Enterprise>,
}

/// What an enterprise book's genesis says of the enterprise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enterprise {
    /// ISO 3166-1 alpha-2, upper case: `PH`, `ID`, `BD`.
    pub country: String,
    /// What it does, in a few words: "organic rice farming".
    pub sector: String,
}

/// A book's rules. Every quorum not named takes [`Kind::default_quorum`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rules {
    #[serde(default)]
    pub quorum: BTreeMap<String, u32>,
    /// What decides a member's stake when a return is distributed; absent means
    /// [`StakeRule::Balance`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stake: Option<StakeRule>,
}

/// What decides a member's stake in a distribution of returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StakeRule {
    /// Her balance just before the distribution.
    #[default]
    Balance,
    /// The sum of her effective contributions before the distribution.
    Contributions,
}

/// A return received from an enterprise, shared among the members in proportion to their
/// stakes (the book's [`StakeRule`]); the shares are worked out by [`crate::allocate`], so the
/// record carries only the total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Distribution {
    /// The enterprise book, and the return record in it, that this distributes.
    pub enterprise: BookId,
    #[serde(rename = "return")]
    pub return_record: RecordId,
    /// In the savings book's currency.
    pub amount: Money,
}

/// How a departing member's stake is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Settlement {
    /// Her balance is paid out to her from the group's cash.
    Payout,
    /// Her balance becomes membership of the home cooperative, out of the group's investment
    /// in its enterprise; no cash moves.
    Conversion,
}

/// A member leaves the group (reintegration: she goes home). Her balance, `amount`, is settled
/// by a payout or converted into membership of the cooperative of the enterprise book
/// `enterprise` (present exactly for conversions), which records its side as a [`Membership`](super::Membership).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Departure {
    pub member: MemberId,
    /// Her whole balance, in the savings book's currency.
    pub amount: Money,
    pub settlement: Settlement,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<BookId>,
}

/// The group accepts an enterprise book as one it invests in. Until an effective investment
/// record names an enterprise book and the investor registration in it, that book moves none of
/// the group's money in any view: a registration is signed by the cooperative alone, so it
/// cannot commit the group. A registration made again (new officers, say) needs a new
/// acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Investment {
    /// The enterprise book.
    pub enterprise: BookId,
    /// The investor record in it that registers this group, as the group's officers read it.
    pub registration: RecordId,
}

impl Rules {
    /// The quorum of `kind`. An approval is itself a signature and always has quorum 1.
    /// It takes the kind by its wire name because `rules.quorum` may name kinds this build does
    /// not know; those keep the quorum the book set for them.
    pub fn quorum(&self, kind: &str) -> u32 {
        let typed = Kind::of(kind);
        if typed == Kind::Approval {
            return 1;
        }
        self.quorum
            .get(kind)
            .copied()
            .unwrap_or_else(|| typed.default_quorum())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Officer {
    pub key: PublicKey,
    pub roles: Vec<Role>,
}

/// A member joins. `key` is her own signer key, if she has one, so she can read her statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberJoin {
    pub member: MemberId,
    pub alias: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PublicKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleChange {
    pub key: PublicKey,
    pub role: Role,
}

/// A meeting; its record id is the meeting id that contributions name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Meeting {
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendance: Vec<MemberId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contribution {
    pub member: MemberId,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting: Option<RecordId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Withdrawal {
    pub member: MemberId,
    pub amount: Money,
    pub reason: String,
}

/// A further officer's signature on another record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub record: RecordId,
}

/// Cancels another record's effect. Records are never edited or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reversal {
    pub record: RecordId,
    pub reason: String,
}

/// Names a partner node (by libp2p PeerId) that may replicate this book, or no longer may.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Share {
    pub peer: String,
}
