//! An enterprise book's views: `GET /books/{book}/dashboard`, which is the whole
//! [`crate::enterprise::Reconciliation`], and `GET /books/{book}/transfers`, a part of it, both
//! made of that reconciliation's own lines.

use super::AnomalyLine;
use crate::enterprise::{EnterpriseInfo, InvestorLine, Reconciliation, TransferLine};
use serde::{Deserialize, Serialize};

/// `GET /books/{book}/dashboard`: investors, capital received, reports, returns and
/// memberships.
pub type Dashboard = Reconciliation<AnomalyLine>;

/// `GET /books/{book}/transfers?overdue_days=N`: transfers reconciled with their receipts. The
/// node fills it with references to the reconciliation's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transfers<E = EnterpriseInfo, I = InvestorLine, T = TransferLine, A = AnomalyLine> {
    pub enterprise: Option<E>,
    pub investors: Vec<I>,
    pub transfers: Vec<T>,
    pub anomalies: Vec<A>,
}
