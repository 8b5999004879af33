//! The bodies of an enterprise book's records: investor groups, the money they send and get
//! back, the cooperative's reports, and the members it admits from converted stakes.

use super::MemberId;
use crate::key::PublicKey;
use crate::money::{Currency, Money};
use crate::record::{BookId, RecordId};
use serde::{Deserialize, Serialize};

/// An investor group registered in an enterprise book by the cooperative's officers: the
/// savings book that invests, and the keys of its officers, who sign its transfers there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Investor {
    pub group: BookId,
    pub name: String,
    /// The group's currency; its transfers are in it.
    pub currency: Currency,
    pub officers: Vec<PublicKey>,
    /// Signatures of the group's officers a transfer needs (the group's own rule).
    pub quorum: u32,
}

/// Money an investor group sends to the enterprise, recorded by the group's officers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transfer {
    pub group: BookId,
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Period {
    pub from: String,
    pub to: String,
}

/// Jobs the enterprise provides, counted by gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jobs {
    pub women: u32,
    pub men: u32,
}

/// The cooperative's members, and the returning migrants among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoopMembers {
    pub total: u32,
    pub returnees: u32,
}

/// The programme's principles, by which indicators are grouped and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Indicator {
    pub principle: Principle,
    pub name: String,
    pub value: i64,
    pub decimals: u32,
    pub unit: String,
}

/// Free text in the cooperative's language (a BCP 47 tag such as `fil`, `id`, `bn`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Narrative {
    pub language: String,
    pub text: String,
}

/// A return the cooperative pays an investor group, signed by its treasurer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Return {
    pub group: BookId,
    /// In the enterprise's currency.
    pub amount: Money,
    pub channel: String,
    pub reference: String,
}

/// An investor group's officer acknowledges a return with what arrived, in the group's
/// currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnReceipt {
    #[serde(rename = "return")]
    pub return_record: RecordId,
    pub received: Money,
}

/// The cooperative's treasurer acknowledges a transfer with what actually arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    pub transfer: RecordId,
    pub received: Money,
}

/// The cooperative admits a returning member of an investor group whose stake the group
/// converted: its side of a conversion [`Departure`](super::Departure), which it names by record id (that record
/// lives in the group's savings book, not in this one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub group: BookId,
    pub departure: RecordId,
    pub member: MemberId,
    /// The stake converted, in the group's currency, as the departure says.
    pub stake: Money,
    /// Her membership capital, in the enterprise's currency, and the rate used.
    pub capital: Money,
    pub rate: String,
}
