//! A savings group (HKD) invests in a cooperative's enterprise (PHP), end to end over two real
//! nodes synced by federation: the cooperative registers the group as an investor and shares
//! the enterprise book with the group's node; the group's officers send a transfer with their
//! quorum; the cooperative's treasurer acknowledges what arrived, short of the fees; both nodes
//! reconcile it identically, and a second receipt is flagged, not counted.

#![allow(clippy::unwrap_used)]

use kaban_tests::{NodeProcess, kaban, kaban_ok};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn eventually(what: &str, f: impl FnMut() -> bool) {
    kaban_tests::eventually(what, Duration::from_secs(30), f);
}

fn transfers(d: &Path, node: &str, key: &str, book: &str) -> Option<Value> {
    let r = kaban(
        d,
        node,
        &["--key", key, "--json", "transfers", "--book", book],
    );
    r.ok.then(|| r.json())
}

#[test]
fn a_transfer_goes_out_with_quorum_and_is_reconciled_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let group = NodeProcess::start(&d.join("group"));
    let coop = NodeProcess::start(&d.join("coop"));
    let (g, c) = (group.url.clone(), coop.url.clone());
    let k = |node: &str, args: &[&str]| kaban_ok(d, node, args);

    let group_treasurer = k(&g, &["key", "new", "--out", "gt.key"]);
    let group_chair = k(&g, &["key", "new", "--out", "gc.key"]);
    k(&c, &["key", "new", "--out", "ct.key"]);
    let coop_chair = k(&c, &["key", "new", "--out", "cc.key"]);
    let savings = k(
        &g,
        &[
            "--key",
            "gt.key",
            "book",
            "create",
            "--name",
            "Bayanihan Savers",
            "--currency",
            "HKD",
            "--officer",
            &format!("{group_chair}:chair"),
        ],
    );
    let enterprise = k(
        &c,
        &[
            "--key",
            "ct.key",
            "book",
            "create",
            "--name",
            "Bukid Organic Farm",
            "--currency",
            "PHP",
            "--officer",
            &format!("{coop_chair}:chair"),
            "--country",
            "PH",
            "--sector",
            "organic rice farming",
        ],
    );

    // The cooperative registers the group and its officers, with its own quorum of two.
    let investor = k(
        &c,
        &[
            "--key",
            "ct.key",
            "investor",
            "--book",
            &enterprise,
            "--group",
            &savings,
            "--name",
            "Bayanihan Savers",
            "--currency",
            "HKD",
            "--officer",
            &group_treasurer,
            "--officer",
            &group_chair,
            "--quorum",
            "2",
        ],
    );
    k(
        &c,
        &[
            "--key",
            "cc.key",
            "approve",
            "--book",
            &enterprise,
            "--record",
            &investor,
        ],
    );

    // ... and shares the enterprise book with the group's node, which accepts the invite.
    let share = kaban(
        d,
        &c,
        &[
            "--key",
            "ct.key",
            "--json",
            "share",
            "--book",
            &enterprise,
            "--peer",
            &group.node_id,
        ],
    )
    .json();
    k(
        &c,
        &[
            "--key",
            "cc.key",
            "approve",
            "--book",
            &enterprise,
            "--record",
            share["record"].as_str().unwrap(),
        ],
    );
    let token = d.join("group/admin-token");
    k(
        &g,
        &[
            "--admin-token",
            token.to_str().unwrap(),
            "peer",
            "join",
            share["code"].as_str().unwrap(),
        ],
    );
    eventually("the enterprise book reaches the group's node", || {
        transfers(d, &g, "gt.key", &enterprise).is_some_and(|v| v["investors"][0]["quorum"] == 2)
    });

    // The group's treasurer records the transfer on the group's own node.
    let transfer = k(
        &g,
        &[
            "--key",
            "gt.key",
            "transfer",
            "--book",
            &enterprise,
            "--group",
            &savings,
            "--amount",
            "10000",
            "--fee",
            "50",
            "--rate",
            "7.185",
            "--rate-source",
            "remittance quote 2026-11-28",
            "--expected",
            "71850",
            "--channel",
            "bank remittance",
            "--reference",
            "BR-1128",
        ],
    );
    eventually(
        "the cooperative sees the transfer, awaiting approval",
        || {
            transfers(d, &c, "ct.key", &enterprise)
                .is_some_and(|v| v["transfers"][0]["status"]["state"] == "awaiting_approval")
        },
    );
    // Without its quorum no money has moved.
    let v = transfers(d, &c, "ct.key", &enterprise).unwrap();
    assert_eq!(v["investors"][0]["sent"]["minor"], 0, "{v}");

    k(
        &g,
        &[
            "--key",
            "gc.key",
            "approve",
            "--book",
            &enterprise,
            "--record",
            &transfer,
        ],
    );
    eventually("the cooperative sees the transfer sent", || {
        transfers(d, &c, "ct.key", &enterprise)
            .is_some_and(|v| v["transfers"][0]["status"]["state"] == "sent")
    });

    // Only the cooperative's treasurer acknowledges it.
    let r = kaban(
        d,
        &c,
        &[
            "--key",
            "cc.key",
            "receipt",
            "--book",
            &enterprise,
            "--transfer",
            &transfer,
            "--received",
            "71500",
        ],
    );
    assert!(!r.ok);
    assert!(r.stderr.contains("treasurer"), "{}", r.stderr);
    let receipt = k(
        &c,
        &[
            "--key",
            "ct.key",
            "receipt",
            "--book",
            &enterprise,
            "--transfer",
            &transfer,
            "--received",
            "71500",
        ],
    );
    eventually("the group sees what arrived", || {
        transfers(d, &g, "gt.key", &enterprise)
            .is_some_and(|v| v["transfers"][0]["status"]["state"] == "received_with_difference")
    });
    let at_group = transfers(d, &g, "gt.key", &enterprise).unwrap();
    let line = &at_group["transfers"][0];
    assert_eq!(line["status"]["difference"]["minor"], -35_000, "{line}");
    assert_eq!(line["receipt"], receipt.as_str());
    assert_eq!(at_group["investors"][0]["sent"]["minor"], 1_000_000);
    assert_eq!(at_group["investors"][0]["received"]["minor"], 7_150_000);

    // A second receipt is flagged on both sides and not counted.
    k(
        &c,
        &[
            "--key",
            "ct.key",
            "receipt",
            "--book",
            &enterprise,
            "--transfer",
            &transfer,
            "--received",
            "71850",
        ],
    );
    eventually("both nodes agree, second receipt flagged", || {
        let (a, b) = (
            transfers(d, &g, "gt.key", &enterprise),
            transfers(d, &c, "ct.key", &enterprise),
        );
        a.is_some() && a == b && a.unwrap()["anomalies"][0]["kind"] == "second_receipt"
    });
    let v = transfers(d, &c, "ct.key", &enterprise).unwrap();
    assert_eq!(v["investors"][0]["received"]["minor"], 7_150_000);
}
