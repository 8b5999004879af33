//! The causal index of a book: its changes as a DAG, its records, and its role records.
//!
//! Automerge knows the change graph, but validation needs two questions answered quickly: which
//! role records lie in a change's causal past (to derive the roster there), and whether one
//! record lies in another's past (for approvals and reversals). Each node of the DAG carries the
//! set of role records at or before it; role records are few, and consecutive changes that add
//! none share one set, so this costs a pointer per change.

use super::validate::Candidate;
use crate::kind::Genesis;
use crate::record::{Record, RecordId};
use crate::roster::{self, RoleEntry, RoleSet, Roster};
use automerge::{ActorId, ChangeHash};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Default)]
pub(super) struct Graph {
    /// Changes in the order they were indexed, which is always a topological order.
    nodes: Vec<Node>,
    by_hash: HashMap<ChangeHash, u32>,
    actor_seq: HashMap<ActorId, u64>,
    records: HashMap<RecordId, Placed>,
    order: Vec<RecordId>,
    roles: Vec<RoleEntry>,
}

#[derive(Debug)]
struct Node {
    deps: Vec<u32>,
    /// Role records at or before this change.
    roles: RoleSet,
}

#[derive(Debug)]
struct Placed {
    record: Record,
    /// Every change that put this record. Two nodes may add the same record concurrently
    /// (the same content, so the same id); each placement counts for causality, so a record is
    /// "in the past" of a change if any of its placements is, whichever arrived first here.
    nodes: Vec<u32>,
}

impl Graph {
    pub(super) fn node(&self, hash: &ChangeHash) -> Option<u32> {
        self.by_hash.get(hash).copied()
    }

    pub(super) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn record_count(&self) -> usize {
        self.order.len()
    }

    pub(super) fn record(&self, id: &RecordId) -> Option<&Record> {
        self.records.get(id).map(|p| &p.record)
    }

    pub(super) fn records(&self) -> impl Iterator<Item = &Record> {
        self.order.iter().map(|id| &self.records[id].record)
    }

    pub(super) fn seq_of(&self, actor: &ActorId) -> u64 {
        self.actor_seq.get(actor).copied().unwrap_or(0)
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
        let from = self.dep_nodes(deps);
        placed.nodes.iter().any(|&n| self.is_ancestor(n, &from))
    }

    pub(super) fn record_precedes(&self, a: &RecordId, b: &RecordId) -> bool {
        match (self.records.get(a), self.records.get(b)) {
            (Some(a), Some(b)) => a.nodes.iter().any(|&n| self.is_ancestor(n, &b.nodes)),
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

    /// Adds a validated change. Its dependencies must already be indexed.
    pub(super) fn insert(&mut self, candidate: Candidate) {
        let hash = candidate
            .hash
            .expect("a change is indexed only once it has a hash");
        let deps = self.dep_nodes(&candidate.deps);
        let before = self.past_roles(&candidate.deps);
        let index = self.nodes.len() as u32;
        let mut added: Vec<u32> = Vec::new();
        for record in &candidate.records {
            let is_role = roster::is_role_record(record, |t| {
                self.records
                    .get(&t)
                    .map(|p| p.record.kind().to_owned())
                    .or_else(|| {
                        candidate
                            .records
                            .iter()
                            .find(|r| r.id() == t)
                            .map(|r| r.kind().to_owned())
                    })
            });
            if is_role {
                added.push(self.roles.len() as u32);
                self.roles.push(RoleEntry {
                    record: record.clone(),
                    before: Arc::clone(&before),
                });
            }
        }
        let roles = if added.is_empty() {
            before
        } else {
            let mut all = before.as_ref().clone();
            all.extend(added);
            Arc::new(all)
        };
        self.nodes.push(Node { deps, roles });
        self.by_hash.insert(hash, index);
        self.actor_seq.insert(candidate.actor, candidate.seq);
        for record in candidate.records {
            let id = record.id();
            match self.records.entry(id) {
                std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().nodes.push(index),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(Placed {
                        record,
                        nodes: vec![index],
                    });
                    self.order.push(id);
                }
            }
        }
    }
}
