//! What the end-to-end tests share: real `kaban-node` processes on 127.0.0.1, the real `kaban`
//! binary, and a small HTTP client. Nothing here is a fake: tests talk to the processes a user
//! would run.

#![allow(clippy::unwrap_used)]

pub mod fixture;
pub mod hostile;
pub mod machine;

use kaban_protocol::key::SignerKey;
use kaban_protocol::record::Record;
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// How long a node may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The directory holding the workspace's binaries. `cargo test` does not build other packages'
/// binaries, so the first call builds `kaban-node` and `kaban` (a quick no-op when they are up
/// to date), which also keeps a test from running a stale binary.
pub fn bin_dir() -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> or target/<profile>/examples/<example> -> target/<profile>
    let dir = exe.parent().unwrap().parent().unwrap().to_owned();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut args = vec!["build", "--quiet", "-p", "kaban-node", "-p", "kaban-cli"];
        if dir.ends_with("release") {
            args.push("--release");
        }
        let status = Command::new(cargo).args(args).status().unwrap();
        assert!(status.success(), "building kaban-node and kaban failed");
    });
    dir
}

/// The PeerId of the node whose data directory is `data_dir`, as its operator would read it
/// with `kaban-node id` (which creates the node key if there is none yet).
pub fn node_id(data_dir: &Path) -> String {
    let out = Command::new(bin_dir().join("kaban-node"))
        .args(["id", "--data-dir", data_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "kaban-node id failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Waits until `f` holds, up to `limit`; sync is prompt but not instant.
pub fn eventually(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `kaban-node` process.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    /// How long the process took from spawn to listening.
    pub startup: Duration,
    pub url: String,
    pub data_dir: PathBuf,
    pub http: String,
    /// The node's PeerId.
    pub node_id: String,
    /// The peer-to-peer addresses it printed at start.
    pub p2p: Vec<String>,
    /// Its HTTPS URL, when started with `--https`.
    pub https: Option<String>,
    /// The setup code it printed, when it started with no books.
    pub setup_code: Option<String>,
    /// The CA fingerprint it printed, when it serves HTTPS.
    pub ca_fingerprint: Option<String>,
}

#[derive(Default)]
struct Started {
    node_id: String,
    url: String,
    https: Option<String>,
    p2p: Vec<String>,
    setup_code: Option<String>,
    ca_fingerprint: Option<String>,
}

impl NodeProcess {
    /// Starts a node on a free port of 127.0.0.1 and waits until it listens.
    pub fn start(data_dir: &Path) -> NodeProcess {
        Self::start_on(data_dir, "127.0.0.1:0")
    }

    pub fn start_on(data_dir: &Path, http: &str) -> NodeProcess {
        // Tests keep peer-to-peer traffic on loopback, on a free port.
        Self::start_with(data_dir, http, &["--listen", "/ip4/127.0.0.1/tcp/0"])
    }

    /// Starts a node with these extra `run` arguments (which must name its `--listen`
    /// addresses). Multicast DNS is always off: tests send nothing beyond 127.0.0.1.
    pub fn start_with(data_dir: &Path, http: &str, args: &[&str]) -> NodeProcess {
        let mut command = Command::new(bin_dir().join("kaban-node"));
        command
            .args([
                "run",
                "--data-dir",
                data_dir.to_str().unwrap(),
                "--http",
                http,
                "--no-mdns",
            ])
            .args(args);
        Self::spawn(command, data_dir)
    }

    /// Spawns `command`, a `kaban-node run` however started (the installed binary as another
    /// user, say), and waits until it prints its addresses. Its logs go where `command` sends
    /// standard error (the test's own, unless told), at `RUST_LOG` if `command` sets it, else
    /// at `$KABAN_TEST_LOG` or `warn`.
    pub fn spawn(mut command: Command, data_dir: &Path) -> NodeProcess {
        let spawned = Instant::now();
        if !command.get_envs().any(|(key, _)| key == "RUST_LOG") {
            command.env(
                "RUST_LOG",
                std::env::var("KABAN_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            );
        }
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut started = Started::default();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("node id: ") {
                    started.node_id = id.to_owned();
                } else if let Some(url) = line.strip_prefix("http: ") {
                    started.url = url.to_owned();
                } else if let Some(url) = line.strip_prefix("https: ") {
                    started.https = Some(url.to_owned());
                } else if let Some(code) = line.strip_prefix("setup code: ") {
                    started.setup_code = code.split_whitespace().next().map(str::to_owned);
                } else if let Some(f) = line.strip_prefix("CA fingerprint (SHA-256): ") {
                    started.ca_fingerprint = Some(f.to_owned());
                } else if let Some(addr) = line.strip_prefix("p2p: ") {
                    started.p2p.push(addr.to_owned());
                } else if line.starts_with("data dir: ") {
                    let _ = tx.send(std::mem::take(&mut started));
                }
            }
        });
        let started = rx
            .recv_timeout(START_TIMEOUT)
            .expect("kaban-node printed its addresses");
        let http = started.url.trim_start_matches("http://").to_owned();
        NodeProcess {
            startup: spawned.elapsed(),
            child,
            url: started.url,
            node_id: started.node_id,
            p2p: started.p2p,
            https: started.https,
            setup_code: started.setup_code,
            ca_fingerprint: started.ca_fingerprint,
            data_dir: data_dir.to_owned(),
            http,
        }
    }

    /// Kills the process with SIGKILL, as a power cut would.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the process with SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "kaban-node did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory of the process, from /proc, in KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// The node's process id, to read what `/proc` says of it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin-token"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Output of a `kaban` run.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("kaban printed no JSON ({e}): {}", self.stdout))
    }
}

/// Runs the real `kaban` binary in `dir` against `node`.
pub fn kaban(dir: &Path, node: &str, args: &[&str]) -> Run {
    let out = Command::new(bin_dir().join("kaban"))
        .current_dir(dir)
        .env("KABAN_NODE", node)
        .env_remove("KABAN_KEY")
        .args(args)
        .output()
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

/// Runs `kaban` and insists that it succeeds.
pub fn kaban_ok(dir: &Path, node: &str, args: &[&str]) -> String {
    let run = kaban(dir, node, args);
    assert!(run.ok, "kaban {args:?} failed: {}", run.stderr);
    run.stdout
}

/// Runs `kaban-node` with `args` (an operator's command: backup, restore, doctor…), insists
/// that it succeeds, and returns what it printed.
pub fn kaban_node_ok<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> String {
    let out = Command::new(bin_dir().join("kaban-node"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kaban-node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Founds a book named `name` on `node` with the CLI, as an operator would: the treasurer's key
/// `t.key` and a key holder's `keeper.key` in `dir`, the node's first setup code, and one
/// member, Lin. Returns `(book, member)`.
pub fn book_with_member(
    dir: &Path,
    node: &NodeProcess,
    name: &str,
    currency: &str,
) -> (String, String) {
    let k = |args: &[&str]| kaban_ok(dir, &node.url, args);
    let keeper = k(&["key", "new", "--out", "keeper.key"]);
    k(&["key", "new", "--out", "t.key"]);
    let book = k(&[
        "--key",
        "t.key",
        "book",
        "create",
        "--setup-code",
        node.setup_code
            .as_deref()
            .expect("a fresh node prints a setup code"),
        "--name",
        name,
        "--currency",
        currency,
        "--officer",
        &format!("{keeper}:key_holder"),
    ]);
    let member = k(&[
        "--key", "t.key", "member", "add", "--book", &book, "--alias", "Lin",
    ]);
    (book, member)
}

/// A minimal HTTP client for tests that talk to the API directly.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
    pub url: String,
    /// Sent as a bearer token with `post` and `place` when set: the admin token, which founds
    /// books and asks for places, or a session.
    token: Option<String>,
}

impl Http {
    pub fn new(url: &str) -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            // The node closes a kept-alive connection idle for its header timeout (10 s, and 2 s
            // in some tests); never reuse one near that age, so no request races that close.
            .max_idle_age(Duration::from_secs(1))
            .build();
        Http {
            agent: ureq::Agent::new_with_config(config),
            url: url.to_owned(),
            token: None,
        }
    }

    /// This client, sending `token` with `post` and `place`.
    pub fn with_token(mut self, token: &str) -> Http {
        self.token = Some(token.to_owned());
        self
    }

    /// POSTs bytes; returns the status, or `None` when the node did not answer.
    pub fn post(&self, path: &str, body: Vec<u8>) -> Option<(u16, Value)> {
        let mut req = self.agent.post(format!("{}{path}", self.url));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut r = req.send(body).ok()?;
        let status = r.status().as_u16();
        let v = r.body_mut().read_json().unwrap_or(Value::Null);
        Some((status, v))
    }

    pub fn get(&self, path: &str, token: &str) -> (u16, Value) {
        answer(
            self.agent
                .get(format!("{}{path}", self.url))
                .header("Authorization", format!("Bearer {token}"))
                .call()
                .unwrap(),
        )
    }

    /// POSTs bytes with one extra header, like `Kaban-Setup-Code`.
    pub fn post_header(
        &self,
        path: &str,
        (name, value): (&str, &str),
        body: Vec<u8>,
    ) -> Option<(u16, Value)> {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.url))
            .header(name, value)
            .send(body)
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.body_mut().read_json().unwrap_or(Value::Null)))
    }

    /// PUTs a JSON body with a bearer token.
    pub fn put_with(&self, path: &str, token: &str, body: String) -> (u16, Value) {
        answer(
            self.agent
                .put(format!("{}{path}", self.url))
                .header("Authorization", format!("Bearer {token}"))
                .header("Content-Type", "application/json")
                .send(body)
                .unwrap(),
        )
    }

    /// DELETEs with a bearer token.
    pub fn delete_with(&self, path: &str, token: &str) -> (u16, Value) {
        answer(
            self.agent
                .delete(format!("{}{path}", self.url))
                .header("Authorization", format!("Bearer {token}"))
                .call()
                .unwrap(),
        )
    }

    /// GETs an answer as text (CSV, HTML or JSON) with a bearer token.
    pub fn get_text(&self, path: &str, token: &str) -> (u16, String) {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap_or_default())
    }

    /// POSTs bytes with a bearer token (an admin token or a session).
    pub fn post_with(&self, path: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
        answer(
            self.agent
                .post(format!("{}{path}", self.url))
                .header("Authorization", format!("Bearer {token}"))
                .send(body)
                .unwrap(),
        )
    }

    /// Where `key`'s next record in `book` stands, as the node says; `None` when the node did
    /// not answer, or answered with an error.
    pub fn place(
        &self,
        book: kaban_protocol::record::BookId,
        key: &SignerKey,
    ) -> Option<kaban_protocol::record::Place> {
        let mut req = self.agent.get(format!(
            "{}/api/v1/books/{book}/place?signer={}",
            self.url,
            key.public()
        ));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut r = req.call().ok()?;
        if r.status().as_u16() != 200 {
            return None;
        }
        let v: Value = r.body_mut().read_json().ok()?;
        kaban_protocol::record::Place::from_answer(book, &v).ok()
    }

    /// Signs `body` at `key`'s next place as the node says, like the CLI; `None` when the node
    /// did not answer.
    pub fn sign(
        &self,
        key: &SignerKey,
        book: kaban_protocol::record::BookId,
        time_ms: u64,
        body: &kaban_protocol::kind::Body,
    ) -> Option<Record> {
        Some(Record::sign(key, &self.place(book, key)?, time_ms, body))
    }

    pub fn submit(&self, record: &Record) -> Option<(u16, Value)> {
        self.post(
            &format!("/api/v1/books/{}/records", record.book()),
            record.bytes().to_vec(),
        )
    }

    /// Opens a session for `key`, as a phone does: while the node holds no book in which the
    /// key holds a role (a book still arriving from a partner, say), it asks again, for up to
    /// a minute.
    pub fn session(&self, key: &SignerKey) -> String {
        let origin = kaban_protocol::session::origin_of(&self.url).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.session_at(key, &origin) {
                Ok(token) => return token,
                Err((403, v)) if v["code"] == "unknown_key" && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err((status, v)) => panic!("no session ({status}): {v}"),
            }
        }
    }

    /// Opens a session for `key`, signing for `origin` as the origin it connected to; the
    /// node's refusal otherwise.
    pub fn session_at(&self, key: &SignerKey, origin: &str) -> Result<String, (u16, Value)> {
        let ask = json!({"key": key.public().to_string()});
        let (status, c) = self
            .post("/api/v1/sessions/challenge", ask.to_string().into_bytes())
            .unwrap();
        if status != 200 {
            return Err((status, c));
        }
        let text = kaban_protocol::session::SessionText {
            node: c["node"].as_str().unwrap(),
            origin,
            challenge: c["challenge"].as_str().unwrap(),
        };
        let body = json!({
            "key": key.public().to_string(),
            "origin": origin,
            "challenge": text.challenge,
            "signature": kaban_protocol::session::sign_challenge(key, &text),
        });
        let (status, v) = self
            .post("/api/v1/sessions", body.to_string().into_bytes())
            .unwrap();
        if status != 200 {
            return Err((status, v));
        }
        Ok(v["token"].as_str().unwrap().to_owned())
    }
}

/// A response's status and JSON body (null when it has none).
fn answer(mut r: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

/// SplitMix64, for seeded choices in fault tests.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
