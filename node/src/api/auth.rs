//! Who is asking: the admin token, or a person's session obtained by signing a challenge.
//!
//! Writes need neither: a record is authorised by its own signature and the book's roster.
//! Founding a book needs the admin token or a one-time setup code. Reads of member data need a
//! session, issued only to keys that hold a role or a membership in a book on this node; node
//! administration needs the admin token, which the node writes with mode 0600 into its data
//! directory. Every table here is bounded, and a full one refuses newcomers rather than
//! dropping anyone else's challenge or session.

use super::problem::Problem;
use crate::setup::{Redeemed, SetupCodes, SetupError};
use axum::http::{HeaderMap, StatusCode};
use kaban_protocol::key::PublicKey;
use kaban_protocol::session::SessionText;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The header that carries a setup code with a genesis record.
pub const SETUP_CODE_HEADER: &str = "kaban-setup-code";
/// The window over which wrong setup codes are counted.
const GUESS_WINDOW: Duration = Duration::from_secs(60);

/// How long a challenge may be answered.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(120);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// Most outstanding challenges, and most live sessions, on the node. Beyond them a new one is
/// refused (503); nobody's challenge or session is ever dropped to make room.
pub const MAX_CHALLENGES: usize = 4096;
pub const MAX_SESSIONS: usize = 4096;
/// Most outstanding challenges for one key from one address; asking for more drops the
/// oldest of those. Nobody else's challenge for the key is dropped.
pub const MAX_CHALLENGES_PER_KEY: usize = 4;
/// Most outstanding challenges for one key from all addresses; more are refused (429).
pub const MAX_CHALLENGES_PER_KEY_ALL: usize = 16;
/// Most outstanding challenges asked from one network address; more are refused (429).
pub const MAX_CHALLENGES_PER_ADDRESS: usize = 32;
/// Most live sessions of one key (a person's phone and a laptop, renewed now and then);
/// opening more ends that key's oldest, never another key's.
pub const MAX_SESSIONS_PER_KEY: usize = 8;
/// Wrong setup codes one address may try per minute; more are refused (429) until it passes.
pub const SETUP_GUESSES_PER_MINUTE: u32 = 10;
/// Addresses whose wrong guesses are remembered at once.
const MAX_GUESSERS: usize = 1024;

/// Who the request speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Person(PublicKey),
}

/// What authorises founding a book: the admin token, or a setup code, spent once the book is
/// durable (dropped unspent, the code can be used again).
#[derive(Debug)]
pub enum Founder {
    Admin,
    SetupCode(Redeemed),
}

#[derive(Debug)]
struct Challenge {
    key: PublicKey,
    addr: IpAddr,
    expires: Instant,
}

#[derive(Debug)]
pub struct Auth {
    admin_token: String,
    /// This node's id, which every session signature names.
    node_id: String,
    /// The origins this node is reached at; a session signed for another is refused.
    origins: Vec<String>,
    setup: SetupCodes,
    challenges: Mutex<HashMap<String, Challenge>>,
    sessions: Mutex<HashMap<String, (PublicKey, Instant)>>,
    /// Wrong setup codes per address: when the minute began, and how many.
    guesses: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

pub fn random_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn busy(what: &str) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!("the node holds as many {what} as it allows; try again in a few minutes"),
    )
}

impl Auth {
    pub fn new(
        admin_token: String,
        node_id: String,
        origins: Vec<String>,
        setup: SetupCodes,
    ) -> Auth {
        Auth {
            admin_token,
            node_id,
            origins,
            setup,
            challenges: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            guesses: Mutex::new(HashMap::new()),
        }
    }

    /// The origins a session may be signed for.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// A challenge for `key`, asked from `addr`. The caller has checked that the key belongs
    /// to a book on this node.
    pub fn challenge(&self, key: PublicKey, addr: IpAddr) -> Result<String, Problem> {
        let now = Instant::now();
        let mut map = self.challenges.lock().expect("not poisoned");
        map.retain(|_, c| c.expires > now);
        if map.values().filter(|c| c.addr == addr).count() >= MAX_CHALLENGES_PER_ADDRESS {
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_challenges",
                format!(
                    "{MAX_CHALLENGES_PER_ADDRESS} challenges asked from this address are still unanswered; answer one, or wait {} s",
                    CHALLENGE_TTL.as_secs()
                ),
            ));
        }
        let mut own: Vec<(String, Instant)> = map
            .iter()
            .filter(|(_, c)| c.key == key && c.addr == addr)
            .map(|(t, c)| (t.clone(), c.expires))
            .collect();
        own.sort_by_key(|(_, expires)| *expires);
        for (text, _) in own
            .iter()
            .take((own.len() + 1).saturating_sub(MAX_CHALLENGES_PER_KEY))
        {
            map.remove(text);
        }
        if map.values().filter(|c| c.key == key).count() >= MAX_CHALLENGES_PER_KEY_ALL {
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_challenges",
                format!(
                    "{MAX_CHALLENGES_PER_KEY_ALL} challenges for this key are still unanswered; answer one, or wait {} s",
                    CHALLENGE_TTL.as_secs()
                ),
            ));
        }
        if map.len() >= MAX_CHALLENGES {
            return Err(busy("outstanding challenges"));
        }
        let challenge = random_token();
        map.insert(
            challenge.clone(),
            Challenge {
                key,
                addr,
                expires: now + CHALLENGE_TTL,
            },
        );
        Ok(challenge)
    }

    /// Exchanges a signed challenge for a session token. Each challenge is good for one try,
    /// by the key it was asked for, signed for this node and one of its origins.
    pub fn open_session(
        &self,
        key: PublicKey,
        origin: &str,
        challenge: &str,
        signature: &str,
    ) -> Result<String, Problem> {
        let now = Instant::now();
        let asked = self
            .challenges
            .lock()
            .expect("not poisoned")
            .remove(challenge)
            .filter(|c| c.expires > now);
        let Some(asked) = asked else {
            return Err(Problem::unauthorized(
                "challenge is unknown, used or expired; ask for a new one at /api/v1/sessions/challenge",
            ));
        };
        if asked.key != key {
            return Err(Problem::unauthorized(format!(
                "this challenge was asked for another key, not {key}; ask for one with your own key"
            )));
        }
        if !self.origins.iter().any(|o| o == origin) {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "wrong_origin",
                format!(
                    "the session was signed for {origin:?}, which is not this node: it answers at {}. A page or program that relayed this node's challenge is not this node; if it is this node under another name, add the name with --https-name",
                    self.origins.join(", ")
                ),
            ));
        }
        let text = SessionText {
            node: &self.node_id,
            origin,
            challenge,
        };
        if !kaban_protocol::session::verify_challenge(&key, &text, signature) {
            return Err(Problem::unauthorized(format!(
                "the session signature does not verify for signer {key}, node {} and origin {origin}",
                self.node_id
            )));
        }
        let mut map = self.sessions.lock().expect("not poisoned");
        map.retain(|_, (_, expires)| *expires > now);
        let mut own: Vec<(String, Instant)> = map
            .iter()
            .filter(|(_, (k, _))| *k == key)
            .map(|(t, (_, e))| (t.clone(), *e))
            .collect();
        own.sort_by_key(|(_, expires)| *expires);
        for (token, _) in own
            .iter()
            .take((own.len() + 1).saturating_sub(MAX_SESSIONS_PER_KEY))
        {
            map.remove(token);
        }
        if map.len() >= MAX_SESSIONS {
            return Err(busy("sessions"));
        }
        let token = random_token();
        map.insert(token.clone(), (key, now + SESSION_TTL));
        Ok(token)
    }

    /// What authorises founding a book: the admin token in `Authorization`, or a one-time
    /// setup code in `Kaban-Setup-Code`. Wrong codes are counted per address.
    pub fn founder(
        &self,
        headers: &HeaderMap,
        addr: IpAddr,
        now_ms: u64,
    ) -> Result<Founder, Problem> {
        let code = headers.get(SETUP_CODE_HEADER);
        // A phone may send its session along with the code; only the admin token or the code
        // found a book.
        if headers.contains_key(axum::http::header::AUTHORIZATION)
            && (code.is_none() || self.require_admin(headers).is_ok())
        {
            self.require_admin(headers)?;
            return Ok(Founder::Admin);
        }
        let Some(code) = code else {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "needs_setup_code",
                "founding a book needs this node's one-time setup code (send it as Kaban-Setup-Code; the node prints one when it starts with no books, and `kaban-node setup-code` prints a fresh one) or its admin token",
            ));
        };
        let now = Instant::now();
        {
            let mut guesses = self.guesses.lock().expect("not poisoned");
            guesses.retain(|_, (since, _)| now.duration_since(*since) < GUESS_WINDOW);
            if guesses
                .get(&addr)
                .is_some_and(|(_, n)| *n >= SETUP_GUESSES_PER_MINUTE)
            {
                return Err(Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_guesses",
                    format!(
                        "{SETUP_GUESSES_PER_MINUTE} wrong setup codes came from this address within a minute; wait a minute and check the code"
                    ),
                ));
            }
        }
        let code = code.to_str().unwrap_or_default();
        match self.setup.redeem(code, now_ms) {
            Ok(redeemed) => Ok(Founder::SetupCode(redeemed)),
            Err(e) => {
                let mut guesses = self.guesses.lock().expect("not poisoned");
                if guesses.len() < MAX_GUESSERS || guesses.contains_key(&addr) {
                    guesses.entry(addr).or_insert((now, 0)).1 += 1;
                }
                let code = match e {
                    SetupError::Malformed(_) => "malformed_setup_code",
                    SetupError::Unknown => "unknown_setup_code",
                };
                Err(Problem::new(StatusCode::UNAUTHORIZED, code, e.to_string()))
            }
        }
    }

    /// The caller named by the `Authorization: Bearer` header, if any.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, Problem> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(Problem::unauthorized(
                "this needs a session: sign a challenge from /api/v1/sessions/challenge and send Authorization: Bearer <token>",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Problem::unauthorized("Authorization must be 'Bearer <token>'"))?
            .trim();
        if constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()) {
            return Ok(Caller::Admin);
        }
        let sessions = self.sessions.lock().expect("not poisoned");
        match sessions.get(token) {
            Some((key, expires)) if *expires > Instant::now() => Ok(Caller::Person(*key)),
            Some(_) => Err(Problem::unauthorized("session expired; open a new one")),
            None => Err(Problem::unauthorized(
                "token is neither this node's admin token nor a live session",
            )),
        }
    }

    pub fn require_admin(&self, headers: &HeaderMap) -> Result<(), Problem> {
        match self.caller(headers)? {
            Caller::Admin => Ok(()),
            Caller::Person(key) => Err(Problem::forbidden(format!(
                "signer {key} is not the node's administrator; this needs the admin token from the node's data directory"
            ))),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
