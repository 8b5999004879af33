//! `kaban key`: signer keys. A new key is written with mode 0600 and never leaves this machine.

use crate::context::Ctx;
use anyhow::Context as _;
use clap::Subcommand;
use kaban_protocol::key::{PublicKey, SignerKey};
use serde::Serialize;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new signer key (mode 0600) and print its public key.
    New {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of --key.
    Show,
}

/// What `kaban key` prints with `--json`.
#[derive(Debug, Serialize)]
struct KeyOut {
    public: PublicKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::New { out } => {
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
            let public = key.public();
            ctx.print(
                public,
                &KeyOut {
                    public,
                    file: Some(out),
                },
            );
        }
        KeyCommand::Show => {
            let public = ctx.key()?.public();
            ctx.print(public, &KeyOut { public, file: None });
        }
    }
    Ok(())
}
