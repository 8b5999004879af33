//! An enterprise book's views: `GET /books/{book}/dashboard`, which is the whole
//! [`crate::enterprise::Reconciliation`], and `GET /books/{book}/transfers`, a part of it. The
//! lines here are how a client reads what the node serializes from that reconciliation.

use super::AnomalyLine;
use crate::key::PublicKey;
use crate::kind::{Membership, Report, Return};
use crate::money::{Currency, Money};
use crate::record::{BookId, RecordId};
use serde::{Deserialize, Serialize};

/// `GET /books/{book}/dashboard`: investors, capital received, reports, returns and
/// memberships. The node sends [`crate::enterprise::Reconciliation`] itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub enterprise: Option<EnterpriseLine>,
    /// What arrived for transfers with their quorum, in the enterprise's currency.
    pub capital_received: Option<Money>,
    /// Returns paid with their quorum, in the enterprise's currency.
    pub returns_paid: Option<Money>,
    pub investors: Vec<InvestorLine>,
    pub transfers: Vec<TransferLine>,
    pub returns: Vec<ReturnLine>,
    pub reports: Vec<ReportLine>,
    pub memberships: Vec<MembershipLine>,
    pub anomalies: Vec<AnomalyLine>,
}

/// `GET /books/{book}/transfers?overdue_days=N`: transfers reconciled with their receipts. The
/// node fills it from the reconciliation's own lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfers<E = EnterpriseLine, I = InvestorLine, T = TransferLine, A = AnomalyLine> {
    pub enterprise: Option<E>,
    pub investors: Vec<I>,
    pub transfers: Vec<T>,
    pub anomalies: Vec<A>,
}

/// The enterprise, as its book's genesis describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseLine {
    pub name: String,
    pub currency: Currency,
    pub country: String,
    pub sector: String,
}

/// An investor group as the enterprise book registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestorLine {
    pub group: BookId,
    pub registration: RecordId,
    pub name: String,
    /// The group's currency, which its transfers are in.
    pub currency: Currency,
    pub officers: Vec<PublicKey>,
    pub quorum: u32,
    /// Its transfers with their quorum, in the group's currency.
    pub sent: Money,
    /// What arrived for them, in the enterprise's currency.
    pub received: Money,
    /// Returns paid to it, in the enterprise's currency.
    pub returns_paid: Money,
    /// What it acknowledged receiving of them, in its own currency.
    pub returns_received: Money,
}

/// One transfer, reconciled. Its fields are the transfer record's, listed here rather than
/// flattened: the node's line names the group twice (its own field and the record's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLine {
    pub record: RecordId,
    pub time_ms: u64,
    pub group: BookId,
    pub group_name: String,
    pub amount: Money,
    pub fee: Money,
    pub rate: String,
    pub rate_source: String,
    pub expected: Money,
    pub channel: String,
    pub reference: String,
    pub signed_by: Vec<PublicKey>,
    pub status: TransferState,
    pub receipt: Option<RecordId>,
}

/// Where a transfer stands (the node sends [`crate::enterprise::TransferStatus`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TransferState {
    AwaitingApproval { have: u32, need: u32 },
    Sent,
    Overdue { days: u64 },
    ReceivedInFull { received: Money },
    ReceivedWithDifference { received: Money, difference: Money },
}

impl TransferState {
    /// The state's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            TransferState::AwaitingApproval { .. } => "awaiting_approval",
            TransferState::Sent => "sent",
            TransferState::Overdue { .. } => "overdue",
            TransferState::ReceivedInFull { .. } => "received_in_full",
            TransferState::ReceivedWithDifference { .. } => "received_with_difference",
        }
    }
}

/// A return the cooperative paid an investor group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub record: RecordId,
    pub time_ms: u64,
    pub group_name: String,
    #[serde(flatten)]
    pub payment: Return,
    pub signed_by: Vec<PublicKey>,
    pub status: ReturnState,
    pub receipt: Option<RecordId>,
    pub receipt_signer: Option<PublicKey>,
}

/// Where a return stands (the node sends [`crate::enterprise::ReturnStatus`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReturnState {
    AwaitingApproval { have: u32, need: u32 },
    Paid,
    Received { received: Money },
}

impl ReturnState {
    /// The state's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            ReturnState::AwaitingApproval { .. } => "awaiting_approval",
            ReturnState::Paid => "paid",
            ReturnState::Received { .. } => "received",
        }
    }
}

/// A period's report, with its surplus worked out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    pub record: RecordId,
    pub time_ms: u64,
    #[serde(flatten)]
    pub report: Report,
    pub surplus: Money,
    pub signed_by: Vec<PublicKey>,
    /// Whether it has the report quorum.
    pub effective: bool,
}

/// A returning member the cooperative admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipLine {
    pub record: RecordId,
    pub time_ms: u64,
    pub group_name: String,
    #[serde(flatten)]
    pub membership: Membership,
    pub signed_by: Vec<PublicKey>,
    pub effective: bool,
}
