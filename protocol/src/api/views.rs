//! A savings book's money views and the views across books: balances, the group's portfolio, a
//! member's statement, and impact indicators. The node builds them from
//! [`crate::view::Ledger`] and [`crate::portfolio`]; the lines here are how a client reads them.

use super::AnomalyLine;
use crate::key::PublicKey;
use crate::kind::{Departure, Principle};
use crate::money::{Currency, Money};
use crate::record::{BookId, RecordId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /books/{book}/balances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    /// Group totals per currency, of effective records only.
    pub totals: Vec<Money>,
    /// Each member's balances, by member id.
    pub members: BTreeMap<String, Vec<Money>>,
    /// Each remaining member's stake, by the book's stake rule, in minor units of its currency.
    pub stakes: BTreeMap<String, i64>,
}

/// `GET /books/{book}/portfolio`: the group's money in the box, out in enterprises, and back.
/// The node sends [`crate::portfolio::Portfolio`] itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    pub group: BookId,
    pub name: String,
    pub currency: Currency,
    pub members_balances: Money,
    pub cash: Money,
    pub invested: Money,
    pub fees: Money,
    pub received_back: Money,
    pub converted: Money,
    pub outstanding: Money,
    pub distributed: Money,
    pub undistributed: Money,
    pub holdings: Vec<HoldingLine>,
    pub unaccepted: Vec<UnacceptedLine>,
    pub anomalies: Vec<AnomalyLine>,
}

/// One enterprise the group invests in, in the group's currency unless a field says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingLine {
    pub enterprise: BookId,
    pub name: String,
    pub country: String,
    pub sector: String,
    /// The enterprise's currency.
    pub currency: Currency,
    pub invested: Money,
    pub fees: Money,
    pub in_transit: Money,
    /// In the enterprise's currency.
    pub capital_received: Money,
    pub received_back: Money,
    /// In the enterprise's currency.
    pub returns_paid: Money,
    pub converted: Money,
    pub outstanding: Money,
    pub distributed: Money,
}

/// An enterprise book that registers the group, which the group has not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnacceptedLine {
    pub enterprise: BookId,
    pub name: String,
    /// The registration an investment record would name.
    pub registration: RecordId,
    /// The keys the registration names as the group's officers.
    pub officers: Vec<PublicKey>,
    pub reason: String,
}

/// `GET /books/{book}/members/{member}/statement?from=&to=`: her entries in the period and her
/// position now. The node fills `position` and `entries` with the protocol's own lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement<P = PositionLine, E = EntryLine> {
    /// The book as the request named it.
    pub book: String,
    /// The group's name.
    pub group: String,
    pub group_totals: Vec<Money>,
    pub member: String,
    pub alias: String,
    /// Her balance in the book's currency, as a list for clients that read several.
    pub balances: Vec<Money>,
    pub position: P,
    pub entries: Vec<E>,
}

/// A member's position (the node sends [`crate::portfolio::Position`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionLine {
    pub member: String,
    pub alias: String,
    pub balance: Money,
    pub stake: Money,
    pub group_stake: Money,
    pub returns_received: Money,
    pub enterprises: Vec<ShareLine>,
    /// Her departure, once recorded and effective.
    pub departure: Option<DepartureLine>,
}

/// A member's share of one enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLine {
    pub enterprise: BookId,
    pub name: String,
    pub share: Money,
}

/// A departure and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartureLine {
    pub record: RecordId,
    pub time_ms: u64,
    #[serde(flatten)]
    pub departure: Departure,
    pub status: EntryState,
}

/// One line of a statement (the node sends [`crate::view::Entry`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryLine {
    pub record: RecordId,
    pub kind: String,
    pub time_ms: u64,
    /// Positive for money in, negative for money out.
    pub amount: Money,
    pub status: EntryState,
    pub balance_after: Money,
    pub signer: PublicKey,
}

/// Where a record stands (the node sends [`crate::view::Status`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EntryState {
    Effective,
    Pending { have: u32, need: u32 },
    Reversed { by: RecordId },
}

impl EntryState {
    /// The state's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            EntryState::Effective => "effective",
            EntryState::Pending { .. } => "pending",
            EntryState::Reversed { .. } => "reversed",
        }
    }
}

/// `GET /impact`: indicators across the enterprise books the caller may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact<R = ImpactLine> {
    /// How many enterprise books it draws on.
    pub enterprises: usize,
    pub indicators: Vec<R>,
}

/// One indicator of one effective report (the node sends [`crate::portfolio::ImpactRow`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactLine {
    pub principle: Principle,
    pub indicator: String,
    pub enterprise: BookId,
    pub enterprise_name: String,
    pub country: String,
    pub period_from: String,
    pub period_to: String,
    /// `value` × 10^−`decimals` `unit`.
    pub value: i64,
    pub decimals: u32,
    pub unit: String,
    pub report: RecordId,
}

/// `GET /books/{book}/members/{member}/receipts/{record}`: one of her entries as signed, with
/// what a phone needs to check it offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The record, as its canonical text.
    pub record: String,
    /// The book's genesis, as its canonical text.
    pub genesis: String,
    /// The role records that show, from the genesis alone, that the signer was an officer.
    pub proof: Vec<String>,
}
