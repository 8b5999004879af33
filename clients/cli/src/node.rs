//! The node's HTTP API, as the CLI sees it: JSON in, JSON out, problems turned into one clear
//! line. Every request has a timeout.

use anyhow::{Context as _, anyhow, bail};
use kaban_protocol::key::SignerKey;
use kaban_protocol::record::Record;
use serde_json::{Value, json};
use std::time::Duration;

/// How long one request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Node {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    /// Sent as `Kaban-Setup-Code` with every request, to found a book.
    setup_code: Option<String>,
}

impl Node {
    pub fn new(base: &str) -> Node {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            // The node closes a kept-alive connection idle for 10 s (its header timeout); never
            // reuse one that old, so no request races that close.
            .max_idle_age(Duration::from_secs(5))
            .build();
        Node {
            agent: ureq::Agent::new_with_config(config),
            base: base.trim_end_matches('/').to_owned(),
            token: None,
            setup_code: None,
        }
    }

    pub fn with_setup_code(mut self, code: String) -> Node {
        self.setup_code = Some(code);
        self
    }

    pub fn with_token(mut self, token: String) -> Node {
        self.token = Some(token);
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// The answer's status and text; a problem (status ≥ 400) becomes its one-line detail.
    fn finish_text(
        &self,
        what: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<(u16, String)> {
        let mut response = result.map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                anyhow!(
                    "cannot reach the node at {}: {e}; is kaban-node running, and is --node right?",
                    self.base
                )
            }
            ureq::Error::Timeout(_) => anyhow!(
                "the node at {} did not answer within {:?}",
                self.base,
                REQUEST_TIMEOUT
            ),
            other => anyhow!("request to {what} failed: {other}"),
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("reading the node's answer to {what}"))?;
        if status >= 400 {
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let detail = value["detail"].as_str().unwrap_or(text.as_str());
            bail!("{detail}");
        }
        Ok((status, text))
    }

    fn finish(
        &self,
        what: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<(u16, Value)> {
        let (status, text) = self.finish_text(what, result)?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("the node's answer to {what} is not JSON: {text}"))?
        };
        Ok((status, value))
    }

    /// A file the node serves outside the API, like `/kaban-ca.crt`; `None` when it has none.
    pub fn get_file(&self, path: &str) -> Option<String> {
        let mut r = self.agent.get(format!("{}{path}", self.base)).call().ok()?;
        if r.status().as_u16() != 200 {
            return None;
        }
        r.body_mut().read_to_string().ok()
    }

    /// A view as text (CSV, HTML).
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Ok(self.finish_text(path, req.call())?.1)
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Ok(self.finish(path, req.call())?.1)
    }

    pub fn send(&self, method: &str, path: &str, body: Vec<u8>) -> anyhow::Result<(u16, Value)> {
        let mut req = match method {
            "PUT" => self.agent.put(self.url(path)),
            _ => self.agent.post(self.url(path)),
        };
        req = req.header("Content-Type", "application/json");
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(code) = &self.setup_code {
            req = req.header("Kaban-Setup-Code", code.as_str());
        }
        self.finish(path, req.send(body))
    }

    pub fn delete(&self, path: &str) -> anyhow::Result<Value> {
        let mut req = self.agent.delete(self.url(path));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Ok(self.finish(path, req.call())?.1)
    }

    /// Proves to the node that we hold `key` and keeps the session token for later requests.
    /// The signature names the node's id and the origin of `--node` as this CLI knows it, so a
    /// program at another address that relays a node's challenge gets nothing the node takes.
    pub fn open_session(self, key: &SignerKey) -> anyhow::Result<Node> {
        let origin = kaban_protocol::session::origin_of(&self.base)
            .ok_or_else(|| anyhow!("--node {} is not an http:// or https:// address", self.base))?;
        let body = json!({"key": key.public().to_string()});
        let answer = self
            .send("POST", "/sessions/challenge", body.to_string().into_bytes())?
            .1;
        let (Some(challenge), Some(node)) = (answer["challenge"].as_str(), answer["node"].as_str())
        else {
            bail!("the node at {} sent no challenge", self.base);
        };
        let text = kaban_protocol::session::SessionText {
            node,
            origin: &origin,
            challenge,
        };
        let signature = kaban_protocol::session::sign_challenge(key, &text);
        let body = json!({"key": key.public().to_string(), "origin": origin, "challenge": challenge, "signature": signature});
        let session = self
            .send("POST", "/sessions", body.to_string().into_bytes())?
            .1;
        let token = session["token"]
            .as_str()
            .ok_or_else(|| anyhow!("the node opened no session"))?
            .to_owned();
        Ok(self.with_token(token))
    }

    /// Where `signer`'s next record in `book` stands, as the node knows the book now.
    pub fn place(
        &self,
        book: kaban_protocol::record::BookId,
        signer: &kaban_protocol::key::PublicKey,
    ) -> anyhow::Result<kaban_protocol::record::Place> {
        let v = self.get(&format!("/books/{book}/place?signer={signer}"))?;
        kaban_protocol::record::Place::from_answer(book, &v)
            .map_err(|e| anyhow!("the node's answer for where to sign is unreadable: {e}"))
    }

    /// Signs `body` with `key` at the key's next place in `book`.
    pub fn sign(
        &self,
        key: &SignerKey,
        book: kaban_protocol::record::BookId,
        time_ms: u64,
        body: &kaban_protocol::kind::Body,
    ) -> anyhow::Result<Record> {
        let place = self.place(book, &key.public())?;
        Ok(Record::try_sign(key, &place, time_ms, body)?)
    }

    /// Submits a signed record; returns its id once the node has it durably.
    pub fn submit(&self, book: &str, record: &Record) -> anyhow::Result<String> {
        let (_, v) = self.send(
            "POST",
            &format!("/books/{book}/records"),
            record.bytes().to_vec(),
        )?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the node did not return a record id"))
    }
}
