//! Record kinds: what each kind of record says, who may sign it, and how many signatures it
//! needs before it takes effect.
//!
//! A body is parsed into its typed form when the record is decoded, and checked for the limits
//! a person could break (empty names, non-positive amounts, over-long text). A kind this build
//! does not know is kept as [`Body::Unknown`] so that a newer node can federate with this one.

use crate::key::PublicKey;
use crate::money::{Currency, Money};
use crate::record::RecordId;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Longest group name, alias, place or reason, in characters.
pub const MAX_NAME_CHARS: usize = 80;
/// Longest free text (reasons), in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Most founding officers in a genesis record, and most attendees in a meeting.
pub const MAX_LIST_ITEMS: usize = 100;
/// Longest report narrative, in characters.
pub const MAX_NARRATIVE_CHARS: usize = 4000;
/// Highest quorum a book may set.
pub const MAX_QUORUM: u32 = 9;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("{0}")]
    Json(String),
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} has more than {max} items")]
    TooMany { field: &'static str, max: usize },
    #[error("amount must be positive, got {0}")]
    NotPositive(i64),
    #[error("quorum for {kind} is {quorum}; it must be between 1 and {max}")]
    Quorum { kind: String, quorum: u32, max: u32 },
    #[error(
        "quorum for {kind} is {quorum} but the genesis names only {officers} officers, so it could never be reached"
    )]
    QuorumUnreachable {
        kind: String,
        quorum: u32,
        officers: usize,
    },
    #[error("genesis names no treasurer")]
    NoTreasurer,
    #[error("date {0:?} is not a calendar date YYYY-MM-DD")]
    Date(String),
    #[error("peer {0:?} is not a libp2p PeerId in base58")]
    Peer(String),
}

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

/// Which roles may sign a record of `kind`. Unknown kinds may be signed by any officer, so that
/// they are kept and synced between versions.
pub fn signer_roles(kind: &str) -> &'static [Role] {
    const OFFICERS: &[Role] = &[Role::Treasurer, Role::Chair, Role::Secretary];
    const ANY: &[Role] = &[
        Role::Treasurer,
        Role::Chair,
        Role::Secretary,
        Role::KeyHolder,
        Role::Investor,
    ];
    match kind {
        "withdrawal" | "receipt" | "return" | "distribution" | "departure" | "investment" => {
            &[Role::Treasurer]
        }
        // An investor group's officers acknowledge its returns; which group, validation checks.
        "return_receipt" => &[Role::Investor],
        "report" => OFFICERS,
        // An investor group's officers move its money; which group, validation checks.
        "transfer" => &[Role::Investor],
        "investor" | "membership" => OFFICERS,
        "approval" => ANY,
        "member_join" | "role_grant" | "role_revoke" | "meeting" | "contribution" | "reversal"
        | "share" | "unshare" => OFFICERS,
        _ => ANY,
    }
}

/// The default number of distinct officer signatures a record of `kind` needs, the record's own
/// signature included.
/// Why a genesis may not set the quorum of `kind`, if it may not: a genesis takes effect alone,
/// an approval is one signature, and a transfer's quorum is its investor group's.
pub fn fixed_quorum(kind: &str) -> Option<&'static str> {
    match kind {
        "genesis" => Some("a genesis founds the book and takes effect alone"),
        "approval" => Some("an approval is one signature"),
        "transfer" => Some("a transfer takes the quorum its investor group registered"),
        _ => None,
    }
}

pub fn default_quorum(kind: &str) -> u32 {
    match kind {
        "withdrawal" | "role_grant" | "role_revoke" | "reversal" | "share" | "investor"
        | "transfer" | "report" | "return" | "distribution" | "departure" | "membership"
        | "investment" => 2,
        _ => 1,
    }
}

/// The typed body of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Genesis(Genesis),
    MemberJoin(MemberJoin),
    RoleGrant(RoleChange),
    RoleRevoke(RoleChange),
    Meeting(Meeting),
    Contribution(Contribution),
    Withdrawal(Withdrawal),
    Approval(Approval),
    Reversal(Reversal),
    Share(Share),
    Unshare(Share),
    Investor(Investor),
    Transfer(Transfer),
    Receipt(Receipt),
    Report(Report),
    Return(Return),
    ReturnReceipt(ReturnReceipt),
    Distribution(Distribution),
    Departure(Departure),
    Membership(Membership),
    Investment(Investment),
    /// A kind this build does not know, kept verbatim.
    Unknown {
        kind: String,
        body: Value,
    },
}

/// Founds a savings book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
pub struct Enterprise {
    /// ISO 3166-1 alpha-2, upper case: `PH`, `ID`, `BD`.
    pub country: String,
    /// What it does, in a few words: "organic rice farming".
    pub sector: String,
}

/// An investor group registered in an enterprise book by the cooperative's officers: the
/// savings book that invests, and the keys of its officers, who sign its transfers there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Investor {
    pub group: crate::record::BookId,
    pub name: String,
    /// The group's currency; its transfers are in it.
    pub currency: Currency,
    pub officers: Vec<PublicKey>,
    /// Signatures of the group's officers a transfer needs (the group's own rule).
    pub quorum: u32,
}

/// Money an investor group sends to the enterprise, recorded by the group's officers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub group: crate::record::BookId,
    /// What leaves the group, in the group's currency.
    pub amount: Money,
    /// Fees the group pays on top or out of it, in the group's currency.
    pub fee: Money,
    /// Units of the enterprise's currency per unit of the group's, as a decimal text with at
    /// most 8 decimals ("7.185"); never a float.
    pub rate: String,
    /// Where the rate came from ("BSP reference rate 2026-11-27", "remittance quote").
    pub rate_source: String,
    /// What should arrive, in the enterprise's currency.
    pub expected: Money,
    /// How it is sent ("bank remittance", "GCash"), and the channel's reference.
    pub channel: String,
    pub reference: String,
}

/// A period's report from the cooperative, signed by its officers. The surplus is not stored:
/// it is revenue minus costs, so it can never disagree with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub period: Period,
    /// In the enterprise's currency.
    pub revenue: Money,
    pub costs: Money,
    pub jobs: Jobs,
    pub members: CoopMembers,
    /// Social and ecological indicators, each tied to a programme principle so that
    /// enterprises and periods compare.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<Indicator>,
    pub narrative: Narrative,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: String,
    pub to: String,
}

/// Jobs the enterprise provides, counted by gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jobs {
    pub women: u32,
    pub men: u32,
}

/// The cooperative's members, and the returning migrants among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoopMembers {
    pub total: u32,
    pub returnees: u32,
}

/// The programme's principles, by which indicators are grouped and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principle {
    Viability,
    GenderEquality,
    EcologicalSustainability,
    SocialJustice,
}

/// One measured indicator: `value` × 10^−`decimals` `unit` ("organic_hectares", 1250, 2, "ha"
/// is 12.50 ha). Names are snake_case, so the same indicator compares across enterprises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    pub principle: Principle,
    pub name: String,
    pub value: i64,
    pub decimals: u32,
    pub unit: String,
}

/// Free text in the cooperative's language (a BCP 47 tag such as `fil`, `id`, `bn`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrative {
    pub language: String,
    pub text: String,
}

/// A return the cooperative pays an investor group, signed by its treasurer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub group: crate::record::BookId,
    /// In the enterprise's currency.
    pub amount: Money,
    pub channel: String,
    pub reference: String,
}

/// An investor group's officer acknowledges a return with what arrived, in the group's
/// currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnReceipt {
    #[serde(rename = "return")]
    pub return_record: RecordId,
    pub received: Money,
}

/// The cooperative's treasurer acknowledges a transfer with what actually arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub transfer: RecordId,
    pub received: Money,
}

/// A book's rules. Every quorum not named takes [`default_quorum`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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
pub struct Distribution {
    /// The enterprise book, and the return record in it, that this distributes.
    pub enterprise: crate::record::BookId,
    #[serde(rename = "return")]
    pub return_record: RecordId,
    /// In the savings book's currency.
    pub amount: Money,
}

/// How a departing member's stake is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
/// `enterprise` (present exactly for conversions), which records its side as a [`Membership`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departure {
    pub member: MemberId,
    /// Her whole balance, in the savings book's currency.
    pub amount: Money,
    pub settlement: Settlement,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<crate::record::BookId>,
}

/// The cooperative admits a returning member of an investor group whose stake the group
/// converted: its side of a conversion [`Departure`], which it names by record id (that record
/// lives in the group's savings book, not in this one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub group: crate::record::BookId,
    pub departure: RecordId,
    pub member: MemberId,
    /// The stake converted, in the group's currency, as the departure says.
    pub stake: Money,
    /// Her membership capital, in the enterprise's currency, and the rate used.
    pub capital: Money,
    pub rate: String,
}

/// The group accepts an enterprise book as one it invests in. Until an effective investment
/// record names an enterprise book and the investor registration in it, that book moves none of
/// the group's money in any view: a registration is signed by the cooperative alone, so it
/// cannot commit the group. A registration made again (new officers, say) needs a new
/// acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Investment {
    /// The enterprise book.
    pub enterprise: crate::record::BookId,
    /// The investor record in it that registers this group, as the group's officers read it.
    pub registration: RecordId,
}

impl Rules {
    /// The quorum of `kind`. An approval is itself a signature and always has quorum 1.
    pub fn quorum(&self, kind: &str) -> u32 {
        if kind == "approval" {
            return 1;
        }
        self.quorum
            .get(kind)
            .copied()
            .unwrap_or_else(|| default_quorum(kind))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Officer {
    pub key: PublicKey,
    pub roles: Vec<Role>,
}

/// A member joins. `key` is her own signer key, if she has one, so she can read her statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberJoin {
    pub member: MemberId,
    pub alias: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PublicKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleChange {
    pub key: PublicKey,
    pub role: Role,
}

/// A meeting; its record id is the meeting id that contributions name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meeting {
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendance: Vec<MemberId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub member: MemberId,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting: Option<RecordId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub member: MemberId,
    pub amount: Money,
    pub reason: String,
}

/// A further officer's signature on another record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub record: RecordId,
}

/// Cancels another record's effect. Records are never edited or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reversal {
    pub record: RecordId,
    pub reason: String,
}

/// Names a partner node (by libp2p PeerId) that may replicate this book, or no longer may.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub peer: String,
}

impl Body {
    pub fn kind(&self) -> &str {
        match self {
            Body::Genesis(_) => "genesis",
            Body::MemberJoin(_) => "member_join",
            Body::RoleGrant(_) => "role_grant",
            Body::RoleRevoke(_) => "role_revoke",
            Body::Meeting(_) => "meeting",
            Body::Contribution(_) => "contribution",
            Body::Withdrawal(_) => "withdrawal",
            Body::Approval(_) => "approval",
            Body::Reversal(_) => "reversal",
            Body::Share(_) => "share",
            Body::Unshare(_) => "unshare",
            Body::Investor(_) => "investor",
            Body::Transfer(_) => "transfer",
            Body::Receipt(_) => "receipt",
            Body::Report(_) => "report",
            Body::Return(_) => "return",
            Body::ReturnReceipt(_) => "return_receipt",
            Body::Distribution(_) => "distribution",
            Body::Departure(_) => "departure",
            Body::Membership(_) => "membership",
            Body::Investment(_) => "investment",
            Body::Unknown { kind, .. } => kind,
        }
    }

    /// The record another record refers to, if this kind refers to one.
    pub fn target(&self) -> Option<RecordId> {
        match self {
            Body::Approval(a) => Some(a.record),
            Body::Reversal(r) => Some(r.record),
            Body::Receipt(r) => Some(r.transfer),
            Body::ReturnReceipt(r) => Some(r.return_record),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        let v = match self {
            Body::Genesis(b) => serde_json::to_value(b),
            Body::MemberJoin(b) => serde_json::to_value(b),
            Body::RoleGrant(b) | Body::RoleRevoke(b) => serde_json::to_value(b),
            Body::Meeting(b) => serde_json::to_value(b),
            Body::Contribution(b) => serde_json::to_value(b),
            Body::Withdrawal(b) => serde_json::to_value(b),
            Body::Approval(b) => serde_json::to_value(b),
            Body::Reversal(b) => serde_json::to_value(b),
            Body::Share(b) | Body::Unshare(b) => serde_json::to_value(b),
            Body::Investor(b) => serde_json::to_value(b),
            Body::Transfer(b) => serde_json::to_value(b),
            Body::Receipt(b) => serde_json::to_value(b),
            Body::Report(b) => serde_json::to_value(b),
            Body::Return(b) => serde_json::to_value(b),
            Body::ReturnReceipt(b) => serde_json::to_value(b),
            Body::Distribution(b) => serde_json::to_value(b),
            Body::Departure(b) => serde_json::to_value(b),
            Body::Membership(b) => serde_json::to_value(b),
            Body::Investment(b) => serde_json::to_value(b),
            Body::Unknown { body, .. } => return body.clone(),
        };
        v.expect("typed bodies always serialize")
    }

    pub fn from_value(kind: &str, value: Value) -> Result<Body, BodyError> {
        let original = value.clone();
        fn parse<T: DeserializeOwned>(v: Value) -> Result<T, BodyError> {
            // Optional members are omitted, never null (SPEC section 4): serde would read a null
            // as absent, which would give one logical body two encodings.
            if let Value::Object(map) = &v
                && let Some((name, _)) = map.iter().find(|(_, v)| v.is_null())
            {
                return Err(BodyError::Json(format!(
                    "member {name:?} is null; leave an optional member out instead"
                )));
            }
            serde_json::from_value(v).map_err(|e| BodyError::Json(e.to_string()))
        }
        let body = match kind {
            "genesis" => Body::Genesis(parse(value)?),
            "member_join" => Body::MemberJoin(parse(value)?),
            "role_grant" => Body::RoleGrant(parse(value)?),
            "role_revoke" => Body::RoleRevoke(parse(value)?),
            "meeting" => Body::Meeting(parse(value)?),
            "contribution" => Body::Contribution(parse(value)?),
            "withdrawal" => Body::Withdrawal(parse(value)?),
            "approval" => Body::Approval(parse(value)?),
            "reversal" => Body::Reversal(parse(value)?),
            "share" => Body::Share(parse(value)?),
            "unshare" => Body::Unshare(parse(value)?),
            "investor" => Body::Investor(parse(value)?),
            "transfer" => Body::Transfer(parse(value)?),
            "receipt" => Body::Receipt(parse(value)?),
            "report" => Body::Report(parse(value)?),
            "return" => Body::Return(parse(value)?),
            "return_receipt" => Body::ReturnReceipt(parse(value)?),
            "distribution" => Body::Distribution(parse(value)?),
            "departure" => Body::Departure(parse(value)?),
            "membership" => Body::Membership(parse(value)?),
            "investment" => Body::Investment(parse(value)?),
            other => Body::Unknown {
                kind: other.to_owned(),
                body: value,
            },
        };
        if !matches!(body, Body::Unknown { .. }) {
            same_shape(&original, &body.to_value(), "body")?;
        }
        body.check()?;
        Ok(body)
    }

    /// Checks the limits a body's fields must keep.
    fn check(&self) -> Result<(), BodyError> {
        match self {
            Body::Genesis(g) => check_genesis(g)?,
            Body::MemberJoin(m) => text(&m.alias, "alias", MAX_NAME_CHARS)?,
            Body::Meeting(m) => {
                date(&m.date)?;
                if let Some(place) = &m.place {
                    text(place, "place", MAX_NAME_CHARS)?;
                }
                list(m.attendance.len(), "attendance")?;
            }
            Body::Contribution(c) => positive(c.amount.minor)?,
            Body::Withdrawal(w) => {
                positive(w.amount.minor)?;
                text(&w.reason, "reason", MAX_TEXT_CHARS)?;
            }
            Body::Reversal(r) => text(&r.reason, "reason", MAX_TEXT_CHARS)?,
            Body::Share(s) | Body::Unshare(s) => peer_id(&s.peer)?,
            Body::RoleGrant(g) if g.role == Role::Investor => {
                return Err(BodyError::Json(
                    "the investor role is granted by an investor record, which names the group"
                        .into(),
                ));
            }
            Body::Investor(i) => {
                text(&i.name, "name", MAX_NAME_CHARS)?;
                if i.officers.is_empty() {
                    return Err(BodyError::Empty { field: "officers" });
                }
                list(i.officers.len(), "officers")?;
                if !(1..=MAX_QUORUM).contains(&i.quorum) {
                    return Err(BodyError::Quorum {
                        kind: "transfer".into(),
                        quorum: i.quorum,
                        max: MAX_QUORUM,
                    });
                }
                let mut keys = i.officers.clone();
                keys.sort();
                keys.dedup();
                if i.quorum as usize > keys.len() {
                    return Err(BodyError::QuorumUnreachable {
                        kind: "transfer".into(),
                        quorum: i.quorum,
                        officers: keys.len(),
                    });
                }
            }
            Body::Transfer(t) => {
                positive(t.amount.minor)?;
                if t.fee.minor < 0 {
                    return Err(BodyError::Json(format!(
                        "fee must not be negative, got {}",
                        t.fee
                    )));
                }
                if t.fee.currency != t.amount.currency {
                    return Err(BodyError::Json(format!(
                        "fee is in {} but the amount is in {}; both are in the group's currency",
                        t.fee.currency, t.amount.currency
                    )));
                }
                positive(t.expected.minor)?;
                rate(&t.rate)?;
                text(&t.rate_source, "rate_source", MAX_NAME_CHARS)?;
                text(&t.channel, "channel", MAX_NAME_CHARS)?;
                text(&t.reference, "reference", MAX_NAME_CHARS)?;
            }
            Body::Receipt(r) => positive(r.received.minor)?,
            Body::ReturnReceipt(r) => positive(r.received.minor)?,
            Body::Distribution(d) => positive(d.amount.minor)?,
            Body::Departure(d) => {
                if d.amount.minor < 0 {
                    return Err(BodyError::Json(format!(
                        "amount must not be negative, got {}",
                        d.amount
                    )));
                }
                match (d.settlement, d.enterprise) {
                    (Settlement::Conversion, None) => {
                        return Err(BodyError::Json(
                            "a conversion names the enterprise book whose cooperative she joins"
                                .into(),
                        ));
                    }
                    (Settlement::Payout, Some(_)) => {
                        return Err(BodyError::Json(
                            "a payout names no enterprise; a conversion does".into(),
                        ));
                    }
                    _ => {}
                }
            }
            Body::Membership(m) => {
                positive(m.stake.minor)?;
                positive(m.capital.minor)?;
                rate(&m.rate)?;
            }
            Body::Return(r) => {
                positive(r.amount.minor)?;
                text(&r.channel, "channel", MAX_NAME_CHARS)?;
                text(&r.reference, "reference", MAX_NAME_CHARS)?;
            }
            Body::Report(r) => {
                date(&r.period.from)?;
                date(&r.period.to)?;
                if r.period.from > r.period.to {
                    return Err(BodyError::Json(format!(
                        "period ends ({}) before it starts ({})",
                        r.period.to, r.period.from
                    )));
                }
                for (field, m) in [("revenue", r.revenue), ("costs", r.costs)] {
                    if m.minor < 0 {
                        return Err(BodyError::Json(format!("{field} must not be negative")));
                    }
                }
                if r.costs.currency != r.revenue.currency {
                    return Err(BodyError::Json(
                        "revenue and costs must be in the same currency".into(),
                    ));
                }
                if r.members.returnees > r.members.total {
                    return Err(BodyError::Json(format!(
                        "{} returnees among {} members",
                        r.members.returnees, r.members.total
                    )));
                }
                list(r.indicators.len(), "indicators")?;
                for i in &r.indicators {
                    let ok = !i.name.is_empty()
                        && i.name.len() <= 40
                        && i.name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                    if !ok {
                        return Err(BodyError::Json(format!(
                            "indicator name {:?} is not snake_case (a-z, 0-9, _; at most 40)",
                            i.name
                        )));
                    }
                    if i.decimals > 6 {
                        return Err(BodyError::Json(format!(
                            "indicator {} has {} decimals; at most 6",
                            i.name, i.decimals
                        )));
                    }
                    text(&i.unit, "unit", MAX_NAME_CHARS)?;
                }
                let tag = &r.narrative.language;
                if tag.is_empty()
                    || tag.len() > 16
                    || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(BodyError::Json(format!(
                        "narrative language {tag:?} is not a language tag like fil"
                    )));
                }
                text(&r.narrative.text, "narrative", MAX_NARRATIVE_CHARS)?;
            }
            Body::RoleGrant(_)
            | Body::RoleRevoke(_)
            | Body::Approval(_)
            | Body::Investment(_)
            | Body::Unknown { .. } => {}
        }
        Ok(())
    }
}

/// A genesis names its book, its officers (at least a treasurer), and quorums that can be
/// reached by the officers it names.
fn check_genesis(g: &Genesis) -> Result<(), BodyError> {
    text(&g.name, "name", MAX_NAME_CHARS)?;
    if let Some(e) = &g.enterprise {
        let b = e.country.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(BodyError::Json(format!(
                "country {:?} is not an ISO 3166 code like PH",
                e.country
            )));
        }
        text(&e.sector, "sector", MAX_NAME_CHARS)?;
    }
    if g.officers.is_empty() {
        return Err(BodyError::Empty { field: "officers" });
    }
    list(g.officers.len(), "officers")?;
    let mut keys: Vec<_> = g.officers.iter().map(|o| o.key).collect();
    keys.sort();
    keys.dedup();
    if !g
        .officers
        .iter()
        .any(|o| o.roles.contains(&Role::Treasurer))
    {
        return Err(BodyError::NoTreasurer);
    }
    for (kind, &quorum) in &g.rules.quorum {
        if let Some(why) = fixed_quorum(kind) {
            return Err(BodyError::Json(format!(
                "rules.quorum cannot name {kind}: {why}"
            )));
        }
        if !(1..=MAX_QUORUM).contains(&quorum) {
            return Err(BodyError::Quorum {
                kind: kind.clone(),
                quorum,
                max: MAX_QUORUM,
            });
        }
    }
    // A quorum larger than the founding officers could never be reached, because
    // adding officers itself needs the role_grant quorum. Every kind this book may
    // hold whose quorum is above 1 counts, named or by default.
    let book_kinds: &[&str] = if g.enterprise.is_some() {
        &["investor", "report", "return", "membership"]
    } else {
        &["distribution", "departure", "investment"]
    };
    for kind in [
        "role_grant",
        "withdrawal",
        "role_revoke",
        "reversal",
        "share",
    ]
    .iter()
    .chain(book_kinds)
    .map(|k| (*k).to_owned())
    .chain(g.rules.quorum.keys().cloned())
    {
        let quorum = g.rules.quorum(&kind);
        if quorum as usize > keys.len() {
            return Err(BodyError::QuorumUnreachable {
                kind,
                quorum,
                officers: keys.len(),
            });
        }
    }
    Ok(())
}

fn text(s: &str, field: &'static str, max: usize) -> Result<(), BodyError> {
    if s.trim().is_empty() {
        return Err(BodyError::Empty { field });
    }
    if s.chars().count() > max {
        return Err(BodyError::TooLong { field, max });
    }
    Ok(())
}

fn list(len: usize, field: &'static str) -> Result<(), BodyError> {
    if len > MAX_LIST_ITEMS {
        return Err(BodyError::TooMany {
            field,
            max: MAX_LIST_ITEMS,
        });
    }
    Ok(())
}

/// Most decimals an exchange rate may carry.
pub const MAX_RATE_DECIMALS: usize = 8;

/// A positive decimal written plainly: digits, then optionally `.` and 1 to 8 digits, without
/// needless leading zeros ("7.185", "0.0191", "58").
fn rate(s: &str) -> Result<(), BodyError> {
    let bad = || {
        BodyError::Json(format!(
            "rate {s:?} is not a positive decimal like 7.185 (at most {MAX_RATE_DECIMALS} decimals)"
        ))
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole)
        || (whole.len() > 1 && whole.starts_with('0'))
        || whole.len() > 12
        || (s.contains('.') && (!digits(frac) || frac.len() > MAX_RATE_DECIMALS))
        || s.bytes().all(|b| b == b'0' || b == b'.')
    {
        return Err(bad());
    }
    Ok(())
}

fn positive(minor: i64) -> Result<(), BodyError> {
    if minor <= 0 {
        return Err(BodyError::NotPositive(minor));
    }
    Ok(())
}

/// Whether `s` is a date as records write them: `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    date(s).is_ok()
}

/// A real calendar date of the proleptic Gregorian calendar, written `YYYY-MM-DD` (years 0000
/// to 9999): `2027-02-29` is refused, `2028-02-29` is not.
fn date(s: &str) -> Result<(), BodyError> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10);
    let number = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let ok = shaped && {
        let (year, month, day) = (number(0..4), number(5..7), number(8..10));
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        (1..=days).contains(&day)
    };
    if ok {
        Ok(())
    } else {
        Err(BodyError::Date(s.chars().take(20).collect()))
    }
}

/// A libp2p PeerId in its usual text form: base58btc, 46 to 60 characters for the key types
/// libp2p uses. The protocol crate does not parse the multihash; the node does.
fn peer_id(s: &str) -> Result<(), BodyError> {
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if (40..=128).contains(&s.len()) && s.bytes().all(|b| BASE58.contains(&b)) {
        Ok(())
    } else {
        Err(BodyError::Peer(s.chars().take(130).collect()))
    }
}

/// Whether `value` is `null` or holds one at any depth.
fn holds_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(holds_null),
        Value::Object(map) => map.values().any(holds_null),
        _ => false,
    }
}

/// Refuses a body whose JSON has another shape than its typed reading: serde would also read a
/// struct written as an array of its fields, or a role written as `{"treasurer": null}`, which
/// would give one body several spellings (and readers that differ on them). Members the typed
/// form does not have are allowed (SPEC section 4 keeps them), but never as `null`.
fn same_shape(given: &Value, typed: &Value, at: &str) -> Result<(), BodyError> {
    let wrong = |what: &str| BodyError::Json(format!("{at} must be {what}"));
    match typed {
        Value::Object(fields) => {
            let Value::Object(given) = given else {
                return Err(wrong("an object"));
            };
            for (name, value) in given {
                match fields.get(name) {
                    Some(t) => same_shape(value, t, &format!("{at}.{name}"))?,
                    None if holds_null(value) => {
                        return Err(BodyError::Json(format!(
                            "{at}.{name} is or holds null; a record never holds null, at any depth"
                        )));
                    }
                    None => {}
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            let Value::Array(given) = given else {
                return Err(wrong("an array"));
            };
            if given.len() != items.len() {
                return Err(wrong("an array of the same length"));
            }
            for (i, (g, t)) in given.iter().zip(items).enumerate() {
                same_shape(g, t, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ if given == typed => Ok(()),
        _ => Err(wrong(&format!("{typed} as written"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SignerKey;
    use serde_json::json;

    fn key(n: u8) -> PublicKey {
        SignerKey::from_seed([n; 32]).public()
    }

    #[test]
    fn genesis_refuses_unreachable_quorums() {
        let v = json!({
            "name": "Bayanihan Savers",
            "currency": "HKD",
            "rules": {"quorum": {}},
            "officers": [{"key": key(1).to_string(), "roles": ["treasurer"]}],
        });
        assert!(matches!(
            Body::from_value("genesis", v),
            Err(BodyError::QuorumUnreachable {
                quorum: 2,
                officers: 1,
                ..
            })
        ));
        let v = json!({
            "name": "Bayanihan Savers",
            "currency": "HKD",
            "rules": {"quorum": {"withdrawal": 3}},
            "officers": [
                {"key": key(1).to_string(), "roles": ["treasurer"]},
                {"key": key(2).to_string(), "roles": ["key_holder"]},
            ],
        });
        assert!(matches!(
            Body::from_value("genesis", v),
            Err(BodyError::QuorumUnreachable { quorum: 3, .. })
        ));
    }

    #[test]
    fn refuses_bad_bodies_with_named_fields() {
        let amount = json!({"currency": "HKD", "minor": 0});
        assert_eq!(
            Body::from_value("contribution", json!({"member": "m-ana", "amount": amount})),
            Err(BodyError::NotPositive(0))
        );
        let err = Body::from_value(
            "contribution",
            json!({"member": "m-ana", "amount": {"currency": "XXX", "minor": 5}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("XXX"), "{err}");
        assert_eq!(
            Body::from_value("meeting", json!({"date": "2026-13-01"})),
            Err(BodyError::Date("2026-13-01".into()))
        );
        assert_eq!(
            Body::from_value("member_join", json!({"member": "m-ana", "alias": " "})),
            Err(BodyError::Empty { field: "alias" })
        );
        assert!(matches!(
            Body::from_value("share", json!({"peer": "0OIl"})),
            Err(BodyError::Peer(_))
        ));
    }

    #[test]
    fn dates_are_real_calendar_dates() {
        for good in ["2028-02-29", "2000-02-29", "2026-12-31", "0001-01-01"] {
            assert!(is_date(good), "{good}");
        }
        for bad in [
            "2027-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-00-10",
            "2026-1-01",
            "2026-12-32",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn null_is_refused_inside_extra_members_too() {
        let v = json!({"member": "m-ana", "alias": "Ana", "extra": {"deep": [1, null]}});
        let err = Body::from_value("member_join", v).unwrap_err();
        assert!(err.to_string().contains("holds null"), "{err}");
        let v = json!({"member": "m-ana", "alias": "Ana", "extra": {"deep": [1, {"x": 0}]}});
        Body::from_value("member_join", v).unwrap();
    }

    #[test]
    fn a_null_optional_member_is_refused() {
        let v = json!({"member": "m-ana", "alias": "Ana", "key": null});
        let err = Body::from_value("member_join", v).unwrap_err();
        assert!(err.to_string().contains("\"key\" is null"), "{err}");
    }

    #[test]
    fn a_body_has_one_shape() {
        let id = "ab".repeat(32);
        let wrong = [
            ("approval", json!([id])),
            (
                "contribution",
                json!({"member": "m-ana", "amount": ["HKD", 500]}),
            ),
            (
                "role_grant",
                json!({"key": SignerKey::from_seed([1; 32]).public().to_string(), "role": {"treasurer": null}}),
            ),
            (
                "contribution",
                json!({"member": "m-ana", "amount": {"currency": "HKD", "minor": 500, "fx": null}}),
            ),
        ];
        for (kind, v) in wrong {
            let err = Body::from_value(kind, v.clone()).unwrap_err();
            assert!(matches!(err, BodyError::Json(_)), "{kind} {v}: {err}");
        }
        // Members this version does not define are kept, at any depth.
        let v = json!({"member": "m-ana", "note": "late", "amount": {"currency": "HKD", "minor": 500, "fx": "1.0"}});
        assert!(Body::from_value("contribution", v).is_ok());
    }

    #[test]
    fn unknown_kinds_are_kept_verbatim() {
        let v = json!({"anything": [1, 2, 3]});
        let body = Body::from_value("loan_offer", v.clone()).unwrap();
        assert_eq!(body.kind(), "loan_offer");
        assert_eq!(body.to_value(), v);
        assert_eq!(signer_roles("loan_offer").len(), 5);
    }
}
