//! Commands for the money's journey from a group to a cooperative and back: reports, returns,
//! their receipts, distributions to members, and members leaving (reintegration).

use crate::context::{Ctx, Signed, parse_book, parse_record_id};
use crate::enterprise::group_currency;
use anyhow::{anyhow, bail};
use clap::Args;
use kaban_protocol::api;
use kaban_protocol::api::enterprise::Dashboard;
use kaban_protocol::kind::{
    Body, CoopMembers, Departure, Distribution, Indicator, Investment, Jobs, Membership, Narrative,
    Period, Principle, Report, Return, ReturnReceipt, Settlement,
};
use kaban_protocol::money::Money;
use kaban_protocol::record::RecordId;
use serde::de::IntoDeserializer as _;
use serde::{Deserialize as _, Serialize};

/// Savings book: accept an enterprise book the group invests in (needs the investment quorum).
#[derive(Debug, Args)]
pub struct InvestArgs {
    /// The group's savings book.
    #[arg(long)]
    book: String,
    /// The enterprise book that registers the group, as this node holds it.
    #[arg(long)]
    enterprise: String,
}

/// Signs the group's acceptance of an enterprise book: the registration it accepts is the one
/// the enterprise book on this node holds now, which the portfolio lists as unaccepted.
pub fn invest(ctx: &Ctx, a: InvestArgs) -> anyhow::Result<()> {
    let (key, node) = ctx.session()?;
    let enterprise = parse_book(&a.enterprise)?;
    let portfolio: api::views::Portfolio = node.get(&format!("/books/{}/portfolio", a.book))?.body;
    if portfolio
        .holdings
        .iter()
        .any(|h| h.enterprise == enterprise)
    {
        bail!("the group has accepted enterprise book {enterprise} already");
    }
    let Some(line) = portfolio
        .unaccepted
        .iter()
        .find(|u| u.enterprise == enterprise)
    else {
        bail!(
            "this node holds no enterprise book {enterprise} that registers book {}: its cooperative registers the group (kaban investor) and shares the book with this node first",
            a.book
        );
    };
    let body = Body::Investment(Investment {
        enterprise,
        registration: line.registration,
    });
    let id = node.sign_and_submit(&key, parse_book(&a.book)?, &body)?;
    let officers: Vec<String> = line.officers.iter().map(ToString::to_string).collect();
    let human = format!(
        "{id}\naccepts {} ({enterprise}), which names these keys as the group's officers: {}\nanother officer approves it (kaban approve --record {id}); until then it moves none of the group's money",
        line.name,
        officers.join(", ")
    );
    ctx.print(human, &Signed { record: id });
    Ok(())
}

/// Enterprise book: the cooperative's officers report a period (needs the report quorum).
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long)]
    book: String,
    /// First and last day of the period, YYYY-MM-DD.
    #[arg(long)]
    from: String,
    #[arg(long)]
    to: String,
    /// In the enterprise's currency, major units.
    #[arg(long)]
    revenue: String,
    #[arg(long)]
    costs: String,
    #[arg(long)]
    jobs_women: u32,
    #[arg(long)]
    jobs_men: u32,
    /// Members of the cooperative, and the returning migrants among them.
    #[arg(long)]
    members: u32,
    #[arg(long)]
    returnees: u32,
    /// An indicator as PRINCIPLE:NAME=VALUE:UNIT, like
    /// ecological_sustainability:organic_hectares=12.5:ha; repeat for each. Principles:
    /// viability, gender_equality, ecological_sustainability, social_justice.
    #[arg(long = "indicator")]
    indicators: Vec<String>,
    /// The narrative's language tag, like fil, id or bn.
    #[arg(long)]
    language: String,
    /// A short narrative of the period, in that language.
    #[arg(long)]
    narrative: String,
}

/// Enterprise book: the cooperative's treasurer declares a return paid to an investor group
/// (needs the return quorum).
#[derive(Debug, Args)]
pub struct ReturnArgs {
    #[arg(long)]
    book: String,
    /// The investor group's savings book id.
    #[arg(long)]
    group: String,
    /// In the enterprise's currency.
    #[arg(long)]
    amount: String,
    #[arg(long)]
    channel: String,
    #[arg(long)]
    reference: String,
}

/// Enterprise book: an officer of the investor group acknowledges a return with what arrived,
/// in the group's currency.
#[derive(Debug, Args)]
pub struct ReturnReceiptArgs {
    #[arg(long)]
    book: String,
    /// The return record's id.
    #[arg(long = "return")]
    return_record: String,
    #[arg(long)]
    received: String,
}

/// Savings book: share a received return among the members by their stakes (needs the
/// distribution quorum).
#[derive(Debug, Args)]
pub struct DistributeArgs {
    /// The savings book.
    #[arg(long)]
    book: String,
    /// The enterprise book the return came from.
    #[arg(long)]
    enterprise: String,
    #[arg(long = "return")]
    return_record: String,
    /// What the group received for it, in the group's currency.
    #[arg(long)]
    amount: String,
}

/// Savings book: a member leaves the group, paid out or converting her stake into membership
/// of a cooperative (needs the departure quorum).
#[derive(Debug, Args)]
pub struct LeaveArgs {
    #[arg(long)]
    book: String,
    #[arg(long)]
    member: String,
    /// Pay her balance out to her.
    #[arg(
        long,
        conflicts_with = "convert_to",
        required_unless_present = "convert_to"
    )]
    payout: bool,
    /// Convert her balance into membership of this enterprise book's cooperative.
    #[arg(long)]
    convert_to: Option<String>,
    /// Her balance, if you want to state it; by default the node's figure for her balance.
    #[arg(long)]
    amount: Option<String>,
}

/// Enterprise book: the cooperative admits a returning member whose stake her group converted
/// (needs the membership quorum).
#[derive(Debug, Args)]
pub struct AdmitArgs {
    #[arg(long)]
    book: String,
    #[arg(long)]
    group: String,
    /// The departure record in the group's savings book.
    #[arg(long)]
    departure: String,
    #[arg(long)]
    member: String,
    /// The stake converted, in the group's currency, as the departure says.
    #[arg(long)]
    stake: String,
    /// Her membership capital, in the enterprise's currency.
    #[arg(long)]
    capital: String,
    /// The rate used, enterprise currency per group currency.
    #[arg(long)]
    rate: String,
}

/// "12.5" → (125, 1).
fn decimal(text: &str) -> anyhow::Result<(i64, u32)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let ok = !int.trim_start_matches('-').is_empty()
        && int
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 6;
    if !ok {
        bail!("{text:?} is not a number like 12.5 (at most 6 decimals)");
    }
    Ok((format!("{int}{frac}").parse()?, frac.len() as u32))
}

fn indicator(text: &str) -> anyhow::Result<Indicator> {
    let shape = || {
        anyhow!(
            "--indicator {text:?} must be PRINCIPLE:NAME=VALUE:UNIT, like ecological_sustainability:organic_hectares=12.5:ha"
        )
    };
    let (principle, rest) = text.split_once(':').ok_or_else(shape)?;
    let (name, rest) = rest.split_once('=').ok_or_else(shape)?;
    let (value, unit) = rest.split_once(':').ok_or_else(shape)?;
    let principle = Principle::deserialize(principle.into_deserializer()).map_err(|_: serde::de::value::Error| {
        anyhow!("principle {principle:?} is not one of viability, gender_equality, ecological_sustainability, social_justice")
    })?;
    let (value, decimals) = decimal(value)?;
    Ok(Indicator {
        principle,
        name: name.to_owned(),
        value,
        decimals,
        unit: unit.to_owned(),
    })
}

pub fn report(ctx: &Ctx, a: ReportArgs) -> anyhow::Result<()> {
    let indicators = a
        .indicators
        .iter()
        .map(|i| indicator(i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    ctx.print_signed(ctx.sign_and_submit_in_currency(&a.book, |_, currency| {
        Ok(Body::Report(Report {
            period: Period {
                from: a.from,
                to: a.to,
            },
            revenue: Money::parse_major(&a.revenue, currency)?,
            costs: Money::parse_major(&a.costs, currency)?,
            jobs: Jobs {
                women: a.jobs_women,
                men: a.jobs_men,
            },
            members: CoopMembers {
                total: a.members,
                returnees: a.returnees,
            },
            indicators,
            narrative: Narrative {
                language: a.language,
                text: a.narrative,
            },
        }))
    }))
}

pub fn declare_return(ctx: &Ctx, a: ReturnArgs) -> anyhow::Result<()> {
    let group = parse_book(&a.group)?;
    ctx.print_signed(ctx.sign_and_submit_amount(&a.book, &a.amount, |amount| {
        Ok(Body::Return(Return {
            group,
            amount,
            channel: a.channel,
            reference: a.reference,
        }))
    }))
}

pub fn return_receipt(ctx: &Ctx, a: ReturnReceiptArgs) -> anyhow::Result<()> {
    let (key, node) = ctx.session()?;
    let return_record = parse_record_id(&a.return_record)?;
    let dashboard: Dashboard = node.get(&format!("/books/{}/dashboard", a.book))?.body;
    let group = dashboard
        .returns
        .iter()
        .find(|r| r.record == return_record)
        .map(|r| r.payment.group)
        .ok_or_else(|| anyhow!("book {} has no return {return_record}", a.book))?;
    let currency = group_currency(&dashboard.investors, group, &a.book)?;
    let body = Body::ReturnReceipt(ReturnReceipt {
        return_record,
        received: Money::parse_major(&a.received, currency)?,
    });
    ctx.print_signed(node.sign_and_submit(&key, parse_book(&a.book)?, &body))
}

pub fn distribute(ctx: &Ctx, a: DistributeArgs) -> anyhow::Result<()> {
    let enterprise = parse_book(&a.enterprise)?;
    let return_record = parse_record_id(&a.return_record)?;
    let id = ctx.sign_and_submit_amount(&a.book, &a.amount, |amount| {
        Ok(Body::Distribution(Distribution {
            enterprise,
            return_record,
            amount,
        }))
    })?;
    eprintln!(
        "The distribution takes effect once it has its quorum: another officer runs\n  kaban approve --book {} --record {id}",
        a.book
    );
    ctx.print_signed(Ok(id))
}

/// What `kaban leave` prints with `--json`.
#[derive(Debug, Serialize)]
struct Leaving {
    record: RecordId,
    amount: Money,
}

pub fn leave(ctx: &Ctx, a: LeaveArgs) -> anyhow::Result<()> {
    let (key, node) = ctx.session()?;
    let statement: api::views::Statement = node
        .get(&format!("/books/{}/members/{}/statement", a.book, a.member))?
        .body;
    let balance = statement.position.balance;
    let amount = match &a.amount {
        Some(text) => Money::parse_major(text, balance.currency)?,
        None => balance,
    };
    let (settlement, enterprise) = match &a.convert_to {
        Some(e) => (Settlement::Conversion, Some(parse_book(e)?)),
        None => (Settlement::Payout, None),
    };
    let body = Body::Departure(Departure {
        member: a.member.parse().map_err(|e| anyhow!("{e}"))?,
        amount,
        settlement,
        enterprise,
    });
    let id = node.sign_and_submit(&key, parse_book(&a.book)?, &body)?;
    eprintln!(
        "Member {} leaves with {amount}. This takes effect once it has its quorum: another officer runs\n  kaban approve --book {} --record {id}",
        a.member, a.book
    );
    ctx.print(id, &Leaving { record: id, amount });
    Ok(())
}

pub fn admit(ctx: &Ctx, a: AdmitArgs) -> anyhow::Result<()> {
    let (key, node) = ctx.session()?;
    let group = parse_book(&a.group)?;
    let dashboard: Dashboard = node.get(&format!("/books/{}/dashboard", a.book))?.body;
    let stake_currency = group_currency(&dashboard.investors, group, &a.book)?;
    let capital_currency = dashboard
        .enterprise
        .map(|e| e.currency)
        .ok_or_else(|| anyhow!("book {} is not an enterprise book", a.book))?;
    let body = Body::Membership(Membership {
        group,
        departure: parse_record_id(&a.departure)?,
        member: a.member.parse().map_err(|e| anyhow!("{e}"))?,
        stake: Money::parse_major(&a.stake, stake_currency)?,
        capital: Money::parse_major(&a.capital, capital_currency)?,
        rate: a.rate,
    });
    ctx.print_signed(node.sign_and_submit(&key, parse_book(&a.book)?, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicators_parse_from_their_command_line_form() {
        let i = indicator("ecological_sustainability:organic_hectares=12.5:ha").unwrap();
        assert_eq!(
            (
                i.principle,
                i.name.as_str(),
                i.value,
                i.decimals,
                i.unit.as_str()
            ),
            (
                Principle::EcologicalSustainability,
                "organic_hectares",
                125,
                1,
                "ha"
            )
        );
        assert_eq!(decimal("40").unwrap(), (40, 0));
        assert!(indicator("organic_hectares=12.5:ha").is_err());
        assert!(indicator("kindness:x=1:u").is_err());
        assert!(decimal("1.2.3").is_err());
        assert!(decimal("").is_err());
    }
}
