//! The node's cash rule: a group never pays out cash it does not hold, counting the payments
//! that await approval.

use super::caches::Caches;
use super::task::Enterprises;
use super::{BookId, LibraryError};
use kaban_protocol::book::Book;
use kaban_protocol::money::Money;
use kaban_protocol::record::Record;
use kaban_protocol::view::{Ledger, Objection};

/// Refuses a withdrawal or a payout that would take more than the group holds in cash, and
/// an approval of one when the cash no longer covers it. Payments awaiting approval count
/// against the cash, withdrawals and payouts alike, since their approvals will take it. The
/// book's task runs it and adds the record in one step, so two payments cannot both pass it.
/// Like the other local policy checks it applies to records submitted here; one that arrives
/// from a peer shows as negative cash in the portfolio.
pub(super) fn check(
    id: BookId,
    book: &Book,
    caches: &mut Caches,
    record: &Record,
    enterprises: &Enterprises,
) -> Result<(), LibraryError> {
    use kaban_protocol::kind::Body;
    let target = match record.body() {
        Body::Approval(a) => book.record(&a.record),
        _ => None,
    };
    if payment_of(target.unwrap_or(record)).is_none() {
        return Ok(());
    }
    let ledger = caches.ledger_for(book);
    let (payment, approving) = match target {
        Some(t) if ledger.pending.iter().any(|p| p.record == t.id()) => (t, true),
        Some(_) => return Ok(()),
        None => (record, false),
    };
    let Some(amount) = payment_of(payment) else {
        return Ok(());
    };
    let refs: Vec<_> = enterprises
        .iter()
        .map(|(e, rec)| (*e, rec.as_ref()))
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

/// Whether a record may need the cash rule, and so the enterprise books' reconciliations:
/// a payment, or an approval (of what, only the book knows).
pub(super) fn may_pay(record: &Record) -> bool {
    use kaban_protocol::kind::Body;
    matches!(record.body(), Body::Approval(_)) || payment_of(record).is_some()
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
