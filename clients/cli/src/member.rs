//! `kaban member`: adding a member to a book, and erasing her personal data from this node.

use crate::context::Ctx;
use clap::{Args, Subcommand};
use kaban_protocol::api;
use kaban_protocol::kind::{Body, MemberJoin};
use kaban_protocol::record::RecordId;
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
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

#[derive(Debug, Args)]
pub struct MemberAdd {
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

/// What `kaban member add` prints with `--json`.
#[derive(Debug, Serialize)]
struct Added {
    member: String,
    record: RecordId,
}

pub fn run(ctx: &Ctx, command: MemberCommand) -> anyhow::Result<()> {
    match command {
        MemberCommand::Add(add) => {
            let member = add.member.clone().unwrap_or_else(random_member_id);
            let body = Body::MemberJoin(MemberJoin {
                member: member.parse()?,
                alias: add.alias,
                key: add.member_key.as_deref().map(str::parse).transpose()?,
            });
            let record = ctx.sign_and_submit(&add.book, body)?;
            ctx.print(
                &member,
                &Added {
                    member: member.clone(),
                    record,
                },
            );
        }
        MemberCommand::Erase { book, member } => {
            let (_, node) = ctx.session()?;
            let answer = node
                .delete::<api::book::Erased>(&format!("/books/{book}/members/{member}/personal"))?;
            let mut human = if answer.body.erased {
                format!("erased the personal data of member {member} from this node")
            } else {
                format!("this node held no personal data of member {member}")
            };
            for backup in &answer.body.backups_still_holding {
                human.push_str(&format!(
                    "\nbackup {backup} still holds it: ask the node's operator to delete it"
                ));
            }
            ctx.print(human, &answer.raw);
        }
    }
    Ok(())
}

/// A member id nobody chose: `m-` and ten letters and digits that do not look alike.
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
