//! `kaban-node`: run a node, show its id, back it up and restore it.

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand};
use kaban_node::config::{Config, Flags, default_data_dir};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "kaban-node", version, about = "Keeps a savings group's books")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// Data directory (database, node key, admin token).
    #[arg(long, env = "KABAN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP listen address; default 127.0.0.1:8737.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// HTTPS listen address for phones on the LAN, like 0.0.0.0:8743. The node makes its
    /// own certificate authority; phones install it once from /kaban-ca.crt.
    #[arg(long)]
    https: Option<SocketAddr>,
    /// A name phones use for this machine (an IP address or host name), for the HTTPS
    /// certificate; repeat for several. localhost and 127.0.0.1 are always included.
    #[arg(long)]
    https_name: Vec<String>,
    /// TOML configuration file; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Peer-to-peer listen address (a multiaddr); repeat for several. Default
    /// /ip4/0.0.0.0/tcp/8738 and /ip4/0.0.0.0/udp/8738/quic-v1. Behind NAT, add a relay's
    /// circuit address: /ip4/RELAY-IP/tcp/8738/p2p/RELAY-PEERID/p2p-circuit.
    #[arg(long)]
    listen: Vec<String>,
    /// Do not look for other Kaban nodes on the LAN (multicast DNS).
    #[arg(long)]
    no_mdns: bool,
    /// Serve as a relay for this node's partners (and for --relay-peer peers), with limits
    /// high enough for a whole initial sync.
    #[arg(long)]
    relay: bool,
    /// A PeerId to relay for besides this node's partners; repeat for several.
    #[arg(long)]
    relay_peer: Vec<String>,
    /// How log lines are written to standard error: text for a person, json (one object a
    /// line) for a log collector.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Default, PartialEq, Eq)]
enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node (the default when no command is given).
    Run(RunArgs),
    /// Print a fresh one-time setup code (text and QR code): it lets one book be founded on
    /// this node, within an hour, without the admin token.
    SetupCode {
        #[arg(long, env = "KABAN_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Print this node's id (its libp2p PeerId).
    Id {
        #[arg(long, env = "KABAN_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Write a consistent copy of the database to FILE, while the node runs or not.
    Backup {
        #[arg(long, env = "KABAN_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore the database from a backup FILE. The node must be stopped.
    Restore {
        #[arg(long, env = "KABAN_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        from: PathBuf,
    },
    /// Check the node's data, disk, backups, partners and exposure, and explain each finding.
    /// Exits with 1 when a check failed.
    Doctor {
        #[arg(long, env = "KABAN_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The TOML configuration file the node runs with.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Write a man page for kaban-node and for each of its commands into DIR (for packagers).
    #[command(hide = true)]
    Man { dir: PathBuf },
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kaban-node: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Every file this process writes (database, WAL, backups, keys) is its owner's alone.
    kaban_node::node::private_umask();
    let command = cli.command.unwrap_or(Command::Run(RunArgs::default()));
    match command {
        Command::Run(args) => run_node(args),
        Command::SetupCode { data_dir } => {
            let dir = data_dir.unwrap_or_else(default_data_dir);
            kaban_node::node::make_private(&dir)?;
            let code =
                kaban_node::setup::SetupCodes::new(&dir).issue(kaban_node::clock::now_ms())?;
            print_setup_code(&code);
            Ok(())
        }
        Command::Id { data_dir } => {
            let dir = data_dir.unwrap_or_else(default_data_dir);
            kaban_node::node::make_private(&dir)?;
            let key = kaban_node::p2p::node_key(&dir)?;
            println!("{}", key.public().to_peer_id());
            Ok(())
        }
        Command::Backup { data_dir, out } => {
            let dir = data_dir.unwrap_or_else(default_data_dir);
            backup(&dir, &out)
        }
        Command::Restore { data_dir, from } => {
            let dir = data_dir.unwrap_or_else(default_data_dir);
            restore(&dir, &from)
        }
        Command::Doctor { data_dir, config } => doctor(data_dir, config),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "kaban-node", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))
        }
    }
}

fn run_node(args: RunArgs) -> anyhow::Result<()> {
    let flags = Flags {
        data_dir: args.data_dir,
        http: args.http,
        https: args.https,
        https_names: args.https_name,
        listen: args.listen,
        no_mdns: args.no_mdns,
        relay: args.relay,
        relay_peers: args.relay_peer,
    };
    let config = Config::load(args.config.as_deref(), flags)?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log))
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(kaban_node::node::run(
        config,
        shutdown_signal(),
        print_started,
    ))
}

fn doctor(data_dir: Option<PathBuf>, config: Option<PathBuf>) -> anyhow::Result<()> {
    let flags = Flags {
        data_dir,
        ..Flags::default()
    };
    let config = Config::load(config.as_deref(), flags)?;
    let findings = kaban_node::doctor::examine(&config, kaban_node::clock::now_ms());
    print!("{}", kaban_node::doctor::render(&config, &findings));
    if findings
        .iter()
        .any(|f| f.level == kaban_node::doctor::Level::Fail)
    {
        std::process::exit(1);
    }
    Ok(())
}

fn backup(dir: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        kaban_node::storage::database_in(dir).exists(),
        "no database in {}; is the data directory right?",
        dir.display()
    );
    anyhow::ensure!(!out.exists(), "{} exists; choose a new file", out.display());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let (storage, thread) = kaban_node::storage::open(dir)?;
        let personal = storage.backup(out.to_owned(), kaban_node::clock::now_ms()).await?;
        drop(storage);
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("storage thread panicked"))?;
        println!("backed up {} to {}", dir.display(), out.display());
        if personal > 0 {
            println!(
                "this backup holds the personal data (names, phone numbers, notes) of {personal} members: keep it as private as the node (it is mode 600). Erasing a member on the node does not reach it; the node names this backup when that happens"
            );
        }
        anyhow::Ok(())
    })
}

/// Databases of more pages than this (about 40 MiB) show a restore's progress.
const RESTORE_PROGRESS_PAGES: u64 = 10_000;

fn restore(dir: &std::path::Path, from: &std::path::Path) -> anyhow::Result<()> {
    let mut shown = 0;
    let mut progress = |copied: u64, total: u64| {
        // A large database (over RESTORE_PROGRESS_PAGES pages) shows each tenth as it goes.
        let tenth = (copied * 10).checked_div(total).unwrap_or(10);
        if total > RESTORE_PROGRESS_PAGES && tenth > shown {
            shown = tenth;
            eprintln!("restoring: {}% ({copied} of {total} pages)", tenth * 10);
        }
    };
    let aside =
        kaban_node::storage::restore(dir, from, kaban_node::clock::now_ms(), &mut progress)?;
    if let Some(aside) = aside {
        println!("moved the current database aside to {}", aside.display());
    }
    println!("restored {} into {}", from.display(), dir.display());
    Ok(())
}

/// What the operator reads when the node has started.
fn print_started(s: &kaban_node::node::Started) {
    println!("kaban-node {}", env!("CARGO_PKG_VERSION"));
    println!("node id: {}", s.node_id);
    println!("http: http://{}", s.http);
    if let Some(https) = s.https {
        println!("https: https://{https}");
        println!(
            "phones: install http://{}/kaban-ca.crt once, then open https://NAME:{}",
            s.http,
            https.port()
        );
    }
    for addr in &s.listen {
        println!("p2p: {addr}");
    }
    if s.relay {
        println!("relay: serving this node's partners");
    }
    if let Some(fingerprint) = &s.ca_fingerprint {
        println!("CA fingerprint (SHA-256): {fingerprint}");
    }
    if let Some(code) = &s.setup_code {
        print_setup_code(code);
    }
    println!("admin token: {}", s.admin_token.display());
    println!("data dir: {}", s.data_dir.display());
}

fn print_setup_code(code: &str) {
    println!(
        "setup code: {code} (founds one book, within {} minutes; `kaban-node setup-code` makes another)",
        kaban_node::setup::SETUP_CODE_TTL.as_secs() / 60
    );
    println!("{}", kaban_node::setup::qr_text(code));
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
