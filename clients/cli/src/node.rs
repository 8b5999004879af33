//! The node's HTTP API, as the CLI sees it: requests and answers are the shared
//! [`kaban_protocol::api`] types, problems become one clear line, and an answer that lacks what
//! a command reads is an error naming the command, the request and the field. Every request has
//! a timeout.

use crate::context::now_ms;
use anyhow::{Context as _, anyhow, bail};
use kaban_protocol::api;
use kaban_protocol::key::SignerKey;
use kaban_protocol::record::{BookId, Place, Record, RecordId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// How long one request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Node {
    agent: ureq::Agent,
    base: String,
    /// The command being run, as `book show`, for errors about the node's answers.
    command: String,
    token: Option<String>,
    /// Sent as `Kaban-Setup-Code` with every request, to found a book.
    setup_code: Option<String>,
}

/// A decoded answer, with the JSON it came as: `--json` prints what the node said, whole,
/// even the fields this CLI does not read.
#[derive(Debug)]
pub struct Answer<T> {
    pub body: T,
    pub raw: Value,
}

/// The node's answer `text` to `what`, for `kaban {command}`. A field the command reads and the
/// answer lacks is an error that names all three, never a blank in the output.
fn decode<T: DeserializeOwned>(command: &str, what: &str, text: &str) -> anyhow::Result<Answer<T>> {
    let raw: Value = serde_json::from_str(text)
        .with_context(|| format!("the node's answer to {what} is not JSON: {text}"))?;
    let body = serde_json::from_value(raw.clone()).map_err(|e| {
        anyhow!("the node's answer to {what} is not what `kaban {command}` reads: {e}")
    })?;
    Ok(Answer { body, raw })
}

impl Node {
    pub fn new(base: &str, command: &str) -> Node {
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
            command: command.to_owned(),
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

    /// The answer's text; a problem (status ≥ 400) becomes its one-line detail.
    fn finish_text(
        &self,
        what: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<String> {
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
            // A problem from something other than the node (a proxy, say) is shown as it came.
            match serde_json::from_str::<api::Problem>(&text) {
                Ok(problem) => bail!("{}", problem.detail),
                Err(_) => bail!("{text}"),
            }
        }
        Ok(text)
    }

    /// Decodes the answer to `what` (like `GET /books/x`) as a `T`.
    fn finish<T: DeserializeOwned>(
        &self,
        what: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<Answer<T>> {
        let text = self.finish_text(what, result)?;
        decode(&self.command, what, &text)
    }

    fn authorised(
        &self,
        mut req: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        req
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
        let req = self.authorised(self.agent.get(self.url(path)));
        self.finish_text(&format!("GET {path}"), req.call())
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Answer<T>> {
        let req = self.authorised(self.agent.get(self.url(path)));
        self.finish(&format!("GET {path}"), req.call())
    }

    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Answer<T>> {
        let req = self.authorised(self.agent.delete(self.url(path)));
        self.finish(&format!("DELETE {path}"), req.call())
    }

    /// POSTs `body` as it is: a signed record, or JSON.
    pub fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Answer<T>> {
        let mut req = self
            .agent
            .post(self.url(path))
            .header("Content-Type", "application/json");
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(code) = &self.setup_code {
            req = req.header("Kaban-Setup-Code", code.as_str());
        }
        self.finish(&format!("POST {path}"), req.send(body))
    }

    /// POSTs `request` as JSON.
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        request: &impl Serialize,
    ) -> anyhow::Result<Answer<T>> {
        let body = serde_json::to_vec(request).expect("API requests serialize to JSON");
        self.post_bytes(path, body)
    }

    /// Proves to the node that we hold `key` and keeps the session token for later requests.
    /// The signature names the node's id and the origin of `--node` as this CLI knows it, so a
    /// program at another address that relays a node's challenge gets nothing the node takes.
    pub fn open_session(self, key: &SignerKey) -> anyhow::Result<Node> {
        let origin = kaban_protocol::session::origin_of(&self.base)
            .ok_or_else(|| anyhow!("--node {} is not an http:// or https:// address", self.base))?;
        let asked = api::session::ChallengeRequest {
            key: key.public().to_string(),
        };
        let challenge: api::session::Challenge = self.post("/sessions/challenge", &asked)?.body;
        let text = kaban_protocol::session::SessionText {
            node: &challenge.node,
            origin: &origin,
            challenge: &challenge.challenge,
        };
        let signature = kaban_protocol::session::sign_challenge(key, &text);
        let request = api::session::SessionRequest {
            key: key.public().to_string(),
            origin,
            challenge: challenge.challenge,
            signature,
        };
        let session: api::session::Session = self.post("/sessions", &request)?.body;
        Ok(self.with_token(session.token))
    }

    /// Where `signer`'s next record in `book` stands, as the node knows the book now.
    pub fn place(
        &self,
        book: BookId,
        signer: &kaban_protocol::key::PublicKey,
    ) -> anyhow::Result<Place> {
        let place: api::book::Place = self
            .get(&format!("/books/{book}/place?signer={signer}"))?
            .body;
        if place.seq == 0 {
            bail!("the node's answer for where to sign names seq 0; chains count from 1");
        }
        Ok(Place::new(book, place.seq, place.after))
    }

    /// Signs `body` with `key`, now, at the key's next place in `book`, and submits it; returns
    /// the record's id once the node has it durably.
    pub fn sign_and_submit(
        &self,
        key: &SignerKey,
        book: BookId,
        body: &kaban_protocol::kind::Body,
    ) -> anyhow::Result<RecordId> {
        let time_ms = now_ms();
        let place = self.place(book, &key.public())?;
        let record = Record::try_sign(key, &place, time_ms, body)?;
        self.submit(book, &record)
    }

    /// Submits a signed record; returns its id once the node has it durably.
    fn submit(&self, book: BookId, record: &Record) -> anyhow::Result<RecordId> {
        let submitted: api::book::Submitted = self
            .post_bytes(&format!("/books/{book}/records"), record.bytes().to_vec())?
            .body;
        Ok(submitted.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_a_field_the_command_reads_names_the_command_and_the_field() {
        let text = r#"{"book": "x", "name": "Bayanihan Savers"}"#;
        let e = decode::<api::book::Summary>("book show", "GET /books/x", text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the node's answer to GET /books/x is not what `kaban book show` reads: missing field `record_count`"
        );
    }

    #[test]
    fn an_answer_keeps_what_the_command_does_not_read_for_json() {
        let text = r#"{"id": "00000000000000000000000000000000000000000000000000000000000000aa", "later": 1}"#;
        let answer = decode::<api::book::Submitted>("meeting", "POST /books/x/records", text);
        let answer = answer.unwrap();
        assert_eq!(answer.raw.get("later"), Some(&serde_json::json!(1)));
        assert_eq!(
            answer.raw.get("id").and_then(Value::as_str),
            Some(answer.body.id.to_string().as_str())
        );
    }
}
