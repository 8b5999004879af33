//! The wire shapes that serde attributes decide (untagged, flattened, tagged, skipped), pinned
//! as JSON text, and round-tripped.

use super::book::{BookEntry, BookList, Listed};
use super::node::{Quarantine, QuarantinedBook};
use crate::enterprise::TransferStatus;
use crate::kind::Role;
use crate::money::Money;
use crate::view::Status;
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
        TransferStatus::AwaitingApproval { have: 1, need: 2 },
        TransferStatus::Sent,
        TransferStatus::Overdue { days: 3 },
        TransferStatus::ReceivedInFull { received },
        TransferStatus::ReceivedWithDifference {
            received,
            difference: received,
        },
    ] {
        let v = serde_json::to_value(&state).unwrap();
        assert_eq!(v["state"], state.name());
        assert_eq!(serde_json::from_value::<TransferStatus>(v).unwrap(), state);
    }
    let v = serde_json::to_value(Status::Pending { have: 1, need: 2 }).unwrap();
    assert_eq!(v, json!({"state": "pending", "have": 1, "need": 2}));
}

#[test]
fn a_missing_field_is_named() {
    let e = serde_json::from_value::<super::book::Submitted>(json!({})).unwrap_err();
    assert!(e.to_string().contains("missing field `id`"), "{e}");
}

#[test]
fn a_transfer_line_reads_back_from_the_json_that_names_its_group_twice() {
    use crate::enterprise::TransferLine;
    use crate::kind::Transfer;
    use crate::record::{BookId, RecordId};
    let php = Money::new(72_000, "PHP".parse().unwrap());
    let group = BookId(RecordId([5; 32]));
    let line = TransferLine {
        record: RecordId([7; 32]),
        time_ms: 3,
        group,
        group_name: "Bayanihan Savers".into(),
        transfer: Transfer {
            group,
            amount: Money::new(10_000, "HKD".parse().unwrap()),
            fee: Money::new(0, "HKD".parse().unwrap()),
            rate: "7.2".into(),
            rate_source: "quote".into(),
            expected: php,
            channel: "bank".into(),
            reference: "BR-1".into(),
        },
        signed_by: Vec::new(),
        status: TransferStatus::ReceivedInFull { received: php },
        receipt: Some(RecordId([8; 32])),
    };
    let text = serde_json::to_string(&line).unwrap();
    assert_eq!(text.matches("\"group\":").count(), 2, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::from_value::<TransferLine>(v).unwrap(), line);
}
