use automerge::legacy::{Key, ObjectId, Op, OpType, SortedVec};
use automerge::{ActorId, Automerge, Change, ExpandedChange, ScalarValue};
use sha2::{Digest, Sha256};
use std::num::NonZeroU64;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10000);
    let mode = std::env::args().nth(2).unwrap_or("unique".into());
    let mut doc = Automerge::new();
    let mut heads = vec![];
    let t = Instant::now();
    let mut bytes_total = 0;
    for i in 0..n {
        let id: [u8; 32] = Sha256::digest(format!("r{i}")).into();
        let (actor, seq) = if mode == "unique" {
            (ActorId::from(&id[..]), 1)
        } else {
            (ActorId::from(&[7u8; 16][..]), i as u64 + 1)
        };
        let start = if mode == "unique" { 1 } else { i as u64 + 1 };
        let ch = ExpandedChange {
            operations: vec![Op {
                action: OpType::Put(ScalarValue::Bytes(vec![b'x'; 300])),
                obj: ObjectId::Root,
                key: Key::Map(hex(&id).into()),
                pred: SortedVec::new(),
                insert: false,
            }],
            actor_id: actor,
            hash: None,
            seq,
            start_op: NonZeroU64::new(start).unwrap(),
            time: 0,
            message: None,
            deps: heads.clone(),
            extra_bytes: vec![],
            author: None,
        };
        let c = Change::from(ch);
        bytes_total += c.raw_bytes().len();
        heads = vec![c.hash()];
        doc.apply_changes(vec![c]).unwrap();
        if (i + 1) % (n / 5) == 0 {
            println!("{} changes: {:?}", i + 1, t.elapsed());
        }
    }
    let s = doc.save();
    println!(
        "change bytes per record {}, saved {} bytes ({} per record)",
        bytes_total / n,
        s.len(),
        s.len() / n
    );
    let t = Instant::now();
    let d = Automerge::load(&s).unwrap();
    println!("load {:?} heads {}", t.elapsed(), d.get_heads().len());
}
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
