//! `kaban`: the officer's command line. Holds signer keys locally, signs records here, and
//! talks HTTP to a node. A signer key never leaves this machine.

mod journey;
mod node;
mod views;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use kaban_protocol::key::{PublicKey, SignerKey};
use kaban_protocol::kind::{
    Approval, Body, Contribution, Enterprise, Genesis, Investor, Meeting, MemberJoin, Officer,
    Receipt, Reversal, Role, RoleChange, Rules, Share, StakeRule, Transfer, Withdrawal,
};
use kaban_protocol::money::{Currency, Money};
use kaban_protocol::record::{BookId, Place, Record, RecordId};
use node::Node;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

#[derive(Parser)]
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

#[derive(Subcommand)]
enum Command {
    /// Signer keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Books.
    #[command(subcommand)]
    Book(BookCommand),
    /// Members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Grant or revoke an officer's role (needs the role-change quorum).
    #[command(subcommand)]
    Role(RoleCommand),
    /// Open a meeting; prints its id, for contributions to name.
    Meeting {
        #[arg(long)]
        book: String,
        /// The meeting's date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[arg(long)]
        place: Option<String>,
    },
    /// Record a member's contribution; prints the record id.
    Contribute {
        #[arg(long)]
        book: String,
        #[arg(long)]
        member: String,
        /// In major units, like 500 or 500.25.
        #[arg(long)]
        amount: String,
        /// The meeting it was paid at.
        #[arg(long)]
        meeting: Option<String>,
    },
    /// Record a withdrawal; it takes effect when key holders approve it.
    Withdraw {
        #[arg(long)]
        book: String,
        #[arg(long)]
        member: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reason: String,
    },
    /// Approve a record that needs several signatures.
    Approve {
        #[arg(long)]
        book: String,
        #[arg(long)]
        record: String,
    },
    /// Reverse a contribution or withdrawal (needs the reversal quorum).
    Reverse {
        #[arg(long)]
        book: String,
        #[arg(long)]
        record: String,
        #[arg(long)]
        reason: String,
    },
    /// Enterprise book: register an investor group and its officers (needs the cooperative's
    /// quorum).
    Investor {
        #[arg(long)]
        book: String,
        /// The investor group's savings book id.
        #[arg(long)]
        group: String,
        #[arg(long)]
        name: String,
        /// The group's currency, like HKD.
        #[arg(long)]
        currency: String,
        /// An officer of the group, by public key; repeat for each.
        #[arg(long = "officer", allow_hyphen_values = true, required = true)]
        officers: Vec<String>,
        /// How many of them must sign a transfer.
        #[arg(long, default_value_t = 2)]
        quorum: u32,
    },
    /// Enterprise book: record money the group sends (its officers approve it to its quorum).
    Transfer {
        #[arg(long)]
        book: String,
        #[arg(long)]
        group: String,
        /// In the group's currency, major units.
        #[arg(long)]
        amount: String,
        /// Fees in the group's currency.
        #[arg(long, default_value = "0")]
        fee: String,
        /// Units of the enterprise's currency per unit of the group's, like 7.185.
        #[arg(long)]
        rate: String,
        /// Where the rate came from.
        #[arg(long)]
        rate_source: String,
        /// What should arrive, in the enterprise's currency.
        #[arg(long)]
        expected: String,
        /// How the money is sent, like "bank remittance".
        #[arg(long)]
        channel: String,
        /// The channel's reference.
        #[arg(long)]
        reference: String,
    },
    /// Enterprise book: the cooperative's treasurer acknowledges a transfer with what arrived.
    Receipt {
        #[arg(long)]
        book: String,
        #[arg(long)]
        transfer: String,
        /// What arrived, in the enterprise's currency.
        #[arg(long)]
        received: String,
    },
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
    Pending {
        #[arg(long)]
        book: String,
    },
    /// A member's statement: balance, stake, returns, her share of each enterprise, entries.
    Statement(views::StatementView),
    /// Share a book with a partner node (needs the share quorum) and print an invite code for
    /// the partner's operator.
    Share {
        #[arg(long)]
        book: String,
        /// The partner node's id (`kaban-node id` on the partner's machine).
        #[arg(long)]
        peer: String,
        /// Also print the invite as a QR code, for the partner to scan from this screen.
        #[arg(long)]
        qr: bool,
    },
    /// Stop sharing a book with a partner node.
    Unshare {
        #[arg(long)]
        book: String,
        #[arg(long)]
        peer: String,
    },
    /// Partner nodes (needs --admin-token).
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Show the address phones on the LAN open to pair with this node, as text and a QR code.
    Phone {
        /// The node's address as phones reach it, like http://192.168.1.20:8737 (the node
        /// must listen there: `kaban-node run --http 0.0.0.0:8737`). Defaults to --node.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum PeerCommand {
    /// Accept an invite code: this node will fetch the book from the partner and keep it in sync.
    Join { code: String },
    /// Partner nodes, their connection state, and for each shared book whether it is in sync.
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Write a new signer key (mode 0600) and print its public key.
    New {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of --key.
    Show,
}

#[derive(Subcommand)]
enum BookCommand {
    /// Found a book; the --key holder is its founding treasurer. Prints the book id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        currency: String,
        /// Another founding officer, as PUBKEY:ROLE (treasurer, chair, secretary, key_holder).
        // Public keys are base64url and may start with '-'.
        #[arg(long = "officer", allow_hyphen_values = true)]
        officers: Vec<String>,
        /// How many officers must sign a withdrawal (default 2).
        #[arg(long)]
        withdrawal_quorum: Option<u32>,
        /// What decides a member's stake when returns are distributed: balance (the default)
        /// or contributions.
        #[arg(long, value_parser = ["balance", "contributions"])]
        stake: Option<String>,
        /// Found an enterprise book (a cooperative's): the enterprise's country, like PH.
        #[arg(long, requires = "sector")]
        country: Option<String>,
        /// The enterprise's sector, like "organic rice farming".
        #[arg(long, requires = "country")]
        sector: Option<String>,
        /// The node's one-time setup code (it prints one when it starts with no books;
        /// `kaban-node setup-code` prints a fresh one). Or pass --admin-token.
        #[arg(long, env = "KABAN_SETUP_CODE")]
        setup_code: Option<String>,
    },
    /// The books you can read (all of them with --admin-token).
    List,
    /// Remove a book from the node (needs --admin-token): only one no partner shares and in
    /// which no officer of another book on the node holds a role, like a stranger's book.
    Remove {
        #[arg(long)]
        book: String,
        /// The book's name, to confirm which book goes.
        #[arg(long)]
        name: String,
    },
    /// Totals, record count, members, pending approvals and anomalies.
    Show {
        #[arg(long)]
        book: String,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a member; prints her member id.
    Add(MemberAdd),
    /// Erase a member's local personal data (names, phone numbers) from the node.
    Erase {
        #[arg(long)]
        book: String,
        #[arg(long)]
        member: String,
    },
}

#[derive(Args)]
struct MemberAdd {
    #[arg(long)]
    book: String,
    /// The name the group knows her by; not her legal name.
    #[arg(long)]
    alias: String,
    /// Her own signer key, so she can read her statement.
    #[arg(long, allow_hyphen_values = true)]
    member_key: Option<String>,
    /// Choose the member id instead of a random one.
    #[arg(long)]
    member: Option<String>,
}

#[derive(Subcommand)]
enum RoleCommand {
    Grant(RoleArgs),
    Revoke(RoleArgs),
}

#[derive(Args)]
struct RoleArgs {
    #[arg(long)]
    book: String,
    /// The officer's public key (it may start with '-').
    #[arg(long, allow_hyphen_values = true)]
    to: String,
    #[arg(long)]
    role: String,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kaban: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `text` as a QR code drawn with Unicode half blocks, light on dark terminals and dark on light
/// ones alike (it draws its own quiet zone).
fn qr_text(text: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::L)
        .map_err(|e| anyhow::anyhow!("the invite does not fit in a QR code: {e}"))?;
    let picture = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .build();
    Ok(format!("\n{picture}\n"))
}

/// How long ago `ms` (Unix milliseconds) was, in words.
fn time_text(ms: u64) -> String {
    let secs = now_ms().saturating_sub(ms) / 1000;
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn load_key(path: Option<&Path>) -> anyhow::Result<SignerKey> {
    let path = path
        .ok_or_else(|| anyhow!("this needs your signer key: pass --key FILE or set KABAN_KEY"))?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    SignerKey::from_key_file(&text).with_context(|| format!("key file {}", path.display()))
}

fn parse_book(text: &str) -> anyhow::Result<BookId> {
    Ok(text.parse()?)
}

fn parse_record_id(text: &str) -> anyhow::Result<RecordId> {
    Ok(text.parse()?)
}

fn random_member_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    format!("m-{tail}")
}

struct Ctx {
    cli_node: String,
    key: Option<PathBuf>,
    admin_token: Option<PathBuf>,
    json: bool,
}

impl Ctx {
    fn node(&self) -> Node {
        Node::new(&self.cli_node)
    }

    fn session(&self) -> anyhow::Result<(SignerKey, Node)> {
        let key = load_key(self.key.as_deref())?;
        let node = self.node().open_session(&key)?;
        Ok((key, node))
    }

    fn sign_and_submit(&self, book: &str, body: Body) -> anyhow::Result<String> {
        let book_id = parse_book(book)?;
        // The node tells where to sign only to people with a session.
        let (key, node) = self.session()?;
        let record = node.sign(&key, book_id, now_ms(), &body)?;
        node.submit(book, &record)
    }

    /// Signs and submits a record whose amount the officer typed in major units: the book's
    /// currency (read with a session) decides how many decimals it may have.
    fn sign_and_submit_amount(
        &self,
        book: &str,
        amount: &str,
        body: impl FnOnce(Money) -> anyhow::Result<Body>,
    ) -> anyhow::Result<String> {
        let (key, node) = self.session()?;
        let summary = node.get(&format!("/books/{book}"))?;
        let currency: Currency = summary["currency"]
            .as_str()
            .ok_or_else(|| anyhow!("the node did not say book {book}'s currency"))?
            .parse()?;
        let body = body(Money::parse_major(amount, currency)?)?;
        let record = node.sign(&key, parse_book(book)?, now_ms(), &body)?;
        node.submit(book, &record)
    }

    fn admin(&self) -> anyhow::Result<Node> {
        let path = self.admin_token.as_deref().ok_or_else(|| {
            anyhow!("this needs the node's admin token: pass --admin-token FILE (the node prints where it is)")
        })?;
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read admin token {}", path.display()))?;
        Ok(self.node().with_token(token.trim().to_owned()))
    }

    /// Prints the answer. A closed pipe (`kaban ... | head`) is not an error worth a panic.
    fn print(&self, human: impl std::fmt::Display, machine: Value) {
        let mut out = std::io::stdout().lock();
        let _ = if self.json {
            writeln!(out, "{machine}")
        } else {
            writeln!(out, "{human}")
        };
    }
}

/// `text` as a URL query value: unreserved characters as they are, everything else as %XX.
fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn money_lines(list: &Value) -> String {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|m| {
                    let currency: Currency = m["currency"].as_str()?.parse().ok()?;
                    Some(Money::new(m["minor"].as_i64()?, currency).to_string())
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Ctx {
        cli_node: cli.node,
        key: cli.key,
        admin_token: cli.admin_token,
        json: cli.json,
    };
    match cli.command {
        Command::Key(KeyCommand::New { out }) => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).expect("the operating system provides randomness");
            let key = SignerKey::from_seed(seed);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&out)
                .with_context(|| {
                    format!("cannot create {} (it must not exist yet)", out.display())
                })?;
            f.write_all(key.to_key_file().as_bytes())?;
            f.sync_all()?;
            ctx.print(key.public(), json!({"public": key.public(), "file": out}));
        }
        Command::Key(KeyCommand::Show) => {
            let key = load_key(ctx.key.as_deref())?;
            ctx.print(key.public(), json!({"public": key.public()}));
        }
        Command::Book(BookCommand::Create {
            name,
            currency,
            officers,
            withdrawal_quorum,
            stake,
            country,
            sector,
            setup_code,
        }) => {
            let founder = match (setup_code, &ctx.admin_token) {
                (Some(code), _) => ctx.node().with_setup_code(code),
                (None, Some(_)) => ctx.admin()?,
                (None, None) => bail!(
                    "founding a book needs the node's setup code (--setup-code; the node prints one when it starts with no books, and `kaban-node setup-code` prints a fresh one) or --admin-token FILE"
                ),
            };
            let key = load_key(ctx.key.as_deref())?;
            let currency: Currency = currency.parse()?;
            let mut roles: BTreeMap<PublicKey, Vec<Role>> = BTreeMap::new();
            roles.entry(key.public()).or_default().push(Role::Treasurer);
            for o in &officers {
                let (k, r) = o
                    .rsplit_once(':')
                    .ok_or_else(|| anyhow!("--officer {o:?} must be PUBKEY:ROLE"))?;
                let role: Role = r.parse().map_err(|e: String| anyhow!(e))?;
                let list = roles.entry(k.parse()?).or_default();
                if !list.contains(&role) {
                    list.push(role);
                }
            }
            let mut rules = Rules::default();
            if let Some(q) = withdrawal_quorum {
                rules.quorum.insert("withdrawal".into(), q);
            }
            rules.stake = match stake.as_deref() {
                Some("contributions") => Some(StakeRule::Contributions),
                Some(_) => Some(StakeRule::Balance),
                None => None,
            };
            let body = Body::Genesis(Genesis {
                enterprise: country
                    .zip(sector)
                    .map(|(country, sector)| Enterprise { country, sector }),
                name,
                currency,
                rules,
                officers: roles
                    .into_iter()
                    .map(|(key, roles)| Officer { key, roles })
                    .collect(),
            });
            let record = Record::try_sign(&key, &Place::genesis(), now_ms(), &body)?;
            let (_, v) = founder.send("POST", "/books", record.bytes().to_vec())?;
            let id = v["book"].as_str().unwrap_or_default().to_owned();
            ctx.print(&id, json!({"book": id}));
        }
        Command::Book(BookCommand::Remove { book, name }) => {
            let name = encode_query(&name);
            let v = ctx
                .admin()?
                .delete(&format!("/admin/books/{book}?name={name}"))?;
            ctx.print(format!("removed book {book} from this node"), v);
        }
        Command::Book(BookCommand::List) => {
            let node = match &ctx.admin_token {
                Some(_) => ctx.admin()?,
                None => ctx.session()?.1,
            };
            let v = node.get("/books")?;
            let human = v["books"]
                .as_array()
                .map(|books| {
                    books
                        .iter()
                        .map(|b| {
                            format!(
                                "{}  {} ({}, {} records)",
                                b["book"].as_str().unwrap_or(""),
                                b["name"].as_str().unwrap_or(""),
                                b["currency"].as_str().unwrap_or(""),
                                b["record_count"]
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            ctx.print(
                if human.is_empty() {
                    "no books".into()
                } else {
                    human
                },
                v,
            );
        }
        Command::Book(BookCommand::Show { book }) => {
            let (_, node) = ctx.session()?;
            let v = node.get(&format!("/books/{book}"))?;
            let human = format!(
                "{}\n  book: {book}\n  totals: {}\n  records: {}\n  members: {}\n  pending approvals: {}\n  anomalies: {}",
                v["name"].as_str().unwrap_or(""),
                money_lines(&v["balances"]),
                v["record_count"],
                v["members"],
                v["pending"].as_array().map_or(0, Vec::len),
                v["anomalies"]
                    .as_array()
                    .map(|a| {
                        if a.is_empty() {
                            "none".to_owned()
                        } else {
                            a.iter()
                                .map(|x| {
                                    format!(
                                        "\n    {}: {}",
                                        x["kind"].as_str().unwrap_or(""),
                                        x["detail"].as_str().unwrap_or("")
                                    )
                                })
                                .collect()
                        }
                    })
                    .unwrap_or_default(),
            );
            ctx.print(human, v);
        }
        Command::Member(MemberCommand::Add(add)) => {
            let member = add.member.clone().unwrap_or_else(random_member_id);
            let body = Body::MemberJoin(MemberJoin {
                member: member.parse()?,
                alias: add.alias,
                key: add.member_key.as_deref().map(str::parse).transpose()?,
            });
            let id = ctx.sign_and_submit(&add.book, body)?;
            ctx.print(&member, json!({"member": member, "record": id}));
        }
        Command::Member(MemberCommand::Erase { book, member }) => {
            let (_, node) = ctx.session()?;
            let v = node.delete(&format!("/books/{book}/members/{member}/personal"))?;
            let mut human = if v["erased"] == json!(true) {
                format!("erased the personal data of member {member} from this node")
            } else {
                format!("this node held no personal data of member {member}")
            };
            for backup in v["backups_still_holding"].as_array().into_iter().flatten() {
                human.push_str(&format!(
                    "\nbackup {} still holds it: ask the node's operator to delete it",
                    backup.as_str().unwrap_or_default()
                ));
            }
            ctx.print(human, v);
        }
        Command::Role(cmd) => {
            let (args, grant) = match cmd {
                RoleCommand::Grant(a) => (a, true),
                RoleCommand::Revoke(a) => (a, false),
            };
            let change = RoleChange {
                key: args.to.parse()?,
                role: args.role.parse().map_err(|e: String| anyhow!(e))?,
            };
            let body = if grant {
                Body::RoleGrant(change)
            } else {
                Body::RoleRevoke(change)
            };
            let id = ctx.sign_and_submit(&args.book, body)?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Meeting { book, date, place } => {
            let id = ctx.sign_and_submit(
                &book,
                Body::Meeting(Meeting {
                    date,
                    place,
                    attendance: Vec::new(),
                }),
            )?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Contribute {
            book,
            member,
            amount,
            meeting,
        } => {
            let id = ctx.sign_and_submit_amount(&book, &amount, |amount| {
                Ok(Body::Contribution(Contribution {
                    member: member.parse()?,
                    amount,
                    meeting: meeting.as_deref().map(parse_record_id).transpose()?,
                }))
            })?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Withdraw {
            book,
            member,
            amount,
            reason,
        } => {
            let id = ctx.sign_and_submit_amount(&book, &amount, |amount| {
                Ok(Body::Withdrawal(Withdrawal {
                    member: member.parse()?,
                    amount,
                    reason,
                }))
            })?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Approve { book, record } => {
            let id = ctx.sign_and_submit(
                &book,
                Body::Approval(Approval {
                    record: parse_record_id(&record)?,
                }),
            )?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Reverse {
            book,
            record,
            reason,
        } => {
            let id = ctx.sign_and_submit(
                &book,
                Body::Reversal(Reversal {
                    record: parse_record_id(&record)?,
                    reason,
                }),
            )?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Investor {
            book,
            group,
            name,
            currency,
            officers,
            quorum,
        } => {
            let officers = officers
                .iter()
                .map(|k| k.parse::<PublicKey>())
                .collect::<Result<Vec<_>, _>>()?;
            let id = ctx.sign_and_submit(
                &book,
                Body::Investor(Investor {
                    group: parse_book(&group)?,
                    name,
                    currency: currency.parse()?,
                    officers,
                    quorum,
                }),
            )?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Transfer {
            book,
            group,
            amount,
            fee,
            rate,
            rate_source,
            expected,
            channel,
            reference,
        } => {
            let (key, node) = ctx.session()?;
            let group = parse_book(&group)?;
            let book_currency: Currency = node.get(&format!("/books/{book}"))?["currency"]
                .as_str()
                .ok_or_else(|| anyhow!("the node did not say book {book}'s currency"))?
                .parse()?;
            let view = node.get(&format!("/books/{book}/transfers"))?;
            let group_currency = journey::group_currency(&view, group, &book)?;
            let body = Body::Transfer(Transfer {
                group,
                amount: Money::parse_major(&amount, group_currency)?,
                fee: Money::parse_major(&fee, group_currency)?,
                rate,
                rate_source,
                expected: Money::parse_major(&expected, book_currency)?,
                channel,
                reference,
            });
            let record = node.sign(&key, parse_book(&book)?, now_ms(), &body)?;
            let id = node.submit(&book, &record)?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Receipt {
            book,
            transfer,
            received,
        } => {
            let transfer = parse_record_id(&transfer)?;
            let id = ctx.sign_and_submit_amount(&book, &received, |received| {
                Ok(Body::Receipt(Receipt { transfer, received }))
            })?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Transfers(a) => views::transfers(&ctx, a)?,
        Command::Report(a) => journey::report(&ctx, a)?,
        Command::Return(a) => journey::declare_return(&ctx, a)?,
        Command::ReturnReceipt(a) => journey::return_receipt(&ctx, a)?,
        Command::Invest(a) => journey::invest(&ctx, a)?,
        Command::Distribute(a) => journey::distribute(&ctx, a)?,
        Command::Leave(a) => journey::leave(&ctx, a)?,
        Command::Admit(a) => journey::admit(&ctx, a)?,
        Command::Balances(a) => views::balances(&ctx, a)?,
        Command::Portfolio(a) => views::portfolio(&ctx, a)?,
        Command::Dashboard(a) => views::dashboard(&ctx, a)?,
        Command::Impact(a) => views::impact(&ctx, a)?,
        Command::Pending { book } => {
            let (_, node) = ctx.session()?;
            let v = node.get(&format!("/books/{book}/pending"))?;
            let human = v["pending"]
                .as_array()
                .map(|p| {
                    if p.is_empty() {
                        return "nothing awaits approval".to_owned();
                    }
                    p.iter()
                        .map(|x| {
                            format!(
                                "{}  {} ({} of {} signatures)",
                                x["record"].as_str().unwrap_or(""),
                                x["summary"].as_str().unwrap_or(""),
                                x["signed_by"].as_array().map_or(0, Vec::len),
                                x["need"]
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            ctx.print(human, v);
        }
        Command::Share { book, peer, qr } => {
            let id = ctx.sign_and_submit(&book, Body::Share(Share { peer: peer.clone() }))?;
            let node = ctx.node().get("/node")?;
            let invite = kaban_protocol::invite::Invite {
                addrs: node["listen"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                book: parse_book(&book)?,
                peer: node["node_id"].as_str().unwrap_or_default().to_owned(),
            };
            let code = invite.to_code();
            let picture = if qr { qr_text(&code)? } else { String::new() };
            let human = format!(
                "{code}\n{picture}\nGive this invite code to the partner's operator. The share ({id}) takes effect once it has its quorum: another officer runs\n  kaban approve --book {book} --record {id}"
            );
            ctx.print(human, json!({"code": code, "record": id}));
        }
        Command::Unshare { book, peer } => {
            let id = ctx.sign_and_submit(&book, Body::Unshare(Share { peer }))?;
            ctx.print(&id, json!({"record": id}));
        }
        Command::Peer(PeerCommand::Join { code }) => {
            let body = json!({"code": code}).to_string().into_bytes();
            let (_, v) = ctx.admin()?.send("POST", "/admin/peers", body)?;
            let human = format!(
                "accepted: this node will fetch book {} from {} and keep it in sync",
                v["book"].as_str().unwrap_or(""),
                v["peer"].as_str().unwrap_or("")
            );
            ctx.print(human, v);
        }
        Command::Peer(PeerCommand::List) => {
            let v = ctx.admin()?.get("/admin/peers")?;
            let human = v["partners"]
                .as_array()
                .map(|p| {
                    if p.is_empty() {
                        return "no partners yet".to_owned();
                    }
                    p.iter()
                        .map(|x| {
                            format!(
                                "{}  book {}  {}  {}{}",
                                x["peer"].as_str().unwrap_or(""),
                                x["book"].as_str().unwrap_or(""),
                                match x["connection"].as_str() {
                                    Some(how) => format!("connected ({how})"),
                                    None => "not connected".to_owned(),
                                },
                                if x["in_sync"] == json!(true) {
                                    "in sync"
                                } else {
                                    "syncing"
                                },
                                match (x["last_synced_ms"].as_u64(), x["last_error"].as_str()) {
                                    (_, Some(e)) if x["connection"].is_null() => {
                                        format!("  last error: {e}")
                                    }
                                    (Some(ms), _) => format!("  last synced {}", time_text(ms)),
                                    _ => String::new(),
                                },
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            ctx.print(human, v);
        }
        Command::Statement(a) => views::statement(&ctx, a)?,
        Command::Phone { url } => {
            let url = url.unwrap_or_else(|| ctx.cli_node.clone());
            ctx.node()
                .get("/health")
                .with_context(|| format!("checking that the node answers at {}", ctx.cli_node))?;
            // The CA a phone installs: its fingerprint, to compare with what the phone shows
            // and with what the node printed at start.
            let fingerprint = ctx
                .node()
                .get_file("/kaban-ca.crt")
                .and_then(|pem| kaban_protocol::fingerprint::fingerprint(&pem));
            let ca = match &fingerprint {
                Some(f) => format!(
                    "\nThe phone installs the node's CA certificate first; before trusting it, check that its SHA-256 fingerprint is\n  {f}\n"
                ),
                None => String::new(),
            };
            let human = format!(
                "{url}\n{}\n{ca}Open this address on the phone (or scan the code), make the phone's key, and add it to the book:\n  kaban member add --book BOOK --alias NAME --member-key PHONE_KEY   (a member)\n  kaban role grant --book BOOK --to PHONE_KEY --role treasurer         (an officer; needs the role quorum)",
                qr_text(&url)?
            );
            ctx.print(human, json!({"url": url, "ca_fingerprint": fingerprint}));
        }
    }
    Ok(())
}
