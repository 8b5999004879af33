//! A savings book's meetings and the money members bring and take: `kaban meeting`,
//! `kaban contribute`, `kaban withdraw`.

use crate::context::{Ctx, parse_record_id};
use clap::Args;
use kaban_protocol::kind::{Body, Contribution, Meeting, Withdrawal};

#[derive(Debug, Args)]
pub struct MeetingArgs {
    #[arg(long)]
    book: String,
    /// The meeting's date, YYYY-MM-DD.
    #[arg(long)]
    date: String,
    #[arg(long)]
    place: Option<String>,
}

#[derive(Debug, Args)]
pub struct ContributeArgs {
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
}

#[derive(Debug, Args)]
pub struct WithdrawArgs {
    #[arg(long)]
    book: String,
    #[arg(long)]
    member: String,
    #[arg(long)]
    amount: String,
    #[arg(long)]
    reason: String,
}

pub fn meeting(ctx: &Ctx, a: MeetingArgs) -> anyhow::Result<()> {
    let record = ctx.sign_and_submit(
        &a.book,
        Body::Meeting(Meeting {
            date: a.date,
            place: a.place,
            attendance: Vec::new(),
        }),
    )?;
    ctx.print_signed(record);
    Ok(())
}

pub fn contribute(ctx: &Ctx, a: ContributeArgs) -> anyhow::Result<()> {
    let record = ctx.sign_and_submit_amount(&a.book, &a.amount, |amount| {
        Ok(Body::Contribution(Contribution {
            member: a.member.parse()?,
            amount,
            meeting: a.meeting.as_deref().map(parse_record_id).transpose()?,
        }))
    })?;
    ctx.print_signed(record);
    Ok(())
}

pub fn withdraw(ctx: &Ctx, a: WithdrawArgs) -> anyhow::Result<()> {
    let record = ctx.sign_and_submit_amount(&a.book, &a.amount, |amount| {
        Ok(Body::Withdrawal(Withdrawal {
            member: a.member.parse()?,
            amount,
            reason: a.reason,
        }))
    })?;
    ctx.print_signed(record);
    Ok(())
}
