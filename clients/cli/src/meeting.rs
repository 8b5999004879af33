//! A savings book's meetings and the money members bring and take: `kaban meeting`,
//! `kaban contribute`, `kaban withdraw`.

use crate::context::{Ctx, parse_record_id};
use clap::Args;
use kaban_protocol::kind::{Body, Contribution, Meeting, MemberId, Withdrawal};
use kaban_protocol::money::Money;

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

/// Money a member brings or takes: which book, which member, and how much.
#[derive(Debug, Args)]
pub struct MemberMoney {
    #[arg(long)]
    book: String,
    #[arg(long)]
    member: String,
    /// In major units, like 500 or 500.25.
    #[arg(long)]
    amount: String,
}

#[derive(Debug, Args)]
pub struct ContributeArgs {
    #[command(flatten)]
    money: MemberMoney,
    /// The meeting it was paid at.
    #[arg(long)]
    meeting: Option<String>,
}

#[derive(Debug, Args)]
pub struct WithdrawArgs {
    #[command(flatten)]
    money: MemberMoney,
    #[arg(long)]
    reason: String,
}

pub fn meeting(ctx: &Ctx, a: MeetingArgs) -> anyhow::Result<()> {
    ctx.print_signed(ctx.sign_and_submit(
        &a.book,
        Body::Meeting(Meeting {
            date: a.date,
            place: a.place,
            attendance: Vec::new(),
        }),
    ))
}

pub fn contribute(ctx: &Ctx, a: ContributeArgs) -> anyhow::Result<()> {
    sign_member_money(ctx, &a.money, |member, amount| {
        Ok(Body::Contribution(Contribution {
            member,
            amount,
            meeting: a.meeting.as_deref().map(parse_record_id).transpose()?,
        }))
    })
}

pub fn withdraw(ctx: &Ctx, a: WithdrawArgs) -> anyhow::Result<()> {
    sign_member_money(ctx, &a.money, |member, amount| {
        Ok(Body::Withdrawal(Withdrawal {
            member,
            amount,
            reason: a.reason,
        }))
    })
}

/// Signs and submits the record `body` makes of the member and the amount, in the book's
/// currency, and prints its id.
fn sign_member_money(
    ctx: &Ctx,
    money: &MemberMoney,
    body: impl FnOnce(MemberId, Money) -> anyhow::Result<Body>,
) -> anyhow::Result<()> {
    ctx.print_signed(
        ctx.sign_and_submit_amount(&money.book, &money.amount, |amount| {
            body(money.member.parse()?, amount)
        }),
    )
}
