//! `kaban`: the officer's command line. Holds signer keys locally, signs records here, and
//! talks HTTP to a node. A signer key never leaves this machine.
//!
//! One module per group of commands; each reads the node's answers as the shared
//! `kaban_protocol::api` types, so an answer the CLI cannot read is an error that names the
//! command and the missing field, never a blank in the output.

mod approve;
mod book;
mod context;
mod enterprise;
mod journey;
mod key;
mod meeting;
mod member;
mod node;
mod role;
mod share;
mod views;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use context::Ctx;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "kaban",
    version,
    about = "Record a savings group's meetings, signed with your own key"
)]
struct Cli {
    /// The node's URL.
    #[arg(
        long,
        global = true,
        env = "KABAN_NODE",
        default_value = "http://127.0.0.1:8737"
    )]
    node: String,
    /// Your signer key file.
    #[arg(long, global = true, env = "KABAN_KEY")]
    key: Option<PathBuf>,
    /// The node's admin token file, for node administration.
    #[arg(long, global = true, env = "KABAN_ADMIN_TOKEN")]
    admin_token: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Signer keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Books.
    #[command(subcommand)]
    Book(book::BookCommand),
    /// Members.
    #[command(subcommand)]
    Member(member::MemberCommand),
    /// Grant or revoke an officer's role (needs the role-change quorum).
    #[command(subcommand)]
    Role(role::RoleCommand),
    /// Open a meeting; prints its id, for contributions to name.
    Meeting(meeting::MeetingArgs),
    /// Record a member's contribution; prints the record id.
    Contribute(meeting::ContributeArgs),
    /// Record a withdrawal; it takes effect when key holders approve it.
    Withdraw(meeting::WithdrawArgs),
    /// Approve a record that needs several signatures.
    Approve(approve::ApproveArgs),
    /// Reverse a contribution or withdrawal (needs the reversal quorum).
    Reverse(approve::ReverseArgs),
    /// Enterprise book: register an investor group and its officers (needs the cooperative's
    /// quorum).
    Investor(enterprise::InvestorArgs),
    /// Enterprise book: record money the group sends (its officers approve it to its quorum).
    Transfer(enterprise::TransferArgs),
    /// Enterprise book: the cooperative's treasurer acknowledges a transfer with what arrived.
    Receipt(enterprise::ReceiptArgs),
    /// Enterprise book: transfers reconciled with their receipts.
    Transfers(views::TransfersView),
    /// Enterprise book: the cooperative's officers report a period (needs the report quorum).
    Report(journey::ReportArgs),
    /// Enterprise book: the cooperative's treasurer declares a return paid to an investor
    /// group (needs the return quorum).
    Return(journey::ReturnArgs),
    /// Enterprise book: an officer of the investor group acknowledges a return.
    ReturnReceipt(journey::ReturnReceiptArgs),
    /// Savings book: accept an enterprise book the group invests in; until a second officer
    /// approves, it moves none of the group's money.
    Invest(journey::InvestArgs),
    /// Savings book: share a received return among the members by their stakes.
    Distribute(journey::DistributeArgs),
    /// Savings book: a member leaves, paid out or converting her stake into membership of a
    /// cooperative.
    Leave(journey::LeaveArgs),
    /// Enterprise book: the cooperative admits a returning member whose stake was converted.
    Admit(journey::AdmitArgs),
    /// Savings book: members' balances and stakes.
    Balances(views::BookView),
    /// Savings book: cash, and what is invested, received back and outstanding per enterprise.
    Portfolio(views::BookView),
    /// Enterprise book: investors, capital received, reports over time, returns paid.
    Dashboard(views::DashboardView),
    /// Impact indicators by principle across the enterprise books you can read.
    Impact(views::Export),
    /// Records awaiting approvals.
    Pending(approve::PendingArgs),
    /// A member's statement: balance, stake, returns, her share of each enterprise, entries.
    Statement(views::StatementView),
    /// Share a book with a partner node (needs the share quorum) and print an invite code for
    /// the partner's operator.
    Share(share::ShareArgs),
    /// Stop sharing a book with a partner node.
    Unshare(share::UnshareArgs),
    /// Partner nodes (needs --admin-token).
    #[command(subcommand)]
    Peer(share::PeerCommand),
    /// Show the address phones on the LAN open to pair with this node, as text and a QR code.
    Phone(share::PhoneArgs),
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Write a man page for kaban and for each of its commands into DIR (for packagers).
    #[command(hide = true)]
    Man { dir: PathBuf },
}

fn main() -> std::process::ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let ctx = Ctx {
        node_url: cli.node,
        key: cli.key,
        admin_token: cli.admin_token,
        json: cli.json,
        command: command_name(&matches),
    };
    match run(&ctx, cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kaban: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The subcommands as typed, like `book show`, for errors that name the command.
fn command_name(matches: &clap::ArgMatches) -> String {
    let mut words = Vec::new();
    let mut level = matches;
    while let Some((name, sub)) = level.subcommand() {
        words.push(name);
        level = sub;
    }
    words.join(" ")
}

fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Key(c) => key::run(ctx, c),
        Command::Book(c) => book::run(ctx, c),
        Command::Member(c) => member::run(ctx, c),
        Command::Role(c) => role::run(ctx, c),
        Command::Meeting(a) => meeting::meeting(ctx, a),
        Command::Contribute(a) => meeting::contribute(ctx, a),
        Command::Withdraw(a) => meeting::withdraw(ctx, a),
        Command::Approve(a) => approve::approve(ctx, a),
        Command::Reverse(a) => approve::reverse(ctx, a),
        Command::Pending(a) => approve::pending(ctx, a),
        Command::Investor(a) => enterprise::investor(ctx, a),
        Command::Transfer(a) => enterprise::transfer(ctx, a),
        Command::Receipt(a) => enterprise::receipt(ctx, a),
        Command::Transfers(a) => views::transfers(ctx, a),
        Command::Report(a) => journey::report(ctx, a),
        Command::Return(a) => journey::declare_return(ctx, a),
        Command::ReturnReceipt(a) => journey::return_receipt(ctx, a),
        Command::Invest(a) => journey::invest(ctx, a),
        Command::Distribute(a) => journey::distribute(ctx, a),
        Command::Leave(a) => journey::leave(ctx, a),
        Command::Admit(a) => journey::admit(ctx, a),
        Command::Balances(a) => views::balances(ctx, a),
        Command::Portfolio(a) => views::portfolio(ctx, a),
        Command::Dashboard(a) => views::dashboard(ctx, a),
        Command::Impact(a) => views::impact(ctx, a),
        Command::Statement(a) => views::statement(ctx, a),
        Command::Share(a) => share::share(ctx, a),
        Command::Unshare(a) => share::unshare(ctx, a),
        Command::Peer(c) => share::peer(ctx, c),
        Command::Phone(a) => share::phone(ctx, a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "kaban", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { dir } => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(Cli::command(), &dir)?;
            Ok(())
        }
    }
}
