//! The limits a body's fields must keep: the ones a person could break (empty names,
//! non-positive amounts, over-long text, impossible dates), checked once when a record is decoded
//! so that no view or rule meets a body that breaks them.

use super::{
    Body, BodyError, Departure, Genesis, Indicator, Investor, Kind, Meeting, Membership, Report,
    Return, Role, Settlement, Transfer, Withdrawal,
};

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

/// Kinds every book may hold whose default quorum is above 1, in the order a genesis's quorums
/// are checked against its officers: the first that cannot be reached is the one reported, so
/// the order is part of the verdict.
const ANY_BOOK_QUORUMS: [Kind; 5] = [
    Kind::RoleGrant,
    Kind::Withdrawal,
    Kind::RoleRevoke,
    Kind::Reversal,
    Kind::Share,
];
/// Kinds only an enterprise book holds whose quorum the genesis sets and whose default is above
/// 1, in checking order.
const ENTERPRISE_BOOK_QUORUMS: [Kind; 4] =
    [Kind::Investor, Kind::Report, Kind::Return, Kind::Membership];
/// Kinds only a savings book holds whose default quorum is above 1, in checking order.
const SAVINGS_BOOK_QUORUMS: [Kind; 3] = [Kind::Distribution, Kind::Departure, Kind::Investment];

impl Body {
    /// Checks the limits a body's fields must keep.
    pub(super) fn check(&self) -> Result<(), BodyError> {
        match self {
            Body::Genesis(g) => genesis(g),
            Body::MemberJoin(m) => text(&m.alias, "alias", MAX_NAME_CHARS),
            Body::Meeting(m) => meeting(m),
            Body::Contribution(c) => positive(c.amount.minor),
            Body::Withdrawal(w) => withdrawal(w),
            Body::Reversal(r) => text(&r.reason, "reason", MAX_TEXT_CHARS),
            Body::Share(s) | Body::Unshare(s) => peer_id(&s.peer),
            Body::RoleGrant(g) if g.role == Role::Investor => Err(BodyError::Json(
                "the investor role is granted by an investor record, which names the group".into(),
            )),
            Body::Investor(i) => investor(i),
            Body::Transfer(t) => transfer(t),
            Body::Receipt(r) => positive(r.received.minor),
            Body::ReturnReceipt(r) => positive(r.received.minor),
            Body::Distribution(d) => positive(d.amount.minor),
            Body::Departure(d) => departure(d),
            Body::Membership(m) => membership(m),
            Body::Return(r) => payment(r),
            Body::Report(r) => report(r),
            Body::RoleGrant(_)
            | Body::RoleRevoke(_)
            | Body::Approval(_)
            | Body::Investment(_)
            | Body::Unknown { .. } => Ok(()),
        }
    }
}

/// A genesis names its book, its officers (at least a treasurer), and quorums that can be
/// reached by the officers it names.
fn genesis(g: &Genesis) -> Result<(), BodyError> {
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
    if !g
        .officers
        .iter()
        .any(|o| o.roles.contains(&Role::Treasurer))
    {
        return Err(BodyError::NoTreasurer);
    }
    genesis_quorums(g)
}

/// The quorums a genesis sets are in range, name no kind whose quorum is fixed, and can all be
/// reached by its distinct officer keys.
fn genesis_quorums(g: &Genesis) -> Result<(), BodyError> {
    let mut keys: Vec<_> = g.officers.iter().map(|o| o.key).collect();
    keys.sort();
    keys.dedup();
    for (kind, &quorum) in &g.rules.quorum {
        if let Some(why) = Kind::of(kind).fixed_quorum() {
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
    let book_kinds: &[Kind] = if g.enterprise.is_some() {
        &ENTERPRISE_BOOK_QUORUMS
    } else {
        &SAVINGS_BOOK_QUORUMS
    };
    for kind in ANY_BOOK_QUORUMS
        .iter()
        .chain(book_kinds)
        .map(|k| {
            k.as_str()
                .expect("the kinds a genesis checks are known")
                .to_owned()
        })
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

fn meeting(m: &Meeting) -> Result<(), BodyError> {
    date(&m.date)?;
    if let Some(place) = &m.place {
        text(place, "place", MAX_NAME_CHARS)?;
    }
    list(m.attendance.len(), "attendance")
}

fn withdrawal(w: &Withdrawal) -> Result<(), BodyError> {
    positive(w.amount.minor)?;
    text(&w.reason, "reason", MAX_TEXT_CHARS)
}

/// An investor registration names the group's officers and a transfer quorum they can reach.
fn investor(i: &Investor) -> Result<(), BodyError> {
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
    Ok(())
}

/// A transfer's fee is in the group's currency like its amount, and its rate is written plainly.
fn transfer(t: &Transfer) -> Result<(), BodyError> {
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
    text(&t.reference, "reference", MAX_NAME_CHARS)
}

/// A departure may settle a balance of zero, and names an enterprise exactly when it converts.
fn departure(d: &Departure) -> Result<(), BodyError> {
    if d.amount.minor < 0 {
        return Err(BodyError::Json(format!(
            "amount must not be negative, got {}",
            d.amount
        )));
    }
    match (d.settlement, d.enterprise) {
        (Settlement::Conversion, None) => Err(BodyError::Json(
            "a conversion names the enterprise book whose cooperative she joins".into(),
        )),
        (Settlement::Payout, Some(_)) => Err(BodyError::Json(
            "a payout names no enterprise; a conversion does".into(),
        )),
        _ => Ok(()),
    }
}

fn membership(m: &Membership) -> Result<(), BodyError> {
    positive(m.stake.minor)?;
    positive(m.capital.minor)?;
    rate(&m.rate)
}

/// A return the cooperative pays.
fn payment(r: &Return) -> Result<(), BodyError> {
    positive(r.amount.minor)?;
    text(&r.channel, "channel", MAX_NAME_CHARS)?;
    text(&r.reference, "reference", MAX_NAME_CHARS)
}

/// A report covers a real period, with figures that cannot be negative, in one currency, and
/// indicators and a narrative that compare across enterprises.
fn report(r: &Report) -> Result<(), BodyError> {
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
        indicator(i)?;
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
    text(&r.narrative.text, "narrative", MAX_NARRATIVE_CHARS)
}

/// An indicator's name is snake_case so that the same indicator compares across enterprises.
fn indicator(i: &Indicator) -> Result<(), BodyError> {
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
    text(&i.unit, "unit", MAX_NAME_CHARS)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Books;

    /// The checking order is fixed by hand; the kinds in it are the table's: those a book may
    /// hold whose quorum a genesis sets and whose default is above 1.
    #[test]
    fn genesis_checks_the_quorums_the_table_says() {
        let from_table = |books: Books| -> Vec<Kind> {
            Kind::KNOWN
                .into_iter()
                .filter(|k| k.books() == books && k.default_quorum() > 1)
                .filter(|k| k.fixed_quorum().is_none())
                .collect()
        };
        let sorted = |kinds: &[Kind]| {
            let mut kinds = kinds.to_vec();
            kinds.sort();
            kinds
        };
        assert_eq!(sorted(&ANY_BOOK_QUORUMS), from_table(Books::Any));
        assert_eq!(sorted(&SAVINGS_BOOK_QUORUMS), from_table(Books::Savings));
        assert_eq!(
            sorted(&ENTERPRISE_BOOK_QUORUMS),
            from_table(Books::Enterprise)
        );
    }
}
