//! The mobile web client end to end: real headless Chromium (Debian's `chromium`, driven by
//! `playwright-core`) at a phone's size, against a real `kaban-node` serving the client at `/`.
//! The browser steps live in `clients/web/e2e/phone.mjs`; this starts the node and runs them:
//! pair a phone, run a meeting of ten members with the browser offline halfway, see every record
//! confirmed, reload, send a record twice, back up and restore a key, approve a withdrawal from a
//! second phone, check a member's receipt offline on a third phone and a tampered one, and switch
//! language. A second script checks what first-time users tripped over.

#![allow(clippy::unwrap_used)]

use kaban_tests::{NodeProcess, bin_dir};
use std::path::Path;
use std::process::Command;

/// Runs one browser script of `clients/web/e2e` against a fresh node; its output, once every
/// step passed.
fn run_phone_script(script: &str, done: &str) -> String {
    // One browser at a time: several phones' Chromiums and nodes at once on a small machine
    // make the scripts' waits, not the client, the thing under test.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let web = kaban_tests::machine::web_client();
    let chromium = kaban_tests::machine::chromium();
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&dir.path().join("node"));
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new("node")
        .arg(format!("e2e/{script}"))
        .current_dir(&web)
        .env("KABAN_NODE", &node.url)
        // The officers found their books with the operator's admin token.
        .env("KABAN_ADMIN_TOKEN", node.data_dir.join("admin-token"))
        .env("KABAN_BIN", bin_dir().join("kaban"))
        .env("KABAN_WORK", &work)
        // Not KABAN_DATA_DIR and KABAN_SETUP_CODE: `kaban-node` and `kaban` read those, and
        // `kaban book create` would spend the code.
        .env("KABAN_TEST_DATA_DIR", &node.data_dir)
        .env(
            "KABAN_FIRST_SETUP_CODE",
            node.setup_code.clone().unwrap_or_default(),
        )
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs (the web client needs Node.js 20 or later)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the phone steps failed:\n{stdout}\n{}\n(screenshots so far are in {})",
        String::from_utf8_lossy(&out.stderr),
        work.display()
    );
    assert!(stdout.contains(done), "{stdout}");
    if let Ok(keep) = std::env::var("KABAN_SCREENSHOTS") {
        for shot in std::fs::read_dir(&work).unwrap().flatten() {
            if shot.path().extension().is_some_and(|e| e == "png") {
                std::fs::copy(shot.path(), Path::new(&keep).join(shot.file_name())).unwrap();
            }
        }
    }
    stdout
}

#[test]
fn a_phone_pairs_runs_a_meeting_offline_approves_and_checks_receipts() {
    run_phone_script("phone.mjs", "all phone steps passed");
}

/// What first-time users tripped over (`clients/web/e2e/first_use.mjs`): a Thai phone opens in
/// Thai; the client comes gzipped; the home screen leads with the books once the phone has a
/// role; the meeting offers the phone's local date; members are listed by name with a search
/// box for 30 or more; each bad amount says what is wrong, by the language's marks; a double
/// tap records once with no error; the status bar counts what she recorded; every screen has a
/// Back; every control is at least 44×44 px and has a name.
#[test]
fn what_first_time_users_tripped_over_is_fixed() {
    run_phone_script("first_use.mjs", "all first-use steps passed");
}

/// First run from phones (`clients/web/e2e/found.mjs`): the treasurer's phone founds the group
/// with the node's setup code, adding the chair by scanning the QR code of her phone's key
/// with the camera; a wrong, an expired and a reused code are each refused in words.
#[test]
fn a_group_is_founded_from_a_phone_with_the_setup_code() {
    run_phone_script("found.mjs", "all founding steps passed");
}

#[test]
fn a_group_invests_gets_a_return_and_members_go_home_from_phones_only() {
    run_phone_script("invest.mjs", "all investing steps passed");
}
