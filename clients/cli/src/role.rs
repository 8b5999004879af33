//! `kaban role`: granting and revoking an officer's role, which takes effect at the book's
//! role-change quorum.

use crate::context::Ctx;
use anyhow::anyhow;
use clap::{Args, Subcommand};
use kaban_protocol::kind::{Body, RoleChange};

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    Grant(RoleArgs),
    Revoke(RoleArgs),
}

#[derive(Debug, Args)]
pub struct RoleArgs {
    #[arg(long)]
    book: String,
    /// The officer's public key (it may start with '-').
    #[arg(long, allow_hyphen_values = true)]
    to: String,
    #[arg(long)]
    role: String,
}

pub fn run(ctx: &Ctx, command: RoleCommand) -> anyhow::Result<()> {
    let (args, grant) = match command {
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
    ctx.print_signed(ctx.sign_and_submit(&args.book, body))
}
