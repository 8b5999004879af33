//! The node's cash rule: a group never pays out cash it does not hold, counting the payments
//! that await approval.

use super::{BookId, Library, LibraryError};
use kaban_protocol::money::Money;
use kaban_protocol::record::Record;
use kaban_protocol::view::{Ledger, Objection};

impl Library {
    /// Refuses a withdrawal or a payout that would take more than the group holds in cash, and
    /// an approval of one when the cash no longer covers it. Payments awaiting approval count
    /// against the cash, withdrawals and payouts alike, since their approvals will take it.
    /// Like the other local policy checks it applies to records submitted here; one that
    /// arrives from a peer shows as negative cash in the portfolio.
    pub(super) async fn check_cash(&self, id: BookId, record: &Record) -> Result<(), LibraryError> {
        use kaban_protocol::kind::Body;
        // A record submitted again is answered as before, whatever the cash is now.
        let (seen, target) = self
            .with_book(id, |b| {
                let target = match record.body() {
                    Body::Approval(a) => b.record(&a.record).cloned(),
                    _ => None,
                };
                (b.record(&record.id()).is_some(), target)
            })
            .await?;
        if seen {
            return Ok(());
        }
        let ledger = self.ledger(id).await?;
        let (payment, approving) = match (record.body(), &target) {
            (Body::Approval(_), Some(t)) if ledger.pending.iter().any(|p| p.record == t.id()) => {
                (t, true)
            }
            _ => (record, false),
        };
        let Some(amount) = payment_of(payment) else {
            return Ok(());
        };
        let enterprises = self
            .enterprises(0, kaban_protocol::enterprise::DEFAULT_OVERDUE_DAYS)
            .await;
        let refs: Vec<_> = enterprises
            .iter()
            .map(|(e, rec, _)| (*e, rec.as_ref()))
            .collect();
        let p = kaban_protocol::portfolio::portfolio(id, &ledger, &refs);
        // Without investments the cash is the members' balances, and each member's own rules
        // (overdraw, already left) answer more precisely.
        if p.holdings.is_empty() || amount.currency != p.currency {
            return Ok(());
        }
        // What the other payments awaiting approval will take; an approval's own payment is
        // among them already.
        let mut others = ledger
            .pending_withdrawals(None)
            .saturating_add(pending_payouts(&ledger));
        if approving {
            others = others.saturating_sub(amount.minor);
        }
        let cash = Money::new(p.cash.minor.saturating_sub(others), p.currency);
        if amount.minor > cash.minor {
            return Err(Objection::InsufficientCash {
                kind: payment.kind().to_owned(),
                amount,
                cash,
                outstanding: p.outstanding,
            }
            .into());
        }
        Ok(())
    }
}

/// The cash a payment takes: a withdrawal, or a departure paid out.
fn payment_of(record: &Record) -> Option<Money> {
    use kaban_protocol::kind::{Body, Settlement};
    match record.body() {
        Body::Withdrawal(w) => Some(w.amount),
        Body::Departure(d) if d.settlement == Settlement::Payout => Some(d.amount),
        _ => None,
    }
}

/// Departures to be paid out that await approval, in minor units.
fn pending_payouts(ledger: &Ledger) -> i64 {
    ledger
        .departures
        .iter()
        .filter(|d| {
            matches!(d.status, kaban_protocol::view::Status::Pending { .. })
                && d.departure.settlement == kaban_protocol::kind::Settlement::Payout
        })
        .map(|d| d.departure.amount.minor)
        .fold(0i64, i64::saturating_add)
}
