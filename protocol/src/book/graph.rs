//! The causal index of a book: its changes as a DAG, one record each, and its role records.
//!
//! Automerge knows the change graph, but validation needs three questions answered quickly:
//! which role records lie in a change's causal past (to derive the roster there), whether one
//! record lies in another's past (for approvals, reversals and signers' chains), and which change
//! carries a given record. Each node of the DAG carries the set of role records at or before it;
//! role records are few, and consecutive changes that add none share one set, so this costs a
//! pointer per change.

use super::validate::Candidate;
use crate::key::PublicKey;
use crate::kind::Genesis;
use crate::record::{Record, RecordId};
use crate::roster::{self, RoleEntry, RoleSet, Roster};
use automerge::ChangeHash;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Default)]
pub(super) struct Graph {
    /// Changes in the order they were indexed, which is always a topological order.
    nodes: Vec<Node>,
    by_hash: HashMap<ChangeHash, u32>,
    /// Each record, with the one change that carries it.
    records: HashMap<RecordId, Placed>,
    /// Each signer's records in this book, in chain order (`seq` 1 first).
    chains: HashMap<PublicKey, Vec<RecordId>>,
    roles: Vec<RoleEntry>,
    /// The changes no other change depends on, in order: the document's heads, kept here so
    /// that they move with each change indexed, before the document takes it.
    heads: BTreeSet<ChangeHash>,
}

#[derive(Debug)]
struct Node {
    hash: ChangeHash,
    /// The counter of the change's one operation.
    op: u64,
    record: RecordId,
    deps: Vec<u32>,
    /// Role records at or before this change.
    roles: RoleSet,
}

#[derive(Debug)]
struct Placed {
    record: Record,
    node: u32,
}

impl Graph {
    pub(super) fn node(&self, hash: &ChangeHash) -> Option<u32> {
        self.by_hash.get(hash).copied()
    }

    pub(super) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn heads(&self) -> Vec<ChangeHash> {
        self.heads.iter().copied().collect()
    }

    pub(super) fn record_count(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn record(&self, id: &RecordId) -> Option<&Record> {
        self.records.get(id).map(|p| &p.record)
    }

    /// The change that carries a record, and the counter of its one operation.
    pub(super) fn change_of(&self, id: &RecordId) -> Option<(ChangeHash, u64)> {
        self.records.get(id).map(|p| {
            let node = &self.nodes[p.node as usize];
            (node.hash, node.op)
        })
    }

    /// The record a change carries.
    pub(super) fn record_of(&self, hash: &ChangeHash) -> Option<RecordId> {
        self.node(hash).map(|n| self.nodes[n as usize].record)
    }

    /// Every record, in the order this node indexed them.
    pub(super) fn records(&self) -> impl Iterator<Item = &Record> {
        self.nodes.iter().map(|n| &self.records[&n.record].record)
    }

    /// How many records `signer` has in this book.
    pub(super) fn seq_of(&self, signer: &PublicKey) -> u64 {
        self.chains.get(signer).map_or(0, |c| c.len() as u64)
    }

    /// The signer's record number `seq` in this book, if it has one.
    pub(super) fn chain_record(&self, signer: &PublicKey, seq: u64) -> Option<RecordId> {
        let at = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.chains.get(signer)?.get(at).copied()
    }

    fn dep_nodes(&self, deps: &[ChangeHash]) -> Vec<u32> {
        deps.iter().map(|d| self.by_hash[d]).collect()
    }

    /// The role records in the causal past of a change with these dependencies.
    pub(super) fn past_roles(&self, deps: &[ChangeHash]) -> RoleSet {
        let nodes = self.dep_nodes(deps);
        let sets: Vec<&RoleSet> = nodes
            .iter()
            .map(|&n| &self.nodes[n as usize].roles)
            .collect();
        roster::union(&sets)
    }

    pub(super) fn all_roles(&self) -> Vec<u32> {
        (0..self.roles.len() as u32).collect()
    }

    pub(super) fn roster(&self, genesis: &Genesis, set: &[u32]) -> Roster {
        Roster::fold(genesis, &self.roles, set)
    }

    /// Whether record `id` is in the book and in the causal past of a change with `deps`.
    pub(super) fn record_in_past(&self, id: &RecordId, deps: &[ChangeHash]) -> bool {
        let Some(placed) = self.records.get(id) else {
            return false;
        };
        self.is_ancestor(placed.node, &self.dep_nodes(deps))
    }

    pub(super) fn record_precedes(&self, a: &RecordId, b: &RecordId) -> bool {
        match (self.records.get(a), self.records.get(b)) {
            (Some(a), Some(b)) => self.is_ancestor(a.node, &[b.node]),
            _ => false,
        }
    }

    /// Whether `target` is one of `from` or an ancestor of one. Nodes are indexed in
    /// topological order, so the search never descends below `target`'s index; recent targets,
    /// the common case, are found after a few steps.
    fn is_ancestor(&self, target: u32, from: &[u32]) -> bool {
        let mut stack: Vec<u32> = from.iter().copied().filter(|&n| n >= target).collect();
        let mut seen: HashSet<u32> = HashSet::new();
        while let Some(n) = stack.pop() {
            if n == target {
                return true;
            }
            if !seen.insert(n) {
                continue;
            }
            stack.extend(
                self.nodes[n as usize]
                    .deps
                    .iter()
                    .copied()
                    .filter(|&d| d >= target),
            );
        }
        false
    }

    /// Adds a validated change. Its dependencies must already be indexed, and its record must
    /// be new: validation guarantees both, so a record is indexed once and counted once.
    pub(super) fn insert(&mut self, candidate: Candidate) {
        let Candidate {
            hash,
            deps,
            start_op,
            record,
        } = candidate;
        let id = record.id();
        debug_assert!(!self.records.contains_key(&id), "a record is indexed once");
        for d in &deps {
            self.heads.remove(d);
        }
        self.heads.insert(hash);
        let deps = self.dep_nodes(&deps);
        let before = {
            let sets: Vec<&RoleSet> = deps
                .iter()
                .map(|&n| &self.nodes[n as usize].roles)
                .collect();
            roster::union(&sets)
        };
        let is_role = roster::is_role_record(&record, |t| {
            self.records.get(&t).map(|p| p.record.kind().to_owned())
        });
        let roles = if is_role {
            let mut all = before.as_ref().clone();
            all.push(self.roles.len() as u32);
            self.roles.push(RoleEntry {
                record: record.clone(),
                before,
            });
            Arc::new(all)
        } else {
            before
        };
        let index = self.nodes.len() as u32;
        self.nodes.push(Node {
            hash,
            op: start_op,
            record: id,
            deps,
            roles,
        });
        self.by_hash.insert(hash, index);
        self.chains.entry(record.signer()).or_default().push(id);
        self.records.insert(
            id,
            Placed {
                record,
                node: index,
            },
        );
    }
}
