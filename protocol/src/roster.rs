//! The roster: which signer key holds which role, derived from a set of records.
//!
//! The roster is a pure function of the genesis record and a set of role records (grants,
//! revocations and the approvals that bring them to quorum), each with the set of role records
//! in its own causal past. Validation computes it from a change's causal past, so every node
//! reaches the same verdict on the same change; views compute it from the whole book.
//!
//! A role holds when the genesis assigned it or an effective grant made it, unless an effective
//! revocation is not causally before that grant. So a revocation concurrent with a grant wins:
//! taking a key away is the safe side to err on, and the anomaly view shows what happened.

use crate::key::PublicKey;
use crate::kind::{Body, Genesis, Investor, Role};
use crate::record::{BookId, Record, RecordId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A set of role records, as sorted indices into the book's list of role records.
pub type RoleSet = Arc<Vec<u32>>;

/// A role record with the role records causally before it (not counting those in its own
/// change).
#[derive(Debug, Clone)]
pub struct RoleEntry {
    pub record: Record,
    pub before: RoleSet,
}

/// Whether a record changes the roster: grants, revocations, and approvals of either.
pub fn is_role_record(record: &Record, target_kind: impl Fn(RecordId) -> Option<String>) -> bool {
    match record.body() {
        Body::Genesis(_) | Body::RoleGrant(_) | Body::RoleRevoke(_) | Body::Investor(_) => true,
        Body::Approval(a) => matches!(
            target_kind(a.record).as_deref(),
            Some("role_grant" | "role_revoke" | "investor")
        ),
        _ => false,
    }
}

/// Merges sorted index sets.
pub fn union(sets: &[&RoleSet]) -> RoleSet {
    match sets {
        [] => Arc::new(Vec::new()),
        [one] => Arc::clone(one),
        _ => {
            let mut all: Vec<u32> = sets.iter().flat_map(|s| s.iter().copied()).collect();
            all.sort_unstable();
            all.dedup();
            // Share the largest input when the union adds nothing to it, which is the common
            // case of a merge after one side changed no roles.
            let largest = sets
                .iter()
                .max_by_key(|s| s.len())
                .expect("at least two sets");
            if largest.len() == all.len() {
                Arc::clone(largest)
            } else {
                Arc::new(all)
            }
        }
    }
}

/// Where role record `index` sits in the sorted `set`.
fn position_of(set: &[u32], index: u32) -> usize {
    set.binary_search(&index)
        .expect("a role record in the roster's fold is in its set")
}

/// Who holds which role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    roles: BTreeMap<PublicKey, BTreeSet<Role>>,
    revoked: BTreeSet<(PublicKey, Role)>,
    /// Enterprise books: the investor groups each investor officer signs for.
    investor_of: BTreeMap<PublicKey, BTreeSet<BookId>>,
    /// Enterprise books: the investor groups registered with quorum.
    groups: BTreeMap<BookId, Investor>,
    /// The investor record that registers each group.
    registrations: BTreeMap<BookId, RecordId>,
}

/// Who approved each record, among `entries`.
fn approvers_of(entries: &[&RoleEntry]) -> HashMap<RecordId, BTreeSet<PublicKey>> {
    let mut approvers: HashMap<RecordId, BTreeSet<PublicKey>> = HashMap::new();
    for e in entries {
        if let Body::Approval(a) = e.record.body() {
            approvers
                .entry(a.record)
                .or_default()
                .insert(e.record.signer());
        }
    }
    approvers
}

impl Roster {
    /// Folds the genesis and the role records at `set` (indices into `entries`).
    pub fn fold(genesis: &Genesis, entries: &[RoleEntry], set: &[u32]) -> Roster {
        let in_set: Vec<&RoleEntry> = set.iter().map(|&i| &entries[i as usize]).collect();
        let approvers = approvers_of(&in_set);
        let effective = |e: &RoleEntry| {
            let mut signers = approvers.get(&e.record.id()).cloned().unwrap_or_default();
            signers.insert(e.record.signer());
            signers.len() as u32 >= genesis.rules.quorum(e.record.kind())
        };

        // For each (key, role): whether the genesis assigned it, its effective grants (with their
        // pasts) and its effective revocations (by index).
        #[derive(Default)]
        struct Events<'a> {
            genesis: bool,
            /// Each effective grant's past, and the investor group it names, if any.
            grants: Vec<(&'a RoleSet, Option<BookId>)>,
            revokes: Vec<u32>,
        }
        let mut groups = BTreeMap::new();
        let mut events: BTreeMap<(PublicKey, Role), Events<'_>> = BTreeMap::new();
        for officer in &genesis.officers {
            for role in &officer.roles {
                events.entry((officer.key, *role)).or_default().genesis = true;
            }
        }
        for (&index, e) in set.iter().zip(&in_set) {
            match e.record.body() {
                Body::RoleGrant(g) if effective(e) => events
                    .entry((g.key, g.role))
                    .or_default()
                    .grants
                    .push((&e.before, None)),
                Body::Investor(i) if effective(e) => {
                    // Of two effective registrations of one group, the one that follows the
                    // other gives the group's name, currency and quorum; of two concurrent ones,
                    // the larger id. Never the claimed time, which the signer chooses.
                    let wins = match groups.get(&i.group) {
                        None => true,
                        Some(&(at, other_id, _)) => {
                            let other_in_past = e.before.binary_search(&at).is_ok();
                            let this_in_past = in_set[position_of(set, at)]
                                .before
                                .binary_search(&index)
                                .is_ok();
                            other_in_past || (!this_in_past && e.record.id() > other_id)
                        }
                    };
                    if wins {
                        groups.insert(i.group, (index, e.record.id(), i.clone()));
                    }
                    for key in &i.officers {
                        events
                            .entry((*key, Role::Investor))
                            .or_default()
                            .grants
                            .push((&e.before, Some(i.group)));
                    }
                }
                Body::RoleRevoke(r) if effective(e) => events
                    .entry((r.key, r.role))
                    .or_default()
                    .revokes
                    .push(index),
                _ => {}
            }
        }

        let registrations = groups.iter().map(|(g, (_, id, _))| (*g, *id)).collect();
        let groups = groups.into_iter().map(|(g, (_, _, i))| (g, i)).collect();
        let mut roster = Roster {
            groups,
            registrations,
            ..Roster::default()
        };
        for ((key, role), ev) in events {
            // A grant stands unless some effective revocation is not in its causal past.
            let standing: Vec<Option<BookId>> = ev
                .grants
                .iter()
                .filter(|(before, _)| ev.revokes.iter().all(|r| before.binary_search(r).is_ok()))
                .map(|(_, group)| *group)
                .collect();
            let holds = (ev.genesis && ev.revokes.is_empty()) || !standing.is_empty();
            if holds {
                roster.roles.entry(key).or_default().insert(role);
                let of: BTreeSet<BookId> = standing.into_iter().flatten().collect();
                if !of.is_empty() {
                    roster.investor_of.insert(key, of);
                }
            } else if !ev.revokes.is_empty() {
                roster.revoked.insert((key, role));
            }
        }
        roster
    }

    pub fn holds(&self, key: &PublicKey, role: Role) -> bool {
        self.roles.get(key).is_some_and(|r| r.contains(&role))
    }

    pub fn holds_any(&self, key: &PublicKey, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.holds(key, *r))
    }

    pub fn roles_of(&self, key: &PublicKey) -> Vec<Role> {
        self.roles
            .get(key)
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Whether `key` once held `role` and had it revoked.
    pub fn was_revoked(&self, key: &PublicKey, role: Role) -> bool {
        self.revoked.contains(&(*key, role))
    }

    /// Whether `key` signs for investor group `group` in this enterprise book.
    pub fn invests_for(&self, key: &PublicKey, group: BookId) -> bool {
        self.investor_of
            .get(key)
            .is_some_and(|groups| groups.contains(&group))
    }

    /// The investor group registered for `group`, if its registration has its quorum.
    pub fn group(&self, group: BookId) -> Option<&Investor> {
        self.groups.get(&group)
    }

    /// Every registered investor group, by book id.
    /// The investor record that registers `group`.
    pub fn registration(&self, group: BookId) -> Option<RecordId> {
        self.registrations.get(&group).copied()
    }

    pub fn groups(&self) -> impl Iterator<Item = &Investor> {
        self.groups.values()
    }

    /// Every officer and their roles, in key order.
    pub fn officers(&self) -> impl Iterator<Item = (&PublicKey, &BTreeSet<Role>)> {
        self.roles.iter()
    }

    /// Every revoked (key, role), in key order.
    pub fn revocations(&self) -> impl Iterator<Item = &(PublicKey, Role)> {
        self.revoked.iter()
    }
}
