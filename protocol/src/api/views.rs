//! A savings book's money views and the views across books: balances, the group's portfolio, a
//! member's statement, and impact indicators. The node builds them from
//! [`crate::view::Ledger`] and [`crate::portfolio`], whose own lines they carry.

use super::AnomalyLine;
use crate::money::Money;
use crate::portfolio::{ImpactRow, Position};
use crate::view::Entry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /books/{book}/balances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balances {
    /// Group totals per currency, of effective records only.
    pub totals: Vec<Money>,
    /// Each member's balances, by member id.
    pub members: BTreeMap<String, Vec<Money>>,
    /// Each remaining member's stake, by the book's stake rule, in minor units of its currency.
    pub stakes: BTreeMap<String, i64>,
}

/// `GET /books/{book}/portfolio`: the group's money in the box, out in enterprises, and back.
pub type Portfolio = crate::portfolio::Portfolio<AnomalyLine>;

/// `GET /books/{book}/members/{member}/statement?from=&to=`: her entries in the period and her
/// position now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    /// The book as the request named it.
    pub book: String,
    /// The group's name.
    pub group: String,
    pub group_totals: Vec<Money>,
    pub member: String,
    pub alias: String,
    /// Her balance in the book's currency, as a list for clients that read several.
    pub balances: Vec<Money>,
    pub position: Position,
    pub entries: Vec<Entry>,
}

/// `GET /impact`: indicators across the enterprise books the caller may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Impact {
    /// How many enterprise books it draws on.
    pub enterprises: usize,
    pub indicators: Vec<ImpactRow>,
}

/// `GET /books/{book}/members/{member}/receipts/{record}`: one of her entries as signed, with
/// what a phone needs to check it offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// The record, as its canonical text.
    pub record: String,
    /// The book's genesis, as its canonical text.
    pub genesis: String,
    /// The role records that show, from the genesis alone, that the signer was an officer.
    pub proof: Vec<String>,
}
