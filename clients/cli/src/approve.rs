//! Records that need several officers' signatures: `kaban approve`, `kaban reverse`, and
//! `kaban pending`, which lists what awaits approval.

use crate::context::{Ctx, parse_record_id};
use clap::Args;
use kaban_protocol::api;
use kaban_protocol::kind::{Approval, Body, Reversal};

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[arg(long)]
    book: String,
    #[arg(long)]
    record: String,
}

#[derive(Debug, Args)]
pub struct ReverseArgs {
    #[arg(long)]
    book: String,
    #[arg(long)]
    record: String,
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Args)]
pub struct PendingArgs {
    #[arg(long)]
    book: String,
}

pub fn approve(ctx: &Ctx, a: ApproveArgs) -> anyhow::Result<()> {
    ctx.print_signed(ctx.sign_and_submit(
        &a.book,
        Body::Approval(Approval {
            record: parse_record_id(&a.record)?,
        }),
    ))
}

pub fn reverse(ctx: &Ctx, a: ReverseArgs) -> anyhow::Result<()> {
    ctx.print_signed(ctx.sign_and_submit(
        &a.book,
        Body::Reversal(Reversal {
            record: parse_record_id(&a.record)?,
            reason: a.reason,
        }),
    ))
}

pub fn pending(ctx: &Ctx, a: PendingArgs) -> anyhow::Result<()> {
    let (_, node) = ctx.session()?;
    let answer = node.get::<api::book::PendingList>(&format!("/books/{}/pending", a.book))?;
    let human = if answer.body.pending.is_empty() {
        "nothing awaits approval".to_owned()
    } else {
        answer
            .body
            .pending
            .iter()
            .map(|x| {
                format!(
                    "{}  {} ({} of {} signatures)",
                    x.record,
                    x.summary,
                    x.signed_by.len(),
                    x.need
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.print(human, &answer.raw);
    Ok(())
}
