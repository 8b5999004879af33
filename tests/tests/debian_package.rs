//! The Debian package, as an operator meets it: `node/debian/build-deb` builds it with
//! cargo-deb, `dpkg -i` installs it, the files, the `kaban` user and the systemd unit are where
//! they should be, the installed node starts as that user with the packaged configuration and
//! answers `/api/v1/health`, and `dpkg --purge` removes everything but the books.
//!
//! It changes what the machine has installed, so it runs only as root with dpkg (CI is root
//! on Debian); elsewhere it says why it did not run. The package is built from the tests' own
//! binaries (the dev profile, stripped by cargo-deb), not a release build: that would add about
//! eight minutes to the suite and checks nothing more about the packaging.

#![allow(clippy::unwrap_used)]

use kaban_tests::machine::{self, Turn};
use kaban_tests::{Http, NodeProcess, bin_dir};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

const STATE: &str = "/var/lib/kaban";

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Builds the package from the tests' binaries; its path.
fn build_package() -> PathBuf {
    machine::cargo_deb();
    let bins = bin_dir();
    let profile = if bins.ends_with("release") {
        "release"
    } else {
        "dev"
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/debian/build-deb");
    let (ok, out) = run(script.to_str().unwrap(), &[profile]);
    assert!(ok, "build-deb failed:\n{out}");
    let arch = run("dpkg", &["--print-architecture"]).1;
    let deb = bins.parent().unwrap().join(format!(
        "debian/kaban_{}-1_{}.deb",
        env!("CARGO_PKG_VERSION"),
        arch.trim()
    ));
    assert!(deb.exists(), "{} was not built:\n{out}", deb.display());
    deb
}

/// Purges the package when the test ends, passed or not, and removes the state directory when
/// the test made it.
struct Installed {
    state_was_there: bool,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["--purge", "kaban"]);
        if !self.state_was_there {
            let _ = std::fs::remove_dir_all(STATE);
        }
    }
}

fn check_files() {
    for file in [
        "/usr/bin/kaban-node",
        "/usr/bin/kaban",
        "/etc/kaban/kaban.toml",
        "/usr/lib/systemd/system/kaban-node.service",
        "/usr/share/man/man1/kaban-node.1.gz",
        "/usr/share/man/man1/kaban-node-run.1.gz",
        "/usr/share/man/man1/kaban.1.gz",
        "/usr/share/man/man1/kaban-book-create.1.gz",
        "/usr/share/bash-completion/completions/kaban",
        "/usr/share/bash-completion/completions/kaban-node",
        "/usr/share/zsh/vendor-completions/_kaban",
        "/usr/share/fish/vendor_completions.d/kaban-node.fish",
    ] {
        assert!(
            Path::new(file).exists(),
            "the package did not install {file}"
        );
    }
    let (_, conffiles) = run("dpkg-query", &["--showformat=${Conffiles}", "-W", "kaban"]);
    assert!(conffiles.contains("/etc/kaban/kaban.toml"), "{conffiles}");
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/kaban-node.service").unwrap();
    for line in [
        "User=kaban",
        "StateDirectory=kaban",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "ExecStart=/usr/bin/kaban-node run --config /etc/kaban/kaban.toml",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
    if machine::runs("systemd-analyze") {
        let (ok, out) = run(
            "systemd-analyze",
            &["verify", "/usr/lib/systemd/system/kaban-node.service"],
        );
        assert!(
            ok && out.trim().is_empty(),
            "systemd-analyze verify:\n{out}"
        );
    } else {
        println!("systemd-analyze is not installed: the unit was not verified by systemd");
    }
}

fn check_user() {
    let (ok, passwd) = run("getent", &["passwd", "kaban"]);
    assert!(ok, "the package made no kaban user");
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    assert_eq!(fields[5], STATE, "{passwd}");
    assert!(fields[6].ends_with("nologin"), "{passwd}");
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "kaban is not a system user: {passwd}");
    let state = std::fs::metadata(STATE).unwrap();
    assert_eq!(state.uid(), uid, "{STATE} is not kaban's");
    assert_eq!(state.permissions().mode() & 0o777, 0o700);
}

/// Runs the installed node as the `kaban` user with the packaged configuration (only the
/// ports moved to free ones on loopback), and reads its health.
fn check_node_runs() {
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=kaban",
        "--regid=kaban",
        "--init-groups",
        "--",
        "/usr/bin/kaban-node",
        "run",
        "--config",
        "/etc/kaban/kaban.toml",
        "--http",
        "127.0.0.1:0",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--no-mdns",
    ]);
    let node = NodeProcess::spawn(command, Path::new(STATE));
    let (status, body) = Http::new(&node.url).get("/api/v1/health", "");
    assert_eq!(status, 200, "{body}");
    let token = std::fs::metadata(Path::new(STATE).join("admin-token")).unwrap();
    let (_, uid) = run("id", &["-u", "kaban"]);
    assert_eq!(
        token.uid().to_string(),
        uid.trim(),
        "the admin token is not kaban's"
    );
    assert!(
        node.stop().success(),
        "the installed node did not stop cleanly"
    );
}

#[test]
fn the_debian_package_installs_runs_and_purges() {
    if !machine::runs("dpkg") {
        println!("SKIPPED: dpkg is not installed, so the Debian package cannot be tested here");
        return;
    }
    if !machine::is_root() {
        println!("SKIPPED: installing a Debian package needs root; CI runs this as root");
        return;
    }
    let _turn = Turn::take("dpkg");
    let (_, status) = run("dpkg-query", &["--showformat=${Status}", "-W", "kaban"]);
    assert!(
        !status.contains("installed"),
        "the kaban package is installed on this machine; this test installs and purges it, so it will not run here"
    );
    let deb = build_package();
    let size = std::fs::metadata(&deb).unwrap().len();
    println!("{}: {} bytes", deb.display(), size);

    let installed = Installed {
        state_was_there: Path::new(STATE).exists(),
    };
    let (ok, out) = run("dpkg", &["-i", deb.to_str().unwrap()]);
    assert!(ok, "dpkg -i failed:\n{out}");
    // The postinst tells the operator where the admin token and the setup code are.
    assert!(out.contains("/var/lib/kaban/admin-token"), "{out}");
    assert!(out.contains("kaban-node setup-code"), "{out}");
    check_files();
    check_user();
    check_node_runs();

    let (ok, out) = run("dpkg", &["--purge", "kaban"]);
    assert!(ok, "dpkg --purge failed:\n{out}");
    assert!(!Path::new("/usr/bin/kaban-node").exists());
    assert!(!Path::new("/etc/kaban/kaban.toml").exists());
    // Purging keeps the books.
    assert!(Path::new(STATE).join("kaban.sqlite").exists());
    assert!(out.contains("kept /var/lib/kaban"), "{out}");
    drop(installed);
}
