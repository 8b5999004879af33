//! An enterprise book's records of money between investor groups and the cooperative:
//! `kaban investor` registers a group, `kaban transfer` records money it sends, and
//! `kaban receipt` acknowledges what arrived.

use crate::context::{Ctx, parse_book, parse_record_id};
use anyhow::anyhow;
use clap::Args;
use kaban_protocol::api;
use kaban_protocol::enterprise::InvestorLine;
use kaban_protocol::key::PublicKey;
use kaban_protocol::kind::{Body, Investor, Receipt, Transfer};
use kaban_protocol::money::{Currency, Money};
use kaban_protocol::record::BookId;

#[derive(Debug, Args)]
pub struct InvestorArgs {
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
}

#[derive(Debug, Args)]
pub struct TransferArgs {
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
}

#[derive(Debug, Args)]
pub struct ReceiptArgs {
    #[arg(long)]
    book: String,
    #[arg(long)]
    transfer: String,
    /// What arrived, in the enterprise's currency.
    #[arg(long)]
    received: String,
}

pub fn investor(ctx: &Ctx, a: InvestorArgs) -> anyhow::Result<()> {
    let officers = a
        .officers
        .iter()
        .map(|k| k.parse::<PublicKey>())
        .collect::<Result<Vec<_>, _>>()?;
    ctx.print_signed(ctx.sign_and_submit(
        &a.book,
        Body::Investor(Investor {
            group: parse_book(&a.group)?,
            name: a.name,
            currency: a.currency.parse()?,
            officers,
            quorum: a.quorum,
        }),
    ))
}

pub fn transfer(ctx: &Ctx, a: TransferArgs) -> anyhow::Result<()> {
    ctx.print_signed(
        ctx.sign_and_submit_in_currency(&a.book, |node, book_currency| {
            let group = parse_book(&a.group)?;
            let view: api::enterprise::Transfers =
                node.get(&format!("/books/{}/transfers", a.book))?.body;
            let group_currency = group_currency(&view.investors, group, &a.book)?;
            Ok(Body::Transfer(Transfer {
                group,
                amount: Money::parse_major(&a.amount, group_currency)?,
                fee: Money::parse_major(&a.fee, group_currency)?,
                rate: a.rate,
                rate_source: a.rate_source,
                expected: Money::parse_major(&a.expected, book_currency)?,
                channel: a.channel,
                reference: a.reference,
            }))
        }),
    )
}

pub fn receipt(ctx: &Ctx, a: ReceiptArgs) -> anyhow::Result<()> {
    let transfer = parse_record_id(&a.transfer)?;
    ctx.print_signed(
        ctx.sign_and_submit_amount(&a.book, &a.received, |received| {
            Ok(Body::Receipt(Receipt { transfer, received }))
        }),
    )
}

/// The registered currency of investor group `group` in enterprise book `book`.
pub fn group_currency(
    investors: &[InvestorLine],
    group: BookId,
    book: &str,
) -> anyhow::Result<Currency> {
    investors
        .iter()
        .find(|i| i.group == group)
        .map(|i| i.currency)
        .ok_or_else(|| {
            anyhow!("book {book} has no investor group {group} registered with its quorum")
        })
}
