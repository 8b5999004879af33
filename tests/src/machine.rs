//! What the tests need from the machine beyond Rust, made present so that `cargo test
//! --workspace` is the whole of the README's test command: the web client's npm packages
//! (installed with `npm ci` when `clients/web/node_modules` is missing), Debian packages
//! (Chromium, curl, binutils, openssl, dpkg) and the API checkers from PyPI.
//!
//! Tests run in parallel, in several processes, so every install happens under an exclusive
//! file lock and is checked again once the lock is held: the first test installs, the others
//! wait and find it done. Debian and PyPI packages are installed only when the tests run as
//! root (as in CI); otherwise the test fails with one line giving the exact install command,
//! because installing system packages behind a developer's back is not the harness's call.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The PyPI tools the OpenAPI tests run, pinned: a new release of either may judge the same
/// document differently, and the suite must not change its verdict on its own.
pub const PYPI_TOOLS: [&str; 2] = ["schemathesis==4.32.5", "openapi-python-client==0.29.1"];

/// Holds an exclusive lock on a file in the system's temporary directory until dropped: one
/// test process at a time installs a tool, or changes what the machine has installed.
#[derive(Debug)]
pub struct Turn(File);

impl Turn {
    pub fn take(name: &str) -> Turn {
        let path = std::env::temp_dir().join(format!("kaban-tests-{name}.lock"));
        let file = File::create(&path)
            .unwrap_or_else(|e| panic!("cannot create the lock file {}: {e}", path.display()));
        file.lock()
            .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
        Turn(file)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// The web client's directory, with its npm packages installed. `npm ci` runs at most once,
/// whatever the number of tests asking at the same time. npm writes
/// `node_modules/.package-lock.json` last, so its presence means a finished install.
pub fn web_client() -> PathBuf {
    let web = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../clients/web")
        .canonicalize()
        .expect("clients/web exists in the workspace");
    let installed = |web: &Path| web.join("node_modules/.package-lock.json").exists();
    if installed(&web) {
        return web;
    }
    let _turn = Turn::take("npm-ci");
    if installed(&web) {
        return web;
    }
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&web)
        .stdout(Stdio::null())
        .output();
    let out = npm.unwrap_or_else(|e| {
        panic!(
            "npm cannot run ({e}): install Node.js 20 or later (Debian: apt-get install nodejs npm)"
        )
    });
    assert!(
        out.status.success(),
        "`npm ci` in {} failed:\n{}",
        web.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    web
}

/// Whether `program` runs on this machine (it is on `PATH` or is a path that exists).
pub fn runs(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", "command -v \"$1\" >/dev/null", "sh", program])
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process runs as root, who may install system packages.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `program`, from the Debian `package`, installed with apt-get first if it is missing and the
/// tests run as root. Otherwise a missing program fails the test with the command to run.
pub fn debian(program: &str, package: &str) -> PathBuf {
    if !runs(program) {
        assert!(
            is_root(),
            "{program} is missing; run: sudo apt-get install {package}"
        );
        let _turn = Turn::take("apt-get");
        if !runs(program) {
            apt_get_install(package);
        }
        assert!(
            runs(program),
            "apt-get installed {package} but {program} is still not on PATH"
        );
    }
    PathBuf::from(program)
}

fn apt_get_install(package: &str) {
    let run = |args: &[&str]| {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap_or_else(|e| panic!("apt-get cannot run ({e}); install {package} by hand"));
        assert!(
            out.status.success(),
            "apt-get {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["update", "-qq"]);
    run(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        package,
        "ca-certificates",
    ]);
}

/// The Chromium the phone tests drive: `$CHROMIUM`, else Debian's, installed if need be.
pub fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("CHROMIUM") {
        assert!(
            Path::new(&path).exists(),
            "CHROMIUM={path} does not exist; unset it to use Debian's chromium"
        );
        return PathBuf::from(path);
    }
    debian("chromium", "chromium");
    PathBuf::from("/usr/bin/chromium")
}

/// A command from PyPI (one of [`PYPI_TOOLS`]), installed with pip first if it is missing and
/// the tests run as root.
pub fn pypi(program: &str) -> Command {
    let install = format!("python3 -m pip install {}", PYPI_TOOLS.join(" "));
    if !runs(program) {
        assert!(is_root(), "{program} is missing; run: {install}");
        let _turn = Turn::take("pip");
        if !runs(program) {
            let out = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PYPI_TOOLS)
                .output()
                .unwrap_or_else(|e| {
                    panic!("python3 cannot run ({e}); install Python 3.9 or later")
                });
            assert!(
                out.status.success(),
                "`{install}` failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // pyenv makes a new package's commands callable only after a rehash.
            if runs("pyenv") {
                let _ = Command::new("pyenv").arg("rehash").status();
            }
        }
        assert!(
            runs(program),
            "`{install}` ran but {program} is still not on PATH"
        );
    }
    Command::new(program)
}

/// The cargo-deb version the Debian package is built with; `--locked` builds it with the
/// dependencies its authors tested.
pub const CARGO_DEB: &str = "3.8.0";

/// Makes sure `cargo deb` runs, installing cargo-deb with `cargo install` when it is missing.
/// That needs no root: it goes to `~/.cargo/bin`, like the toolchain itself.
pub fn cargo_deb() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let present = || {
        Command::new(&cargo)
            .args(["deb", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if present() {
        return;
    }
    let _turn = Turn::take("cargo-install");
    if present() {
        return;
    }
    let out = Command::new(&cargo)
        .args([
            "install",
            "--quiet",
            "--locked",
            "cargo-deb",
            "--version",
            CARGO_DEB,
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "`cargo install --locked cargo-deb --version {CARGO_DEB}` failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
