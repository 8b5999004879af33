//! The fold behind [`Ledger::fold`]: one pass over a book's records in (time, id) order, with a
//! function per kind of record that moves money or changes the group.
//!
//! [`Standing`] answers where each record stands (its signatures, quorum and reversal) before
//! the pass, so that the pass itself only adds up; [`Fold`] is the state the pass builds.

use super::{
    Anomaly, AnomalyKind, DepartureLine, DistributionLine, Entry, Ledger, Member, Officer, Pending,
    Status, concurrent_with_revocation, money_list, quorum, signatures, summary,
};
use crate::book::Book;
use crate::key::PublicKey;
use crate::kind::{
    Body, Contribution, Departure, Distribution, Genesis, Investment, MemberId, MemberJoin,
    StakeRule,
};
use crate::money::{Currency, Money};
use crate::record::{Record, RecordId};
use crate::roster::Roster;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where each record stands: its signatures, its quorum, and the reversal that cancelled it.
pub(super) struct Standing<'a> {
    genesis: &'a Genesis,
    roster: &'a Roster,
    signers: HashMap<RecordId, BTreeSet<PublicKey>>,
    /// The first effective reversal of each reversed record, in fold order.
    reversed_by: HashMap<RecordId, RecordId>,
}

impl<'a> Standing<'a> {
    pub(super) fn new(genesis: &'a Genesis, roster: &'a Roster, records: &[&Record]) -> Self {
        let mut standing = Standing {
            genesis,
            roster,
            signers: signatures(records),
            reversed_by: HashMap::new(),
        };
        for r in records {
            if let Body::Reversal(rev) = r.body()
                && standing.has_quorum(r)
            {
                standing.reversed_by.entry(rev.record).or_insert(r.id());
            }
        }
        standing
    }

    fn signed_by(&self, r: &Record) -> &BTreeSet<PublicKey> {
        &self.signers[&r.id()]
    }

    fn need(&self, r: &Record) -> u32 {
        quorum(self.genesis, self.roster, r)
    }

    pub(super) fn has_quorum(&self, r: &Record) -> bool {
        self.signed_by(r).len() as u32 >= self.need(r)
    }

    fn status(&self, r: &Record) -> Status {
        if let Some(by) = self.reversed_by.get(&r.id()) {
            Status::Reversed { by: *by }
        } else if self.has_quorum(r) {
            Status::Effective
        } else {
            Status::Pending {
                have: self.signed_by(r).len() as u32,
                need: self.need(r),
            }
        }
    }
}

/// What the fold has built so far; [`Fold::finish`] turns it into the [`Ledger`].
pub(super) struct Fold<'a> {
    genesis: &'a Genesis,
    anomalies: Vec<Anomaly>,
    members: BTreeMap<String, Member>,
    balances: BTreeMap<String, BTreeMap<Currency, i64>>,
    statements: BTreeMap<String, Vec<Entry>>,
    totals: BTreeMap<Currency, i64>,
    pending: Vec<Pending>,
    /// Effective contributions by (member, amount, meeting or day), to find the ones several
    /// officers each recorded.
    duplicates: BTreeMap<(String, Money, String), Vec<&'a Record>>,
    shares: BTreeMap<String, bool>,
    investments: Vec<Investment>,
    /// Effective contributions per member so far, for the contributions stake rule.
    contributed: BTreeMap<String, i64>,
    /// The returns already distributed, by return record.
    distributed: BTreeMap<RecordId, RecordId>,
    distributions: Vec<DistributionLine>,
    departures: Vec<DepartureLine>,
    departed: BTreeSet<String>,
}

impl<'a> Fold<'a> {
    pub(super) fn new(genesis: &'a Genesis) -> Self {
        Fold {
            genesis,
            anomalies: Vec::new(),
            members: BTreeMap::new(),
            balances: BTreeMap::new(),
            statements: BTreeMap::new(),
            // The book's own currency always shows, at zero if nothing has moved.
            totals: BTreeMap::from([(genesis.currency, 0)]),
            pending: Vec::new(),
            duplicates: BTreeMap::new(),
            shares: BTreeMap::new(),
            investments: Vec::new(),
            contributed: BTreeMap::new(),
            distributed: BTreeMap::new(),
            distributions: Vec::new(),
            departures: Vec::new(),
            departed: BTreeSet::new(),
        }
    }

    /// Folds one record in: the kinds that change the group do so here; the kinds that move a
    /// member's money go on to [`Fold::money`].
    pub(super) fn record(&mut self, r: &'a Record, standing: &Standing<'_>) {
        let st = standing.status(r);
        self.pending_or_reversed(r, &st, standing);
        let (member, amount, sign) = match r.body() {
            Body::Distribution(d) => return self.distribution(r, d, &st),
            Body::Departure(d) => self.departure(r, d, &st),
            Body::MemberJoin(j) => return self.member_join(r, j),
            Body::Share(s) if st == Status::Effective => return self.share(&s.peer, true),
            Body::Investment(i) if st == Status::Effective => return self.investment(i),
            Body::Unshare(s) if st == Status::Effective => return self.share(&s.peer, false),
            Body::Contribution(c) => self.contribution(r, c, &st),
            Body::Withdrawal(w) => (&w.member, w.amount, -1),
            _ => return,
        };
        self.money(r, member, amount, sign, st);
    }

    /// A record awaiting signatures is listed for approvers (an approval is itself a
    /// signature, never awaited); a reversed one is flagged.
    fn pending_or_reversed(&mut self, r: &Record, st: &Status, standing: &Standing<'_>) {
        if let Status::Pending { need, .. } = st
            && !matches!(r.body(), Body::Approval(_))
        {
            self.pending.push(Pending {
                record: r.id(),
                kind: r.kind().to_owned(),
                signer: r.signer(),
                signed_by: standing.signed_by(r).iter().copied().collect(),
                need: *need,
                summary: summary(r),
            });
        }
        if let Status::Reversed { by } = st {
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::Reversed,
                records: vec![r.id(), *by],
                detail: format!("{} {} was reversed by {by}", r.kind(), r.id()),
            });
        }
    }

    fn distribution(&mut self, r: &Record, d: &Distribution, st: &Status) {
        if *st != Status::Effective {
            return;
        }
        let stakes = self.stakes();
        let paid = self.distribute(r, d, &stakes);
        self.distributions.push(DistributionLine {
            record: r.id(),
            time_ms: r.time_ms(),
            enterprise: d.enterprise,
            return_record: d.return_record,
            amount: d.amount,
            paid,
        });
    }

    /// Every departure is listed; an effective one should settle the member's whole balance,
    /// and after it she holds no stake.
    fn departure<'d>(
        &mut self,
        r: &Record,
        d: &'d Departure,
        st: &Status,
    ) -> (&'d MemberId, Money, i64) {
        self.departures.push(DepartureLine {
            record: r.id(),
            time_ms: r.time_ms(),
            departure: d.clone(),
            status: st.clone(),
        });
        if *st == Status::Effective {
            let before = self
                .balances
                .get(d.member.as_str())
                .and_then(|b| b.get(&d.amount.currency))
                .copied()
                .unwrap_or(0);
            if before != d.amount.minor {
                self.anomalies.push(Anomaly {
                    kind: AnomalyKind::DepartureBalanceMismatch,
                    records: vec![r.id()],
                    detail: format!(
                        "departure {} settles {} for member {}, whose balance was {}",
                        r.id(),
                        d.amount,
                        d.member,
                        Money::new(before, d.amount.currency)
                    ),
                });
            }
            self.departed.insert(d.member.to_string());
        }
        (&d.member, d.amount, -1)
    }

    /// The first join of a member id counts; a second is flagged.
    fn member_join(&mut self, r: &Record, j: &MemberJoin) {
        let id = j.member.to_string();
        if let Some(first) = self.members.get(&id) {
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::DuplicateMember,
                records: vec![first.joined, r.id()],
                detail: format!("member id {id} joined twice"),
            });
        } else {
            self.members.insert(
                id.clone(),
                Member {
                    member: id,
                    alias: j.alias.clone(),
                    key: j.key,
                    joined: r.id(),
                },
            );
        }
    }

    /// An effective share or unshare; the last one for a peer decides.
    fn share(&mut self, peer: &str, on: bool) {
        self.shares.insert(peer.to_owned(), on);
    }

    fn investment(&mut self, i: &Investment) {
        if !self.investments.contains(i) {
            self.investments.push(i.clone());
        }
    }

    /// An effective contribution is remembered by member, amount and meeting (or day), so that
    /// the same one recorded by several officers can be flagged.
    fn contribution(
        &mut self,
        r: &'a Record,
        c: &'a Contribution,
        st: &Status,
    ) -> (&'a MemberId, Money, i64) {
        let meeting = c
            .meeting
            .map(|m| m.to_string())
            .unwrap_or_else(|| format!("day {}", r.time_ms() / 86_400_000));
        if *st == Status::Effective {
            self.duplicates
                .entry((c.member.to_string(), c.amount, meeting))
                .or_default()
                .push(r);
        }
        (&c.member, c.amount, 1)
    }

    /// Money into (`sign` 1) or out of (`sign` −1) a member's balance: flagged where it looks
    /// wrong, counted when effective, and written on her statement either way.
    fn money(&mut self, r: &Record, member: &MemberId, amount: Money, sign: i64, st: Status) {
        let member = member.to_string();
        self.flag_money(r, &member, amount);
        let balance = self
            .balances
            .entry(member.clone())
            .or_default()
            .entry(amount.currency)
            .or_default();
        if st == Status::Effective && sign > 0 && amount.currency == self.genesis.currency {
            let c = self.contributed.entry(member.clone()).or_default();
            *c = c.saturating_add(amount.minor);
        }
        if st == Status::Effective {
            // Saturating: each amount is within 2^53, but a hostile book could hold enough
            // of them to overflow; a saturated balance is wrong in a way people can see,
            // where a wrapped one would not be.
            *balance = balance.saturating_add(sign * amount.minor);
            let total = self.totals.entry(amount.currency).or_default();
            *total = total.saturating_add(sign * amount.minor);
            if *balance < 0 {
                self.anomalies.push(Anomaly {
                    kind: AnomalyKind::Overdraw,
                    records: vec![r.id()],
                    detail: format!(
                        "withdrawal {} leaves member {member} at {}",
                        r.id(),
                        Money::new(*balance, amount.currency)
                    ),
                });
            }
        }
        self.statements.entry(member).or_default().push(Entry {
            record: r.id(),
            kind: r.kind().to_owned(),
            time_ms: r.time_ms(),
            amount: Money::new(sign * amount.minor, amount.currency),
            status: st,
            balance_after: Money::new(*balance, amount.currency),
            signer: r.signer(),
        });
    }

    /// Money in another currency than the book's, for a member who has left, or for one who
    /// never joined.
    fn flag_money(&mut self, r: &Record, member: &str, amount: Money) {
        if amount.currency != self.genesis.currency {
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::CurrencyMismatch,
                records: vec![r.id()],
                detail: format!(
                    "{} {} is in {}, but the book keeps {}",
                    r.kind(),
                    r.id(),
                    amount.currency,
                    self.genesis.currency
                ),
            });
        }
        if self.departed.contains(member) && !matches!(r.body(), Body::Departure(_)) {
            // A node refuses these (`already_left`); one may still arrive from a peer.
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::MoneyAfterDeparture,
                records: vec![r.id()],
                detail: format!(
                    "{} {} is for member {member}, who has left the group",
                    r.kind(),
                    r.id()
                ),
            });
        }
        if !self.members.contains_key(member) {
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::UnknownMember,
                records: vec![r.id()],
                detail: format!(
                    "{} {} is for member {member}, who never joined",
                    r.kind(),
                    r.id()
                ),
            });
        }
    }

    /// Each member's stake at this point of the fold, by the book's stake rule: her balance in
    /// the book's currency, or her effective contributions so far; negatives count as 0, and a
    /// member who has left holds none.
    fn stakes(&self) -> BTreeMap<String, i64> {
        let currency = self.genesis.currency;
        let all: Box<dyn Iterator<Item = (&String, i64)>> =
            match self.genesis.rules.stake.unwrap_or_default() {
                StakeRule::Balance => Box::new(
                    self.balances
                        .iter()
                        .map(|(m, b)| (m, b.get(&currency).copied().unwrap_or(0))),
                ),
                StakeRule::Contributions => Box::new(self.contributed.iter().map(|(m, c)| (m, *c))),
            };
        all.filter(|(m, _)| !self.departed.contains(*m))
            .map(|(m, s)| (m.clone(), s.max(0)))
            .collect()
    }

    /// Shares an effective distribution among the members in proportion to their stakes at
    /// this point of the fold (the book's stake rule), exactly, by the largest remainder
    /// method. A second distribution of the same return is flagged and pays nothing. Returns
    /// whether it paid.
    fn distribute(&mut self, r: &Record, d: &Distribution, stakes: &BTreeMap<String, i64>) -> bool {
        if let Some(first) = self.distributed.get(&d.return_record) {
            self.anomalies.push(Anomaly {
                kind: AnomalyKind::DuplicateDistribution,
                records: vec![*first, r.id()],
                detail: format!(
                    "return {} was already distributed by {first}; distribution {} pays nothing",
                    d.return_record,
                    r.id()
                ),
            });
            return false;
        }
        let currency = self.genesis.currency;
        let shares = match crate::allocate::allocate(d.amount.minor, stakes) {
            Ok(shares) => shares,
            Err(e) => {
                self.anomalies.push(Anomaly {
                    kind: AnomalyKind::NothingToShare,
                    records: vec![r.id()],
                    detail: format!(
                        "distribution {} of {} shares nothing: {e}",
                        r.id(),
                        d.amount
                    ),
                });
                return false;
            }
        };
        self.distributed.insert(d.return_record, r.id());
        let total = self.totals.entry(currency).or_default();
        *total = total.saturating_add(d.amount.minor);
        for (member, share) in shares {
            if share == 0 {
                continue;
            }
            let balance = self
                .balances
                .entry(member.clone())
                .or_default()
                .entry(currency)
                .or_default();
            *balance = balance.saturating_add(share);
            self.statements.entry(member).or_default().push(Entry {
                record: r.id(),
                kind: r.kind().to_owned(),
                time_ms: r.time_ms(),
                amount: Money::new(share, currency),
                status: Status::Effective,
                balance_after: Money::new(*balance, currency),
                signer: r.signer(),
            });
        }
        true
    }

    /// Flags the contributions several officers each recorded for the same member, amount and
    /// meeting.
    fn flag_duplicates(&mut self) {
        for ((member, amount, meeting), recs) in std::mem::take(&mut self.duplicates) {
            let officers: BTreeSet<PublicKey> = recs.iter().map(|r| r.signer()).collect();
            if officers.len() > 1 {
                self.anomalies.push(Anomaly {
                    kind: AnomalyKind::LikelyDuplicateContribution,
                    records: recs.iter().map(|r| r.id()).collect(),
                    detail: format!(
                        "{} officers each recorded {amount} from member {member} ({meeting})",
                        officers.len()
                    ),
                });
            }
        }
    }

    /// The ledger, once every record is folded in: the flags that need the whole book, and the
    /// totals as lists.
    pub(super) fn finish(
        mut self,
        book: &Book,
        roster: &Roster,
        records: &[&Record],
        standing: &Standing<'_>,
    ) -> Ledger {
        self.flag_duplicates();
        let effective_revocations: Vec<&Record> = records
            .iter()
            .copied()
            .filter(|r| matches!(r.body(), Body::RoleRevoke(_)) && standing.has_quorum(r))
            .collect();
        self.anomalies.extend(concurrent_with_revocation(
            book,
            roster,
            records,
            &effective_revocations,
        ));
        self.anomalies
            .sort_by(|a, b| (a.kind, &a.records).cmp(&(b.kind, &b.records)));
        let stakes = self.stakes();
        Ledger {
            name: self.genesis.name.clone(),
            currency: Some(self.genesis.currency),
            record_count: records.len(),
            officers: roster
                .officers()
                .map(|(key, roles)| Officer {
                    key: *key,
                    roles: roles.iter().copied().collect(),
                })
                .collect(),
            members: self.members.into_values().collect(),
            totals: money_list(&self.totals),
            balances: self
                .balances
                .into_iter()
                .map(|(m, b)| (m, money_list(&b)))
                .collect(),
            statements: self.statements,
            pending: self.pending,
            anomalies: self.anomalies,
            shared_with: self
                .shares
                .into_iter()
                .filter_map(|(peer, on)| on.then_some(peer))
                .collect(),
            stakes,
            distributions: self.distributions,
            departures: self.departures,
            investments: self.investments,
        }
    }
}
