//! Sharing books with partner nodes and pairing phones: `kaban share` and `kaban unshare`
//! (records, at the share quorum), `kaban peer` (the operator's partners) and `kaban phone`
//! (the address phones on the LAN open).

use crate::context::{Ctx, now_ms, parse_book};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use kaban_protocol::api;
use kaban_protocol::invite::Invite;
use kaban_protocol::kind::{Body, Share};
use kaban_protocol::record::RecordId;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct ShareArgs {
    #[arg(long)]
    book: String,
    /// The partner node's id (`kaban-node id` on the partner's machine).
    #[arg(long)]
    peer: String,
    /// Also print the invite as a QR code, for the partner to scan from this screen.
    #[arg(long)]
    qr: bool,
}

#[derive(Debug, Args)]
pub struct UnshareArgs {
    #[arg(long)]
    book: String,
    #[arg(long)]
    peer: String,
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Accept an invite code: this node will fetch the book from the partner and keep it in sync.
    Join { code: String },
    /// Partner nodes, their connection state, and for each shared book whether it is in sync.
    List,
}

#[derive(Debug, Args)]
pub struct PhoneArgs {
    /// The node's address as phones reach it, like http://192.168.1.20:8737 (the node
    /// must listen there: `kaban-node run --http 0.0.0.0:8737`). Defaults to --node.
    #[arg(long)]
    url: Option<String>,
}

/// What `kaban share` prints with `--json`.
#[derive(Debug, Serialize)]
struct Shared {
    code: String,
    record: RecordId,
}

/// What `kaban phone` prints with `--json`.
#[derive(Debug, Serialize)]
struct Pairing {
    url: String,
    ca_fingerprint: Option<String>,
}

pub fn share(ctx: &Ctx, a: ShareArgs) -> anyhow::Result<()> {
    let id = ctx.sign_and_submit(
        &a.book,
        Body::Share(Share {
            peer: a.peer.clone(),
        }),
    )?;
    let node: api::node::NodeInfo = ctx.node().get("/node")?.body;
    let invite = Invite {
        addrs: node.listen,
        book: parse_book(&a.book)?,
        peer: node.node_id,
    };
    let code = invite.to_code();
    let picture = if a.qr { qr_text(&code)? } else { String::new() };
    let human = format!(
        "{code}\n{picture}\nGive this invite code to the partner's operator. The share ({id}) takes effect once it has its quorum: another officer runs\n  kaban approve --book {} --record {id}",
        a.book
    );
    ctx.print(human, &Shared { code, record: id });
    Ok(())
}

pub fn unshare(ctx: &Ctx, a: UnshareArgs) -> anyhow::Result<()> {
    ctx.print_signed(ctx.sign_and_submit(&a.book, Body::Unshare(Share { peer: a.peer })))
}

pub fn peer(ctx: &Ctx, command: PeerCommand) -> anyhow::Result<()> {
    match command {
        PeerCommand::Join { code } => {
            let request = api::node::JoinRequest { code };
            let answer = ctx
                .admin()?
                .post::<api::node::Joined>("/admin/peers", &request)?;
            let human = format!(
                "accepted: this node will fetch book {} from {} and keep it in sync",
                answer.body.book, answer.body.peer
            );
            ctx.print(human, &answer.raw);
        }
        PeerCommand::List => {
            let answer = ctx.admin()?.get::<api::node::Peers>("/admin/peers")?;
            let human = if answer.body.partners.is_empty() {
                "no partners yet".to_owned()
            } else {
                let lines: Vec<String> = answer.body.partners.iter().map(partner_line).collect();
                lines.join("\n")
            };
            ctx.print(human, &answer.raw);
        }
    }
    Ok(())
}

/// One partner session, as `kaban peer list` prints it.
fn partner_line(p: &api::node::Partner) -> String {
    let st = &p.state;
    let connection = match &p.connection {
        Some(how) => format!("connected ({how})"),
        None => "not connected".to_owned(),
    };
    let sync = if st.in_sync { "in sync" } else { "syncing" };
    let last = match (st.last_synced_ms, &st.last_error) {
        (_, Some(e)) if p.connection.is_none() => format!("  last error: {e}"),
        (Some(ms), _) => format!("  last synced {}", time_text(ms)),
        _ => String::new(),
    };
    format!("{}  book {}  {connection}  {sync}{last}", st.peer, st.book)
}

pub fn phone(ctx: &Ctx, a: PhoneArgs) -> anyhow::Result<()> {
    let url = a.url.unwrap_or_else(|| ctx.node_url.clone());
    ctx.node()
        .get::<api::node::Health>("/health")
        .with_context(|| format!("checking that the node answers at {}", ctx.node_url))?;
    // The CA a phone installs: its fingerprint, to compare with what the phone shows and with
    // what the node printed at start.
    let ca_fingerprint = ctx
        .node()
        .get_file("/kaban-ca.crt")
        .and_then(|pem| kaban_protocol::fingerprint::fingerprint(&pem));
    let ca = match &ca_fingerprint {
        Some(f) => format!(
            "\nThe phone installs the node's CA certificate first; before trusting it, check that its SHA-256 fingerprint is\n  {f}\n"
        ),
        None => String::new(),
    };
    let human = format!(
        "{url}\n{}\n{ca}Open this address on the phone (or scan the code), make the phone's key, and add it to the book:\n  kaban member add --book BOOK --alias NAME --member-key PHONE_KEY   (a member)\n  kaban role grant --book BOOK --to PHONE_KEY --role treasurer         (an officer; needs the role quorum)",
        qr_text(&url)?
    );
    ctx.print(
        human,
        &Pairing {
            url,
            ca_fingerprint,
        },
    );
    Ok(())
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
