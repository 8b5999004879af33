//! What every command starts from: the node's address, the signer key and admin token files,
//! and whether to print JSON. It opens sessions, signs and submits records, and prints answers.

use crate::node::Node;
use anyhow::{Context as _, anyhow};
use kaban_protocol::key::SignerKey;
use kaban_protocol::kind::Body;
use kaban_protocol::money::{Currency, Money};
use kaban_protocol::record::{BookId, RecordId};
use serde::Serialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Ctx {
    /// `--node`: the node's URL.
    pub node_url: String,
    pub key: Option<PathBuf>,
    pub admin_token: Option<PathBuf>,
    pub json: bool,
    /// The command being run, like `book show`, so that errors about answers name it.
    pub command: String,
}

/// What a command that signs one record prints with `--json`.
#[derive(Debug, Serialize)]
pub struct Signed {
    pub record: RecordId,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn load_key(path: Option<&Path>) -> anyhow::Result<SignerKey> {
    let path = path
        .ok_or_else(|| anyhow!("this needs your signer key: pass --key FILE or set KABAN_KEY"))?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    SignerKey::from_key_file(&text).with_context(|| format!("key file {}", path.display()))
}

pub fn parse_book(text: &str) -> anyhow::Result<BookId> {
    Ok(text.parse()?)
}

pub fn parse_record_id(text: &str) -> anyhow::Result<RecordId> {
    Ok(text.parse()?)
}

impl Ctx {
    pub fn node(&self) -> Node {
        Node::new(&self.node_url, &self.command)
    }

    pub fn key(&self) -> anyhow::Result<SignerKey> {
        load_key(self.key.as_deref())
    }

    pub fn session(&self) -> anyhow::Result<(SignerKey, Node)> {
        let key = self.key()?;
        let node = self.node().open_session(&key)?;
        Ok((key, node))
    }

    pub fn sign_and_submit(&self, book: &str, body: Body) -> anyhow::Result<RecordId> {
        let book = parse_book(book)?;
        // The node tells where to sign only to people with a session.
        let (key, node) = self.session()?;
        node.sign_and_submit(&key, book, &body)
    }

    /// Signs and submits a record whose amount the officer typed in major units: the book's
    /// currency (read with a session) decides how many decimals it may have.
    pub fn sign_and_submit_amount(
        &self,
        book: &str,
        amount: &str,
        body: impl FnOnce(Money) -> anyhow::Result<Body>,
    ) -> anyhow::Result<RecordId> {
        self.sign_and_submit_in_currency(book, |_, currency| {
            body(Money::parse_major(amount, currency)?)
        })
    }

    /// Signs and submits the record `body` makes from the session's node and the book's
    /// currency, for records whose amounts the officer typed in major units.
    pub fn sign_and_submit_in_currency(
        &self,
        book: &str,
        body: impl FnOnce(&Node, Currency) -> anyhow::Result<Body>,
    ) -> anyhow::Result<RecordId> {
        let (key, node) = self.session()?;
        let currency = currency_of(&node, book)?;
        let body = body(&node, currency)?;
        node.sign_and_submit(&key, parse_book(book)?, &body)
    }

    pub fn admin(&self) -> anyhow::Result<Node> {
        let path = self.admin_token.as_deref().ok_or_else(|| {
            anyhow!("this needs the node's admin token: pass --admin-token FILE (the node prints where it is)")
        })?;
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read admin token {}", path.display()))?;
        Ok(self.node().with_token(token.trim().to_owned()))
    }

    /// Prints the answer. A closed pipe (`kaban ... | head`) is not an error worth a panic.
    pub fn print(&self, human: impl std::fmt::Display, machine: &impl Serialize) {
        let mut out = std::io::stdout().lock();
        let _ = if self.json {
            let text = serde_json::to_string(machine).expect("printed answers serialize to JSON");
            writeln!(out, "{text}")
        } else {
            writeln!(out, "{human}")
        };
    }

    /// Ends a command that signs one record: prints the record's id once it is submitted, or
    /// passes on what stopped it.
    pub fn print_signed(&self, submitted: anyhow::Result<RecordId>) -> anyhow::Result<()> {
        let record = submitted?;
        self.print(record, &Signed { record });
        Ok(())
    }
}

/// The currency of a book, as the node says; `book` is as the officer typed it, so a malformed
/// id is refused in the node's words.
pub fn currency_of(node: &Node, book: &str) -> anyhow::Result<Currency> {
    let summary: kaban_protocol::api::book::Summary = node.get(&format!("/books/{book}"))?.body;
    summary
        .currency
        .ok_or_else(|| anyhow!("the node did not say book {book}'s currency"))
}
