//! The wire shapes that serde attributes decide (untagged, flattened, tagged, skipped), pinned
//! as JSON text, and round-tripped.

use super::book::{BookEntry, BookList, Listed};
use super::enterprise::TransferState;
use super::node::{Quarantine, QuarantinedBook};
use super::views::EntryState;
use crate::kind::Role;
use crate::money::Money;
use serde_json::json;

#[test]
fn quarantine_is_a_list_for_the_operator_and_a_count_for_anyone_else() {
    let count: Quarantine = serde_json::from_value(json!(2)).unwrap();
    assert_eq!(count, Quarantine::Count(2));
    let list: Quarantine = serde_json::from_value(json!([{"book": "b", "reason": "r"}])).unwrap();
    assert_eq!(
        list,
        Quarantine::Books(vec![QuarantinedBook {
            book: "b".into(),
            reason: "r".into()
        }])
    );
    assert_eq!(serde_json::to_value(&count).unwrap(), json!(2));
}

#[test]
fn a_listed_book_carries_roles_or_membership_only_when_it_has_them() {
    let entry = BookEntry {
        book: "b1".into(),
        name: "Sampaguita".into(),
        currency: Some("HKD".into()),
        record_count: 3,
        enterprise: false,
    };
    let plain = Listed {
        book: entry.clone(),
        roles: None,
        member: None,
    };
    assert_eq!(
        serde_json::to_value(&plain).unwrap(),
        json!({"book": "b1", "name": "Sampaguita", "currency": "HKD", "record_count": 3, "enterprise": false})
    );
    let officer = Listed {
        book: entry,
        roles: Some(vec![Role::Treasurer]),
        member: None,
    };
    let list = BookList {
        books: vec![plain, officer],
    };
    let back: BookList = serde_json::from_value(serde_json::to_value(&list).unwrap()).unwrap();
    assert_eq!(back, list);
}

#[test]
fn states_are_tagged_by_their_wire_names() {
    let received = Money::new(500, "HKD".parse().unwrap());
    for state in [
        TransferState::AwaitingApproval { have: 1, need: 2 },
        TransferState::Sent,
        TransferState::Overdue { days: 3 },
        TransferState::ReceivedInFull { received },
        TransferState::ReceivedWithDifference {
            received,
            difference: received,
        },
    ] {
        let v = serde_json::to_value(&state).unwrap();
        assert_eq!(v["state"], state.name());
        assert_eq!(serde_json::from_value::<TransferState>(v).unwrap(), state);
    }
    let v = serde_json::to_value(EntryState::Pending { have: 1, need: 2 }).unwrap();
    assert_eq!(v, json!({"state": "pending", "have": 1, "need": 2}));
}

#[test]
fn a_missing_field_is_named() {
    let e = serde_json::from_value::<super::book::Submitted>(json!({})).unwrap_err();
    assert!(e.to_string().contains("missing field `id`"), "{e}");
}
