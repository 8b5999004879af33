//! Record kinds: what each kind of record says, who may sign it, and how many signatures it
//! needs before it takes effect.
//!
//! [`Kind`] is the one table of what this build knows of each kind: its wire name, the roles
//! that may sign it, its default quorum, and which books hold it. A body is parsed into its typed
//! form when the record is decoded, and checked for the limits a person could break (empty
//! names, non-positive amounts, over-long text). A kind this build does not know is kept as
//! [`Body::Unknown`] so that a newer node can federate with this one.

mod enterprise;
mod limits;
mod people;
mod savings;
mod shape;

pub use enterprise::{
    CoopMembers, Indicator, Investor, Jobs, Membership, Narrative, Period, Principle, Receipt,
    Report, Return, ReturnReceipt, Transfer,
};
pub use limits::{
    MAX_LIST_ITEMS, MAX_NAME_CHARS, MAX_NARRATIVE_CHARS, MAX_QUORUM, MAX_RATE_DECIMALS,
    MAX_TEXT_CHARS, is_date,
};
pub use people::{MemberId, MemberIdError, Role};
pub use savings::{
    Approval, Contribution, Departure, Distribution, Enterprise, Genesis, Investment, Meeting,
    MemberJoin, Officer, Reversal, RoleChange, Rules, Settlement, Share, StakeRule, Withdrawal,
};

use crate::record::RecordId;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::convert::Infallible;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("{0}")]
    Json(String),
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} has more than {max} items")]
    TooMany { field: &'static str, max: usize },
    #[error("amount must be positive, got {0}")]
    NotPositive(i64),
    #[error("quorum for {kind} is {quorum}; it must be between 1 and {max}")]
    Quorum { kind: String, quorum: u32, max: u32 },
    #[error(
        "quorum for {kind} is {quorum} but the genesis names only {officers} officers, so it could never be reached"
    )]
    QuorumUnreachable {
        kind: String,
        quorum: u32,
        officers: usize,
    },
    #[error("genesis names no treasurer")]
    NoTreasurer,
    #[error("date {0:?} is not a calendar date YYYY-MM-DD")]
    Date(String),
    #[error("peer {0:?} is not a libp2p PeerId in base58")]
    Peer(String),
}

/// A kind of record, as this build knows it. Records carry their kind as a wire name; this is
/// its typed reading, so that a misspelt kind in the code is a compile error rather than a kind
/// any officer may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Genesis,
    MemberJoin,
    RoleGrant,
    RoleRevoke,
    Meeting,
    Contribution,
    Withdrawal,
    Approval,
    Reversal,
    Share,
    Unshare,
    Investor,
    Transfer,
    Receipt,
    Report,
    Return,
    ReturnReceipt,
    Distribution,
    Departure,
    Membership,
    Investment,
    /// A kind this build does not know. Any role may sign it and its quorum is 1, so that a
    /// newer node's records are kept and synced by this one (SPEC section 4, "any other").
    Unknown,
}

/// Which books may hold a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Books {
    /// Savings and enterprise books alike.
    Any,
    /// Only a savings book: what the group does with its members' money.
    Savings,
    /// Only an enterprise book: the cooperative's side, and its investor groups'.
    Enterprise,
}

/// One row of the kind table.
#[derive(Debug, Clone, Copy)]
struct Row {
    name: Option<&'static str>,
    signers: &'static [Role],
    quorum: u32,
    fixed: Option<&'static str>,
    books: Books,
}

impl Row {
    const fn new(name: &'static str, signers: &'static [Role], quorum: u32, books: Books) -> Row {
        Row {
            name: Some(name),
            signers,
            quorum,
            fixed: None,
            books,
        }
    }

    const fn fixed(self, why: &'static str) -> Row {
        Row {
            fixed: Some(why),
            ..self
        }
    }
}

const OFFICERS: &[Role] = &[Role::Treasurer, Role::Chair, Role::Secretary];
const TREASURER: &[Role] = &[Role::Treasurer];
/// An investor group's officers, for the records they sign for their group; which group,
/// validation checks.
const INVESTOR: &[Role] = &[Role::Investor];
const ANY_ROLE: &[Role] = &[
    Role::Treasurer,
    Role::Chair,
    Role::Secretary,
    Role::KeyHolder,
    Role::Investor,
];

impl Kind {
    /// Every kind this build knows, in the order of the table.
    pub const KNOWN: [Kind; 21] = [
        Kind::Genesis,
        Kind::MemberJoin,
        Kind::RoleGrant,
        Kind::RoleRevoke,
        Kind::Meeting,
        Kind::Contribution,
        Kind::Withdrawal,
        Kind::Approval,
        Kind::Reversal,
        Kind::Share,
        Kind::Unshare,
        Kind::Investor,
        Kind::Transfer,
        Kind::Receipt,
        Kind::Report,
        Kind::Return,
        Kind::ReturnReceipt,
        Kind::Distribution,
        Kind::Departure,
        Kind::Membership,
        Kind::Investment,
    ];

    /// The table: everything the protocol says of a kind apart from its body, in one place.
    const fn row(self) -> Row {
        use Books::{Any, Enterprise, Savings};
        match self {
            // A genesis is checked against the officers it names, not a roster, so its signer
            // roles are never asked; it keeps the unknown kinds' answer.
            Kind::Genesis => Row::new("genesis", ANY_ROLE, 1, Any)
                .fixed("a genesis founds the book and takes effect alone"),
            Kind::MemberJoin => Row::new("member_join", OFFICERS, 1, Any),
            Kind::RoleGrant => Row::new("role_grant", OFFICERS, 2, Any),
            Kind::RoleRevoke => Row::new("role_revoke", OFFICERS, 2, Any),
            Kind::Meeting => Row::new("meeting", OFFICERS, 1, Any),
            Kind::Contribution => Row::new("contribution", OFFICERS, 1, Any),
            Kind::Withdrawal => Row::new("withdrawal", TREASURER, 2, Any),
            Kind::Approval => {
                Row::new("approval", ANY_ROLE, 1, Any).fixed("an approval is one signature")
            }
            Kind::Reversal => Row::new("reversal", OFFICERS, 2, Any),
            Kind::Share => Row::new("share", OFFICERS, 2, Any),
            Kind::Unshare => Row::new("unshare", OFFICERS, 1, Any),
            Kind::Investor => Row::new("investor", OFFICERS, 2, Enterprise),
            Kind::Transfer => Row::new("transfer", INVESTOR, 2, Enterprise)
                .fixed("a transfer takes the quorum its investor group registered"),
            Kind::Receipt => Row::new("receipt", TREASURER, 1, Enterprise),
            Kind::Report => Row::new("report", OFFICERS, 2, Enterprise),
            Kind::Return => Row::new("return", TREASURER, 2, Enterprise),
            Kind::ReturnReceipt => Row::new("return_receipt", INVESTOR, 1, Enterprise),
            Kind::Distribution => Row::new("distribution", TREASURER, 2, Savings),
            Kind::Departure => Row::new("departure", TREASURER, 2, Savings),
            Kind::Membership => Row::new("membership", OFFICERS, 2, Enterprise),
            Kind::Investment => Row::new("investment", TREASURER, 2, Savings),
            Kind::Unknown => Row {
                name: None,
                signers: ANY_ROLE,
                quorum: 1,
                fixed: None,
                books: Any,
            },
        }
    }

    /// The kind a wire name names; [`Kind::Unknown`] for a name this build does not know.
    pub fn of(name: &str) -> Kind {
        Kind::KNOWN
            .into_iter()
            .find(|k| k.as_str() == Some(name))
            .unwrap_or(Kind::Unknown)
    }

    /// The wire name, or `None` for [`Kind::Unknown`], whose name is whatever its record says
    /// (`Body::kind` and `Record::kind` keep it).
    pub const fn as_str(self) -> Option<&'static str> {
        self.row().name
    }

    /// Which roles may sign a record of this kind. Unknown kinds may be signed by any officer,
    /// so that they are kept and synced between versions.
    pub const fn signers(self) -> &'static [Role] {
        self.row().signers
    }

    /// The default number of distinct officer signatures a record of this kind needs, the
    /// record's own signature included; a book's rules may set another (see [`Rules::quorum`]).
    pub const fn default_quorum(self) -> u32 {
        self.row().quorum
    }

    /// Why a genesis may not set the quorum of this kind, if it may not: a genesis takes effect
    /// alone, an approval is one signature, and a transfer's quorum is its investor group's.
    pub const fn fixed_quorum(self) -> Option<&'static str> {
        self.row().fixed
    }

    /// Which books may hold a record of this kind.
    pub const fn books(self) -> Books {
        self.row().books
    }
}

impl FromStr for Kind {
    type Err = Infallible;
    /// Never fails: a name this build does not know is [`Kind::Unknown`].
    fn from_str(name: &str) -> Result<Kind, Infallible> {
        Ok(Kind::of(name))
    }
}

/// The typed body of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Genesis(Genesis),
    MemberJoin(MemberJoin),
    RoleGrant(RoleChange),
    RoleRevoke(RoleChange),
    Meeting(Meeting),
    Contribution(Contribution),
    Withdrawal(Withdrawal),
    Approval(Approval),
    Reversal(Reversal),
    Share(Share),
    Unshare(Share),
    Investor(Investor),
    Transfer(Transfer),
    Receipt(Receipt),
    Report(Report),
    Return(Return),
    ReturnReceipt(ReturnReceipt),
    Distribution(Distribution),
    Departure(Departure),
    Membership(Membership),
    Investment(Investment),
    /// A kind this build does not know, kept verbatim.
    Unknown {
        kind: String,
        body: Value,
    },
}

impl Body {
    /// The kind's wire name; an unknown kind's is the one its record carried.
    pub fn kind(&self) -> &str {
        match self {
            Body::Unknown { kind, .. } => kind,
            known => known
                .typed_kind()
                .as_str()
                .expect("every body but Unknown has a kind this build knows"),
        }
    }

    /// The kind, typed.
    pub fn typed_kind(&self) -> Kind {
        match self {
            Body::Genesis(_) => Kind::Genesis,
            Body::MemberJoin(_) => Kind::MemberJoin,
            Body::RoleGrant(_) => Kind::RoleGrant,
            Body::RoleRevoke(_) => Kind::RoleRevoke,
            Body::Meeting(_) => Kind::Meeting,
            Body::Contribution(_) => Kind::Contribution,
            Body::Withdrawal(_) => Kind::Withdrawal,
            Body::Approval(_) => Kind::Approval,
            Body::Reversal(_) => Kind::Reversal,
            Body::Share(_) => Kind::Share,
            Body::Unshare(_) => Kind::Unshare,
            Body::Investor(_) => Kind::Investor,
            Body::Transfer(_) => Kind::Transfer,
            Body::Receipt(_) => Kind::Receipt,
            Body::Report(_) => Kind::Report,
            Body::Return(_) => Kind::Return,
            Body::ReturnReceipt(_) => Kind::ReturnReceipt,
            Body::Distribution(_) => Kind::Distribution,
            Body::Departure(_) => Kind::Departure,
            Body::Membership(_) => Kind::Membership,
            Body::Investment(_) => Kind::Investment,
            Body::Unknown { .. } => Kind::Unknown,
        }
    }

    /// The record another record refers to, if this kind refers to one.
    pub fn target(&self) -> Option<RecordId> {
        match self {
            Body::Approval(a) => Some(a.record),
            Body::Reversal(r) => Some(r.record),
            Body::Receipt(r) => Some(r.transfer),
            Body::ReturnReceipt(r) => Some(r.return_record),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        let v = match self {
            Body::Genesis(b) => serde_json::to_value(b),
            Body::MemberJoin(b) => serde_json::to_value(b),
            Body::RoleGrant(b) | Body::RoleRevoke(b) => serde_json::to_value(b),
            Body::Meeting(b) => serde_json::to_value(b),
            Body::Contribution(b) => serde_json::to_value(b),
            Body::Withdrawal(b) => serde_json::to_value(b),
            Body::Approval(b) => serde_json::to_value(b),
            Body::Reversal(b) => serde_json::to_value(b),
            Body::Share(b) | Body::Unshare(b) => serde_json::to_value(b),
            Body::Investor(b) => serde_json::to_value(b),
            Body::Transfer(b) => serde_json::to_value(b),
            Body::Receipt(b) => serde_json::to_value(b),
            Body::Report(b) => serde_json::to_value(b),
            Body::Return(b) => serde_json::to_value(b),
            Body::ReturnReceipt(b) => serde_json::to_value(b),
            Body::Distribution(b) => serde_json::to_value(b),
            Body::Departure(b) => serde_json::to_value(b),
            Body::Membership(b) => serde_json::to_value(b),
            Body::Investment(b) => serde_json::to_value(b),
            Body::Unknown { body, .. } => return body.clone(),
        };
        v.expect("typed bodies always serialize")
    }

    pub fn from_value(kind: &str, value: Value) -> Result<Body, BodyError> {
        let original = value.clone();
        fn parse<T: DeserializeOwned>(v: Value) -> Result<T, BodyError> {
            // Optional members are omitted, never null (SPEC section 4): serde would read a null
            // as absent, which would give one logical body two encodings.
            if let Value::Object(map) = &v
                && let Some((name, _)) = map.iter().find(|(_, v)| v.is_null())
            {
                return Err(BodyError::Json(format!(
                    "member {name:?} is null; leave an optional member out instead"
                )));
            }
            serde_json::from_value(v).map_err(|e| BodyError::Json(e.to_string()))
        }
        let body = match Kind::of(kind) {
            Kind::Genesis => Body::Genesis(parse(value)?),
            Kind::MemberJoin => Body::MemberJoin(parse(value)?),
            Kind::RoleGrant => Body::RoleGrant(parse(value)?),
            Kind::RoleRevoke => Body::RoleRevoke(parse(value)?),
            Kind::Meeting => Body::Meeting(parse(value)?),
            Kind::Contribution => Body::Contribution(parse(value)?),
            Kind::Withdrawal => Body::Withdrawal(parse(value)?),
            Kind::Approval => Body::Approval(parse(value)?),
            Kind::Reversal => Body::Reversal(parse(value)?),
            Kind::Share => Body::Share(parse(value)?),
            Kind::Unshare => Body::Unshare(parse(value)?),
            Kind::Investor => Body::Investor(parse(value)?),
            Kind::Transfer => Body::Transfer(parse(value)?),
            Kind::Receipt => Body::Receipt(parse(value)?),
            Kind::Report => Body::Report(parse(value)?),
            Kind::Return => Body::Return(parse(value)?),
            Kind::ReturnReceipt => Body::ReturnReceipt(parse(value)?),
            Kind::Distribution => Body::Distribution(parse(value)?),
            Kind::Departure => Body::Departure(parse(value)?),
            Kind::Membership => Body::Membership(parse(value)?),
            Kind::Investment => Body::Investment(parse(value)?),
            Kind::Unknown => Body::Unknown {
                kind: kind.to_owned(),
                body: value,
            },
        };
        if !matches!(body, Body::Unknown { .. }) {
            shape::same_shape(&original, &body.to_value(), "body")?;
        }
        body.check()?;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{PublicKey, SignerKey};
    use serde_json::json;

    fn key(n: u8) -> PublicKey {
        SignerKey::from_seed([n; 32]).public()
    }

    #[test]
    fn genesis_refuses_unreachable_quorums() {
        let v = json!({
            "name": "Bayanihan Savers",
            "currency": "HKD",
            "rules": {"quorum": {}},
            "officers": [{"key": key(1).to_string(), "roles": ["treasurer"]}],
        });
        assert!(matches!(
            Body::from_value("genesis", v),
            Err(BodyError::QuorumUnreachable {
                quorum: 2,
                officers: 1,
                ..
            })
        ));
        let v = json!({
            "name": "Bayanihan Savers",
            "currency": "HKD",
            "rules": {"quorum": {"withdrawal": 3}},
            "officers": [
                {"key": key(1).to_string(), "roles": ["treasurer"]},
                {"key": key(2).to_string(), "roles": ["key_holder"]},
            ],
        });
        assert!(matches!(
            Body::from_value("genesis", v),
            Err(BodyError::QuorumUnreachable { quorum: 3, .. })
        ));
    }

    #[test]
    fn refuses_bad_bodies_with_named_fields() {
        let amount = json!({"currency": "HKD", "minor": 0});
        assert_eq!(
            Body::from_value("contribution", json!({"member": "m-ana", "amount": amount})),
            Err(BodyError::NotPositive(0))
        );
        let err = Body::from_value(
            "contribution",
            json!({"member": "m-ana", "amount": {"currency": "XXX", "minor": 5}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("XXX"), "{err}");
        assert_eq!(
            Body::from_value("meeting", json!({"date": "2026-13-01"})),
            Err(BodyError::Date("2026-13-01".into()))
        );
        assert_eq!(
            Body::from_value("member_join", json!({"member": "m-ana", "alias": " "})),
            Err(BodyError::Empty { field: "alias" })
        );
        assert!(matches!(
            Body::from_value("share", json!({"peer": "0OIl"})),
            Err(BodyError::Peer(_))
        ));
    }

    #[test]
    fn dates_are_real_calendar_dates() {
        for good in ["2028-02-29", "2000-02-29", "2026-12-31", "0001-01-01"] {
            assert!(is_date(good), "{good}");
        }
        for bad in [
            "2027-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-00-10",
            "2026-1-01",
            "2026-12-32",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn null_is_refused_inside_extra_members_too() {
        let v = json!({"member": "m-ana", "alias": "Ana", "extra": {"deep": [1, null]}});
        let err = Body::from_value("member_join", v).unwrap_err();
        assert!(err.to_string().contains("holds null"), "{err}");
        let v = json!({"member": "m-ana", "alias": "Ana", "extra": {"deep": [1, {"x": 0}]}});
        Body::from_value("member_join", v).unwrap();
    }

    #[test]
    fn a_null_optional_member_is_refused() {
        let v = json!({"member": "m-ana", "alias": "Ana", "key": null});
        let err = Body::from_value("member_join", v).unwrap_err();
        assert!(err.to_string().contains("\"key\" is null"), "{err}");
    }

    #[test]
    fn a_body_has_one_shape() {
        let id = "ab".repeat(32);
        let wrong = [
            ("approval", json!([id])),
            (
                "contribution",
                json!({"member": "m-ana", "amount": ["HKD", 500]}),
            ),
            (
                "role_grant",
                json!({"key": SignerKey::from_seed([1; 32]).public().to_string(), "role": {"treasurer": null}}),
            ),
            (
                "contribution",
                json!({"member": "m-ana", "amount": {"currency": "HKD", "minor": 500, "fx": null}}),
            ),
        ];
        for (kind, v) in wrong {
            let err = Body::from_value(kind, v.clone()).unwrap_err();
            assert!(matches!(err, BodyError::Json(_)), "{kind} {v}: {err}");
        }
        // Members this version does not define are kept, at any depth.
        let v = json!({"member": "m-ana", "note": "late", "amount": {"currency": "HKD", "minor": 500, "fx": "1.0"}});
        assert!(Body::from_value("contribution", v).is_ok());
    }

    #[test]
    fn unknown_kinds_are_kept_verbatim() {
        let v = json!({"anything": [1, 2, 3]});
        let body = Body::from_value("loan_offer", v.clone()).unwrap();
        assert_eq!(body.kind(), "loan_offer");
        assert_eq!(body.to_value(), v);
        assert_eq!(Kind::of("loan_offer").signers().len(), 5);
    }

    #[test]
    fn every_kind_round_trips_through_its_wire_name() {
        for kind in Kind::KNOWN {
            let name = kind.as_str().expect("a known kind has a wire name");
            assert_eq!(Kind::of(name), kind, "{name}");
            assert_eq!(name.parse::<Kind>(), Ok(kind), "{name}");
        }
        let names: std::collections::BTreeSet<_> =
            Kind::KNOWN.iter().filter_map(|k| k.as_str()).collect();
        assert_eq!(names.len(), Kind::KNOWN.len(), "wire names are distinct");
        // Every variant but Unknown is listed: the match fails to compile when a variant is
        // added, and the assertion fails when it is not listed.
        for kind in Kind::KNOWN.into_iter().chain([Kind::Unknown]) {
            let listed = match kind {
                Kind::Unknown => false,
                Kind::Genesis
                | Kind::MemberJoin
                | Kind::RoleGrant
                | Kind::RoleRevoke
                | Kind::Meeting
                | Kind::Contribution
                | Kind::Withdrawal
                | Kind::Approval
                | Kind::Reversal
                | Kind::Share
                | Kind::Unshare
                | Kind::Investor
                | Kind::Transfer
                | Kind::Receipt
                | Kind::Report
                | Kind::Return
                | Kind::ReturnReceipt
                | Kind::Distribution
                | Kind::Departure
                | Kind::Membership
                | Kind::Investment => true,
            };
            assert_eq!(Kind::KNOWN.contains(&kind), listed, "{kind:?}");
        }
    }

    #[test]
    fn an_unknown_name_is_the_unknown_kind_any_role_may_sign() {
        for name in ["loan_offer", "withdrawl", "Withdrawal", "unknown", ""] {
            let kind = Kind::of(name);
            assert_eq!(kind, Kind::Unknown, "{name:?}");
            assert_eq!(kind.as_str(), None);
            assert_eq!(kind.signers(), Role::ALL.as_slice());
            assert_eq!(kind.default_quorum(), 1);
            assert_eq!(kind.fixed_quorum(), None);
            assert_eq!(kind.books(), Books::Any);
        }
    }

    #[test]
    fn every_body_is_of_the_kind_its_name_says() {
        let v = json!({"anything": true});
        let unknown = Body::from_value("loan_offer", v).unwrap();
        assert_eq!(unknown.typed_kind(), Kind::Unknown);
        assert_eq!(Kind::of(unknown.kind()), Kind::Unknown);
        let id = "ab".repeat(32);
        let approval = Body::from_value("approval", json!({"record": id})).unwrap();
        assert_eq!(approval.typed_kind(), Kind::Approval);
        assert_eq!(approval.kind(), "approval");
    }
}
