//! A whole meeting through the real binaries: a node on 127.0.0.1 and the `kaban` command line,
//! as a treasurer would run it from the README's tour.

#![allow(clippy::unwrap_used)]

use kaban_tests::{NodeProcess, kaban, kaban_ok};
use serde_json::json;

#[test]
fn a_meeting_from_founding_to_statement() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let node = NodeProcess::start(&d.join("data"));
    let url = node.url.clone();
    let k = |args: &[&str]| kaban_ok(d, &url, args);

    let treasurer = k(&["key", "new", "--out", "treasurer.key"]);
    let chair = k(&["key", "new", "--out", "chair.key"]);
    let keeper = k(&["key", "new", "--out", "keyholder.key"]);
    let ana_key = k(&["key", "new", "--out", "ana.key"]);
    assert_eq!(k(&["key", "show", "--key", "treasurer.key"]), treasurer);

    let book = k(&[
        "--key",
        "treasurer.key",
        "book",
        "create",
        "--setup-code",
        node.setup_code.as_deref().unwrap(),
        "--name",
        "Bayanihan Savers",
        "--currency",
        "HKD",
        "--officer",
        &format!("{chair}:chair"),
        "--officer",
        &format!("{keeper}:key_holder"),
    ]);
    assert_eq!(book.len(), 64);
    let t = |args: &[&str]| {
        let mut all = vec!["--key", "treasurer.key"];
        all.extend_from_slice(args);
        k(&all)
    };
    let ana = t(&[
        "member",
        "add",
        "--book",
        &book,
        "--alias",
        "Ate Ana",
        "--member-key",
        &ana_key,
    ]);
    let ben = t(&["member", "add", "--book", &book, "--alias", "Ben"]);
    let meeting = k(&[
        "--key",
        "chair.key",
        "meeting",
        "--book",
        &book,
        "--date",
        "2026-11-29",
        "--place",
        "Chater Garden",
    ]);
    let c1 = t(&[
        "contribute",
        "--book",
        &book,
        "--member",
        &ana,
        "--amount",
        "500.00",
        "--meeting",
        &meeting,
    ]);
    t(&[
        "contribute",
        "--book",
        &book,
        "--member",
        &ben,
        "--amount",
        "250.50",
        "--meeting",
        &meeting,
    ]);

    // A withdrawal waits for a key holder's approval before it moves money.
    let w = t(&[
        "withdraw",
        "--book",
        &book,
        "--member",
        &ana,
        "--amount",
        "120.25",
        "--reason",
        "school fees",
    ]);
    let show = kaban(
        d,
        &url,
        &[
            "--key",
            "treasurer.key",
            "--json",
            "book",
            "show",
            "--book",
            &book,
        ],
    )
    .json();
    assert_eq!(show["pending"], json!([w]));
    assert_eq!(
        show["balances"],
        json!([{"currency": "HKD", "minor": 75050}])
    );
    k(&[
        "--key",
        "keyholder.key",
        "approve",
        "--book",
        &book,
        "--record",
        &w,
    ]);

    // A mistaken contribution is reversed, with the reversal quorum.
    let wrong = t(&[
        "contribute",
        "--book",
        &book,
        "--member",
        &ben,
        "--amount",
        "99",
    ]);
    let rev = k(&[
        "--key",
        "chair.key",
        "reverse",
        "--book",
        &book,
        "--record",
        &wrong,
        "--reason",
        "entered for the wrong member",
    ]);
    k(&[
        "--key",
        "keyholder.key",
        "approve",
        "--book",
        &book,
        "--record",
        &rev,
    ]);

    // Ana reads her own statement with her own key.
    let st = kaban(
        d,
        &url,
        &[
            "--key",
            "ana.key",
            "--json",
            "statement",
            "--book",
            &book,
            "--member",
            &ana,
        ],
    )
    .json();
    assert_eq!(st["balances"], json!([{"currency": "HKD", "minor": 37975}]));
    let entries = st["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["record"], c1);
    assert_eq!(entries[1]["status"]["state"], "effective");
    // Ben's statement shows the reversed entry as reversed.
    let st = kaban(
        d,
        &url,
        &[
            "--key",
            "treasurer.key",
            "--json",
            "statement",
            "--book",
            &book,
            "--member",
            &ben,
        ],
    )
    .json();
    assert_eq!(st["balances"], json!([{"currency": "HKD", "minor": 25050}]));
    assert_eq!(st["entries"][1]["status"]["state"], "reversed");

    let show = kaban(
        d,
        &url,
        &[
            "--key",
            "treasurer.key",
            "--json",
            "book",
            "show",
            "--book",
            &book,
        ],
    )
    .json();
    assert_eq!(
        show["balances"],
        json!([{"currency": "HKD", "minor": 63025}])
    );
    assert_eq!(show["record_count"], 11);
    assert_eq!(show["pending"], json!([]));
    assert_eq!(show["anomalies"][0]["kind"], "reversed");

    // Refusals are one clear line and a non-zero exit.
    let r = kaban(
        d,
        &url,
        &[
            "--key",
            "treasurer.key",
            "withdraw",
            "--book",
            &book,
            "--member",
            &ana,
            "--amount",
            "600",
            "--reason",
            "x",
        ],
    );
    assert!(!r.ok);
    assert_eq!(
        r.stderr,
        format!("kaban: withdrawal of 600.00 HKD exceeds member {ana}'s balance of 379.75 HKD")
    );
    let r = kaban(
        d,
        &url,
        &[
            "--key",
            "treasurer.key",
            "contribute",
            "--book",
            &book,
            "--member",
            &ana,
            "--amount",
            "1.234",
        ],
    );
    assert_eq!(
        r.stderr,
        "kaban: amount \"1.234\" has more decimals than HKD, which has 2"
    );
    let r = kaban(
        d,
        &url,
        &["--key", "ana.key", "book", "show", "--book", &book],
    );
    assert_eq!(
        r.stderr,
        format!("kaban: signer {ana_key} is not an officer of book {book}")
    );
    let r = kaban(
        d,
        &url,
        &[
            "--key",
            "ana.key",
            "statement",
            "--book",
            &book,
            "--member",
            &ben,
        ],
    );
    assert_eq!(
        r.stderr,
        format!(
            "kaban: only an officer of book {book} or member {ben} herself may read her statement"
        )
    );
    std::fs::write(d.join("bad.key"), "{\"type\":\"something else\"}").unwrap();
    let r = kaban(d, &url, &["--key", "bad.key", "book", "list"]);
    assert!(
        r.stderr
            .starts_with("kaban: key file bad.key: key file is not a Kaban signer key file"),
        "{}",
        r.stderr
    );
    let r = kaban(
        d,
        "http://127.0.0.1:9",
        &["--key", "treasurer.key", "book", "list"],
    );
    assert!(
        r.stderr
            .starts_with("kaban: cannot reach the node at http://127.0.0.1:9"),
        "{}",
        r.stderr
    );

    // The book lists for its officers and for the administrator.
    let list = kaban(d, &url, &["--key", "chair.key", "--json", "book", "list"]).json();
    assert_eq!(list["books"][0]["book"], book);
    let r = kaban(
        d,
        &url,
        &["--admin-token", "data/admin-token", "book", "list"],
    );
    assert!(r.stdout.contains("Bayanihan Savers"), "{}", r.stdout);
    std::fs::write(d.join("wrong-token"), "nope").unwrap();
    let r = kaban(d, &url, &["--admin-token", "wrong-token", "book", "list"]);
    assert_eq!(
        r.stderr,
        "kaban: token is neither this node's admin token nor a live session"
    );

    // Erasing personal data the node never had says so.
    let r = kaban_ok(
        d,
        &url,
        &[
            "--key",
            "treasurer.key",
            "member",
            "erase",
            "--book",
            &book,
            "--member",
            &ben,
        ],
    );
    assert_eq!(
        r,
        format!("this node held no personal data of member {ben}")
    );

    // A public key may start with '-'; the command line must take it as a value, not a flag.
    let dashed = (0u8..=255)
        .map(|n| kaban_protocol::key::SignerKey::from_seed([n; 32]))
        .find(|k| k.public().to_string().starts_with('-'))
        .unwrap();
    std::fs::write(d.join("dashed.key"), dashed.to_key_file()).unwrap();
    let dashed_pub = dashed.public().to_string();
    let grant = k(&[
        "--key",
        "treasurer.key",
        "role",
        "grant",
        "--book",
        &book,
        "--to",
        &dashed_pub,
        "--role",
        "secretary",
    ]);
    k(&[
        "--key",
        "chair.key",
        "approve",
        "--book",
        &book,
        "--record",
        &grant,
    ]);
    let roster = kaban(
        d,
        &url,
        &[
            "--key",
            "dashed.key",
            "--json",
            "book",
            "show",
            "--book",
            &book,
        ],
    )
    .json();
    assert!(
        roster["officers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["key"] == dashed_pub)
    );

    // Everything survives a clean restart.
    assert!(node.stop().success());
    let node = NodeProcess::start(&d.join("data"));
    let st = kaban(
        d,
        &node.url,
        &[
            "--key",
            "ana.key",
            "--json",
            "statement",
            "--book",
            &book,
            "--member",
            &ana,
        ],
    )
    .json();
    assert_eq!(st["balances"], json!([{"currency": "HKD", "minor": 37975}]));
}
