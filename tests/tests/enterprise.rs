//! The journey from a savings group to a cooperative and back, end to end over two real nodes
//! synced by federation, driven through the `kaban` command line as officers would:
//!
//! - the cooperative (PHP) registers the group (HKD) as an investor and shares the enterprise
//!   book with the group's node;
//! - the group's officers send a transfer: without its quorum it moves no money, with it the
//!   group's cash falls and the portfolio shows it invested;
//! - only the cooperative's treasurer acknowledges it, short of the fees; a second receipt is
//!   flagged, not counted;
//! - a report, a return, its receipt, and the distribution to 7 members whose stakes do not
//!   divide it evenly; a replayed distribution pays nothing;
//! - two members leave: one paid out, one converting her stake into cooperative membership,
//!   recorded on both sides;
//! - every view of the shared enterprise book is identical on both nodes, the money reconciles
//!   to the minor unit in both currencies, and the exports say the same.

#![allow(clippy::unwrap_used)]

use kaban_protocol::key::SignerKey;
use kaban_tests::{Http, NodeProcess, kaban, kaban_ok};
use serde_json::{Value, json};
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
fn the_journey_from_group_to_cooperative_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let group = NodeProcess::start(&d.join("group"));
    let coop = NodeProcess::start(&d.join("coop"));
    let (g, c) = (group.url.clone(), coop.url.clone());
    let k = |node: &str, args: &[&str]| kaban_ok(d, node, args);
    // A view as JSON, read by the holder of `key` on `node`.
    let view = |node: &str, key: &str, args: &[&str]| -> Value {
        let mut all = vec!["--key", key, "--json"];
        all.extend_from_slice(args);
        kaban(d, node, &all).json()
    };
    let minor = |v: &Value| v["minor"].as_i64().unwrap();

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
            "--setup-code",
            group.setup_code.as_deref().unwrap(),
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
            "--setup-code",
            coop.setup_code.as_deref().unwrap(),
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

    // Seven members save unevenly.
    let members = [
        ("m-ana", "Ana", "500"),
        ("m-bea", "Bea", "300"),
        ("m-cora", "Cora", "300"),
        ("m-dina", "Dina", "123.45"),
        ("m-ella", "Ella", "100"),
        ("m-fe", "Fe", "7.77"),
        ("m-gina", "Gina", "0.01"),
    ];
    for (member, alias, amount) in members {
        k(
            &g,
            &[
                "--key", "gt.key", "member", "add", "--book", &savings, "--alias", alias,
                "--member", member,
            ],
        );
        k(
            &g,
            &[
                "--key",
                "gt.key",
                "contribute",
                "--book",
                &savings,
                "--member",
                member,
                "--amount",
                amount,
            ],
        );
    }
    let saved = 133_123; // HKD 1,331.23
    let portfolio = || view(&g, "gt.key", &["portfolio", "--book", &savings]);
    assert_eq!(minor(&portfolio()["cash"]), saved);

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

    // The group's own officers accept the book before it counts in the group's money: until
    // then the portfolio lists it as unaccepted and holds nothing.
    let p = portfolio();
    assert_eq!(p["unaccepted"][0]["enterprise"], enterprise, "{p}");
    assert_eq!(p["holdings"].as_array().unwrap().len(), 0, "{p}");
    let accept = kaban(
        d,
        &g,
        &[
            "--key",
            "gt.key",
            "--json",
            "invest",
            "--book",
            &savings,
            "--enterprise",
            &enterprise,
        ],
    )
    .json();
    k(
        &g,
        &[
            "--key",
            "gc.key",
            "approve",
            "--book",
            &savings,
            "--record",
            accept["record"].as_str().unwrap(),
        ],
    );
    let p = portfolio();
    assert_eq!(p["holdings"][0]["enterprise"], enterprise, "{p}");
    assert_eq!(p["unaccepted"].as_array().unwrap().len(), 0, "{p}");

    // Whom the cooperative shares its book with is its own officers' to read: the group's
    // treasurer, an investor officer there, is refused; the cooperative's treasurer sees the
    // group's node as its partner.
    let key = |name: &str| {
        SignerKey::from_key_file(&std::fs::read_to_string(d.join(name)).unwrap()).unwrap()
    };
    let partners = format!("/api/v1/books/{enterprise}/partners");
    let (status, v) = Http::new(&g).get(&partners, &Http::new(&g).session(&key("gt.key")));
    assert_eq!(status, 403, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("investor group"),
        "{v}"
    );
    let (status, v) = Http::new(&c).get(&partners, &Http::new(&c).session(&key("ct.key")));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["partners"][0]["peer"], group.node_id.as_str(), "{v}");

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
            "1000",
            "--fee",
            "5",
            "--rate",
            "7.185",
            "--rate-source",
            "remittance quote 2026-11-28",
            "--expected",
            "7185",
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
    let p = portfolio();
    assert_eq!(minor(&p["cash"]), saved, "{p}");
    assert_eq!(minor(&p["invested"]), 0, "{p}");

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
    // With it, the group's cash falls by the amount and the fee, and the money shows invested.
    let p = portfolio();
    assert_eq!(minor(&p["cash"]), saved - 100_500, "{p}");
    assert_eq!(minor(&p["invested"]), 100_000, "{p}");
    assert_eq!(minor(&p["holdings"][0]["in_transit"]), 100_000, "{p}");

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
            "7150",
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
            "7150",
        ],
    );
    eventually("the group sees what arrived", || {
        transfers(d, &g, "gt.key", &enterprise)
            .is_some_and(|v| v["transfers"][0]["status"]["state"] == "received_with_difference")
    });
    let at_group = transfers(d, &g, "gt.key", &enterprise).unwrap();
    let line = &at_group["transfers"][0];
    assert_eq!(line["status"]["difference"]["minor"], -3_500, "{line}");
    assert_eq!(line["receipt"], receipt.as_str());
    assert_eq!(at_group["investors"][0]["sent"]["minor"], 100_000);
    assert_eq!(at_group["investors"][0]["received"]["minor"], 715_000);

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
            "7185",
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
    assert_eq!(v["investors"][0]["received"]["minor"], 715_000);

    continue_with_report_return_and_reintegration(&Journey {
        d,
        g: &g,
        c: &c,
        savings: &savings,
        enterprise: &enterprise,
        saved,
    });
}

struct Journey<'a> {
    d: &'a Path,
    g: &'a str,
    c: &'a str,
    savings: &'a str,
    enterprise: &'a str,
    /// What the members saved, in HKD cents.
    saved: i64,
}

impl Journey<'_> {
    fn k(&self, node: &str, args: &[&str]) -> String {
        kaban_ok(self.d, node, args).trim().to_owned()
    }

    fn view(&self, node: &str, key: &str, args: &[&str]) -> Value {
        let mut all = vec!["--key", key, "--json"];
        all.extend_from_slice(args);
        let r = kaban(self.d, node, &all);
        assert!(r.ok, "kaban {args:?}: {}", r.stderr);
        r.json()
    }

    /// Signs with `a` on `node`, then approves with `b`; returns the record id.
    fn with_quorum(&self, node: &str, book: &str, a: &str, b: &str, args: &[&str]) -> String {
        let mut all = vec!["--key", a];
        all.extend_from_slice(args);
        let id = self.k(node, &all);
        let id = id.lines().next().unwrap().to_owned();
        self.k(
            node,
            &["--key", b, "approve", "--book", book, "--record", &id],
        );
        id
    }

    fn dashboard(&self, node: &str, key: &str) -> Value {
        self.view(node, key, &["dashboard", "--book", self.enterprise])
    }

    fn portfolio(&self) -> Value {
        self.view(self.g, "gt.key", &["portfolio", "--book", self.savings])
    }

    fn statement(&self, member: &str) -> Value {
        self.view(
            self.g,
            "gt.key",
            &["statement", "--book", self.savings, "--member", member],
        )
    }

    fn export(&self, node: &str, key: &str, args: &[&str]) -> String {
        let mut all = vec!["--key", key];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--csv", "-"]);
        kaban_ok(self.d, node, &all)
    }
}

fn minor(v: &Value) -> i64 {
    v["minor"]
        .as_i64()
        .unwrap_or_else(|| panic!("not money: {v}"))
}

/// The rest of the journey, from the cooperative's report to a member going home.
fn continue_with_report_return_and_reintegration(j: &Journey<'_>) {
    let (g, c, e, s) = (j.g, j.c, j.enterprise, j.savings);

    // The cooperative reports the period, with indicators under the programme's principles.
    j.with_quorum(
        c,
        e,
        "ct.key",
        "cc.key",
        &[
            "report",
            "--book",
            e,
            "--from",
            "2026-07-01",
            "--to",
            "2026-09-30",
            "--revenue",
            "182500",
            "--costs",
            "121250.50",
            "--jobs-women",
            "9",
            "--jobs-men",
            "6",
            "--members",
            "48",
            "--returnees",
            "11",
            "--indicator",
            "ecological_sustainability:organic_hectares=12.5:ha",
            "--indicator",
            "social_justice:training_days=40:days",
            "--language",
            "fil",
            "--narrative",
            "Maayos ang ani ngayong tag-ulan; dalawang bagong miyembrong galing abroad.",
        ],
    );
    // ... declares a return, and the group acknowledges what arrived in its own currency.
    let ret = j.with_quorum(
        c,
        e,
        "ct.key",
        "cc.key",
        &[
            "return",
            "--book",
            e,
            "--group",
            s,
            "--amount",
            "432.10",
            "--channel",
            "bank remittance",
            "--reference",
            "RT-2026-Q3",
        ],
    );
    eventually("the group's node has the return", || {
        j.dashboard(g, "gt.key")["returns"][0]["status"]["state"] == "paid"
    });
    let received = 5_987; // HKD 59.87, which 7 uneven stakes do not divide evenly
    j.k(
        g,
        &[
            "--key",
            "gc.key",
            "return-receipt",
            "--book",
            e,
            "--return",
            &ret,
            "--received",
            "59.87",
        ],
    );
    let p = j.portfolio();
    assert_eq!(minor(&p["received_back"]), received, "{p}");
    assert_eq!(minor(&p["undistributed"]), received, "{p}");

    // The group distributes it by stake (the default rule: balances).
    let before: Vec<(String, i64)> = [
        "m-ana", "m-bea", "m-cora", "m-dina", "m-ella", "m-fe", "m-gina",
    ]
    .iter()
    .map(|m| (m.to_string(), minor(&j.statement(m)["position"]["stake"])))
    .collect();
    let distribute = [
        "distribute",
        "--book",
        s,
        "--enterprise",
        e,
        "--return",
        &ret,
        "--amount",
        "59.87",
    ];
    j.with_quorum(g, s, "gt.key", "gc.key", &distribute);
    let total_stake: i64 = before.iter().map(|(_, s)| s).sum();
    let mut shared = 0;
    for (member, stake) in &before {
        let st = j.statement(member);
        let got = minor(&st["position"]["returns_received"]);
        // Exact: each share is the floor of its quota or one unit more.
        let floor = received * stake / total_stake;
        assert!(
            got == floor || got == floor + 1,
            "{member}: {got} vs quota {floor}"
        );
        assert_eq!(minor(&st["position"]["balance"]), stake + got, "{member}");
        shared += got;
    }
    assert_eq!(shared, received, "the shares add up to the return exactly");
    let ana = j.statement("m-ana");
    assert!(
        minor(&ana["position"]["returns_received"])
            > minor(&j.statement("m-bea")["position"]["returns_received"])
    );

    // A replayed distribution is flagged and pays nothing.
    j.with_quorum(g, s, "gt.key", "gc.key", &distribute);
    let book = j.view(g, "gt.key", &["book", "show", "--book", s]);
    assert!(
        book["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "duplicate_distribution"),
        "{book}"
    );
    assert_eq!(j.statement("m-ana"), ana, "nobody is paid twice");
    let p = j.portfolio();
    assert_eq!(minor(&p["distributed"]), received);
    assert_eq!(minor(&p["undistributed"]), 0);

    // Reintegration: Bea goes home and takes her savings; Cora converts her stake into
    // membership of the cooperative, which records its side.
    let bea = minor(&j.statement("m-bea")["position"]["balance"]);
    // A departure settles her whole balance, nothing else.
    let r = kaban(
        j.d,
        g,
        &[
            "--key", "gt.key", "leave", "--book", s, "--member", "m-bea", "--payout", "--amount",
            "1",
        ],
    );
    assert!(!r.ok && r.stderr.contains("whole balance"), "{}", r.stderr);
    j.with_quorum(
        g,
        s,
        "gt.key",
        "gc.key",
        &["leave", "--book", s, "--member", "m-bea", "--payout"],
    );
    // Most of the group's money is in the farm: a withdrawal beyond its cash is refused.
    let r = kaban(
        j.d,
        g,
        &[
            "--key", "gt.key", "withdraw", "--book", s, "--member", "m-ana", "--amount", "400",
            "--reason", "rent",
        ],
    );
    assert!(
        !r.ok && r.stderr.contains("exceeds the group's cash"),
        "{}",
        r.stderr
    );
    let cora = minor(&j.statement("m-cora")["position"]["balance"]);
    let departure = j.with_quorum(
        g,
        s,
        "gt.key",
        "gc.key",
        &[
            "leave",
            "--book",
            s,
            "--member",
            "m-cora",
            "--convert-to",
            e,
        ],
    );
    let p = j.portfolio();
    assert_eq!(p["anomalies"][0]["kind"], "conversion_unmatched", "{p}");
    let cora_hkd = format!("{}.{:02}", cora / 100, cora % 100);
    let capital = cora * 7150 / 1000;
    let capital_php = format!("{}.{:02}", capital / 100, capital % 100);
    j.with_quorum(
        c,
        e,
        "ct.key",
        "cc.key",
        &[
            "admit",
            "--book",
            e,
            "--group",
            s,
            "--departure",
            &departure,
            "--member",
            "m-cora",
            "--stake",
            &cora_hkd,
            "--capital",
            &capital_php,
            "--rate",
            "7.15",
        ],
    );
    eventually("the group's node sees Cora admitted", || {
        j.portfolio()["anomalies"] == json!([])
    });

    // The group's position, to the cent in HKD.
    let p = j.portfolio();
    let (cash, outstanding, fees) = (
        minor(&p["cash"]),
        minor(&p["outstanding"]),
        minor(&p["fees"]),
    );
    assert_eq!(cash, j.saved - 100_000 - 500 + received - bea, "{p}");
    assert_eq!(outstanding, 100_000 - cora, "{p}");
    assert_eq!(
        minor(&p["members_balances"]),
        cash + outstanding + fees - minor(&p["undistributed"]),
        "{p}"
    );
    let balances = j.view(g, "gt.key", &["balances", "--book", s]);
    let sum: i64 = balances["members"]
        .as_object()
        .unwrap()
        .values()
        .map(|b| minor(&b[0]))
        .sum();
    assert_eq!(sum, minor(&p["members_balances"]));
    assert_eq!(balances["members"]["m-bea"][0]["minor"], 0);
    assert!(balances["stakes"].get("m-cora").is_none(), "{balances}");
    // The remaining members' shares of the enterprise add up to the group's capital there.
    let shares: i64 = ["m-ana", "m-dina", "m-ella", "m-fe", "m-gina"]
        .iter()
        .map(|m| minor(&j.statement(m)["position"]["enterprises"][0]["share"]))
        .sum();
    assert_eq!(shares, outstanding);

    // The shared enterprise book's views are identical on both nodes, and its pesos reconcile:
    // what arrived, and what was paid back.
    eventually("both nodes show the same dashboard", || {
        j.dashboard(g, "gt.key") == j.dashboard(c, "ct.key")
    });
    let dash = j.dashboard(c, "ct.key");
    assert_eq!(minor(&dash["capital_received"]), 715_000, "{dash}");
    assert_eq!(minor(&dash["returns_paid"]), 43_210, "{dash}");
    assert_eq!(dash["memberships"][0]["member"], "m-cora");
    let holding = &p["holdings"][0];
    assert_eq!(holding["capital_received"], dash["capital_received"]);
    assert_eq!(holding["returns_paid"], dash["returns_paid"]);
    assert_eq!(minor(&dash["reports"][0]["surplus"]), 6_124_950);
    let impact = |node: &str, key: &str| j.view(node, key, &["impact"]);
    assert_eq!(impact(g, "gt.key"), impact(c, "ct.key"));
    let rows = impact(c, "ct.key")["indicators"].clone();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["indicator"] == "organic_hectares"
                && r["principle"] == "ecological_sustainability"
                && r["value"] == 125
                && r["decimals"] == 1),
        "{rows}"
    );

    // Exports: CSV of every view, and a printable statement in the member's language.
    let csv = j.export(g, "gt.key", &["portfolio", "--book", s]);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("enterprise,name,country,currency,invested,")
    );
    let total_row: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    assert_eq!(total_row[0], "all");
    assert_eq!(total_row[4], "1000.00", "{csv}");
    for (node, key, args) in [
        (c, "ct.key", vec!["transfers", "--book", e]),
        (
            c,
            "ct.key",
            vec!["dashboard", "--book", e, "--table", "reports"],
        ),
        (
            c,
            "ct.key",
            vec!["dashboard", "--book", e, "--table", "memberships"],
        ),
        (g, "gt.key", vec!["impact"]),
        (g, "gt.key", vec!["balances", "--book", s]),
        (
            g,
            "gt.key",
            vec!["statement", "--book", s, "--member", "m-ana"],
        ),
    ] {
        let csv = j.export(node, key, &args);
        assert!(csv.lines().count() >= 2, "{args:?}: {csv}");
        assert!(
            csv.contains(",") && csv.contains("\r\n"),
            "{args:?}: CRLF rows"
        );
    }
    let transfers_csv = j.export(g, "gt.key", &["transfers", "--book", e]);
    assert!(
        transfers_csv.contains(",received_with_difference,"),
        "{transfers_csv}"
    );
    assert!(transfers_csv.contains(",-35.00,"), "{transfers_csv}");
    j.k(
        g,
        &[
            "--key",
            "gt.key",
            "statement",
            "--book",
            s,
            "--member",
            "m-ana",
            "--html",
            "ana.html",
            "--lang",
            "fil",
        ],
    );
    let html = std::fs::read_to_string(j.d.join("ana.html")).unwrap();
    for expected in [
        "<html lang=\"fil\">",
        "@page { size: A4;",
        "Pahayag ng miyembro",
        "Bayanihan Savers",
        "Bahagi sa kita",
        "Bukid Organic Farm",
    ] {
        assert!(
            html.contains(expected),
            "{expected} missing from the statement"
        );
    }
    let officer = j.k(g, &["--key", "gc.key", "key", "show"]);
    assert!(html.contains(&officer), "the officers' keys are printed");
    let r = kaban(
        j.d,
        g,
        &[
            "--key",
            "gt.key",
            "statement",
            "--book",
            s,
            "--member",
            "m-ana",
            "--html",
            "-",
            "--lang",
            "xx",
        ],
    );
    assert!(
        !r.ok && r.stderr.contains("en, fil, id, bn"),
        "{}",
        r.stderr
    );
}
