//! The node's perimeter against exhaustion: slow headers, slow bodies, idle sockets, crowds of
//! connections over HTTP and HTTPS, and a stranger's libp2p streams. Everything runs against a
//! real `kaban-node` on 127.0.0.1; the attackers connect from other loopback source addresses
//! (127.0.0.2 and up, which are the same host) so that a phone on 127.0.0.1 counts apart from
//! them, as a phone and a stranger on a LAN do. Every loop is bounded in count and time.

#![allow(clippy::unwrap_used)]

use kaban_protocol::frame::Frame;
use kaban_tests::fixture::GroupBook;
use kaban_tests::hostile::{Peer, read, write};
use kaban_tests::{Http, NodeProcess};
use libp2p::{Multiaddr, PeerId};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

const LIMITS: &str = "[limits]
header_timeout_s = 2
request_timeout_s = 3
idle_timeout_s = 4
max_connections = 96
max_connections_per_address = 16
";

async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

/// What the server sent before closing, or `None` if it still held the connection after `wait`.
async fn until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut out = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(wait, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn start(data: &Path, https: bool) -> (GroupBook, NodeProcess) {
    let mut fx = GroupBook::new("Bayanihan Savers");
    fx.contribute(3);
    fx.store(data);
    let config = data.join("kaban.toml");
    std::fs::write(&config, LIMITS).unwrap();
    let mut args = vec![
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--config",
        config.to_str().unwrap(),
    ];
    if https {
        args.extend(["--https", "127.0.0.1:0"]);
    }
    let node = NodeProcess::start_with(data, "127.0.0.1:0", &args);
    (fx, node)
}

/// A phone's request from 127.0.0.1: its book's balances through a session.
fn phone_reads(http: &Http, fx: &GroupBook) {
    let session = http.session(&fx.treasurer);
    let (status, v) = http.get(&format!("/api/v1/books/{}/balances", fx.id()), &session);
    assert_eq!(status, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_and_crowds_do_not_shut_phones_out() {
    let dir = tempfile::tempdir().unwrap();
    let (fx, node) = start(&dir.path().join("node"), false);
    let addr: SocketAddr = node.http.parse().unwrap();
    let http = Http::new(&node.url);

    // Slow headers, a slow body, and a socket that says nothing.
    let mut slow_headers = connect_from([127, 0, 0, 2], addr).await.unwrap();
    slow_headers
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut slow_body = connect_from([127, 0, 0, 2], addr).await.unwrap();
    slow_body
        .write_all(
            b"POST /api/v1/sessions/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"key\"",
        )
        .await
        .unwrap();
    let mut idle = connect_from([127, 0, 0, 2], addr).await.unwrap();
    // Meanwhile a phone is served.
    phone_reads(&http, &fx);
    let started = Instant::now();
    let wait = Duration::from_secs(10);
    assert!(until_closed(&mut slow_headers, wait).await.is_some());
    let answer = until_closed(&mut slow_body, wait).await.unwrap();
    assert!(answer.contains("408"), "{answer}");
    assert!(until_closed(&mut idle, wait).await.is_some());
    eprintln!(
        "slow headers, slow body and idle socket closed within {:?}",
        started.elapsed()
    );

    // 1,100 connections from one address: it holds 16, the rest are closed at once, and the
    // node's descriptors stay few while a phone is served.
    let before = open_fds(node.pid());
    let mut crowd = Vec::new();
    for _ in 0..1_100 {
        if let Ok(s) = connect_from([127, 0, 0, 3], addr).await {
            crowd.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = open_fds(node.pid());
    phone_reads(&http, &fx);
    assert!(
        during < before + 40,
        "the node held {during} descriptors (had {before})"
    );
    drop(crowd);

    // Idle connections from six addresses fill all 96 slots; the header timeout frees them,
    // and a phone that waited in the backlog is served.
    let mut fillers = Vec::new();
    for last in 4..10u8 {
        for _ in 0..16 {
            fillers.push(connect_from([127, 0, 0, last], addr).await.unwrap());
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = Instant::now();
    phone_reads(&http, &fx);
    eprintln!(
        "with every slot held by idle sockets a phone was served after {:?}",
        waited.elapsed()
    );

    // The node raised its own file descriptor limit.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", node.pid())).unwrap();
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(soft >= 8192, "{limits}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tls_sockets_do_not_take_every_https_slot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let (_fx, node) = start(&data, true);
    let https = node.https.clone().unwrap();
    let addr: SocketAddr = https.trim_start_matches("https://").parse().unwrap();
    let mut idle = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = connect_from([127, 0, 0, 2], addr).await {
            idle.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ca = data.join("tls/ca.crt");
    let out = std::process::Command::new(kaban_tests::machine::debian("curl", "curl"))
        .args(["--silent", "--show-error", "--max-time", "10", "--cacert"])
        .arg(&ca)
        .arg(format!("{https}/api/v1/health"))
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ok\""));
    // The handshake timeout closes the ones the node kept.
    let mut closed = 0;
    for s in idle.iter_mut().take(20) {
        if until_closed(s, Duration::from_secs(15)).await.is_some() {
            closed += 1;
        }
    }
    assert_eq!(closed, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_streams_take_no_session_permits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let coop_dir = d.join("coop");
    let coop_id = kaban_tests::node_id(&coop_dir);
    let mut fx = GroupBook::new("Bayanihan Savers");
    fx.contribute(20);
    fx.share(&coop_id);
    fx.store(&d.join("group"));
    let total = fx.book.record_count() as u64;
    let group = NodeProcess::start(&d.join("group"));
    let group_peer: PeerId = group.node_id.parse().unwrap();
    let group_addr: Multiaddr = format!("{}/p2p/{}", group.p2p[0], group.node_id)
        .parse()
        .unwrap();

    // A stranger keeps opening sync streams and names no book, keeping its latest 80 open:
    // more than every session permit, for as long as the partner tries.
    let mut stranger = Peer::new(0x5e);
    let first = stranger.open(group_peer, &group_addr).await.unwrap();
    let flood = tokio::spawn(async move {
        let mut held = std::collections::VecDeque::from([first]);
        let mut opened = 1;
        for _ in 0..5_000 {
            if let Ok(s) = stranger.stream(group_peer).await {
                opened += 1;
                held.push_back(s);
                if held.len() > 80 {
                    held.pop_front();
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        opened
    });
    // Naming the group's book, which is not shared with it, gets the same answer as any
    // book it does not hold (from a second stranger: the first is at its stream cap).
    let mut other = Peer::new(0x5f);
    let mut named = other.open(group_peer, &group_addr).await.unwrap();
    write(&mut named, &Frame::Open { book: fx.id() })
        .await
        .unwrap();
    match read(&mut named, Duration::from_secs(10)).await {
        Some(Frame::Close { reason }) => assert!(reason.contains("no book"), "{reason}"),
        other => panic!("expected a close, got {other:?}"),
    }

    // The real partner joins while the stranger holds its streams, and gets the whole book.
    let coop = NodeProcess::start(&coop_dir);
    let hc = Http::new(&coop.url);
    let invite = kaban_protocol::invite::Invite {
        addrs: group.p2p.clone(),
        book: fx.id(),
        peer: group.node_id.clone(),
    };
    let body = json!({"code": invite.to_code()}).to_string().into_bytes();
    let (status, v) = hc.post_with("/api/v1/admin/peers", &coop.admin_token(), body);
    assert_eq!(status, 202, "{v}");
    let session = hc.session(&fx.treasurer);
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let (status, v) = hc.get(&format!("/api/v1/books/{}", fx.id()), &session);
        if status == 200 && v["record_count"].as_u64() == Some(total) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the partner never got the book while a stranger flooded streams"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!flood.is_finished(), "the stranger was still flooding");
    flood.abort();
}
