//! Who is asking: the admin token, or a person's session obtained by signing a challenge.
//!
//! Writes need neither: a record is authorised by its own signature and the book's roster.
//! Reads of member data need a session; node administration needs the admin token, which the
//! node writes with mode 0600 into its data directory.

use super::problem::Problem;
use axum::http::HeaderMap;
use kaban_protocol::key::PublicKey;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a challenge may be answered.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(120);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// Most outstanding challenges and live sessions; the oldest are dropped beyond this.
pub const MAX_CHALLENGES: usize = 4096;
pub const MAX_SESSIONS: usize = 4096;

/// Who the request speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Person(PublicKey),
}

#[derive(Debug)]
pub struct Auth {
    admin_token: String,
    challenges: Mutex<HashMap<String, Instant>>,
    sessions: Mutex<HashMap<String, (PublicKey, Instant)>>,
}

pub fn random_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn bounded_insert<V>(
    map: &mut HashMap<String, V>,
    key: String,
    value: V,
    max: usize,
    expiry: impl Fn(&V) -> Instant,
) {
    let now = Instant::now();
    map.retain(|_, v| expiry(v) > now);
    if map.len() >= max
        && let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| expiry(v))
            .map(|(k, _)| k.clone())
    {
        map.remove(&oldest);
    }
    map.insert(key, value);
}

impl Auth {
    pub fn new(admin_token: String) -> Auth {
        Auth {
            admin_token,
            challenges: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub fn challenge(&self) -> String {
        let challenge = random_token();
        let mut map = self.challenges.lock().expect("not poisoned");
        bounded_insert(
            &mut map,
            challenge.clone(),
            Instant::now() + CHALLENGE_TTL,
            MAX_CHALLENGES,
            |v| *v,
        );
        challenge
    }

    /// Exchanges a signed challenge for a session token. Each challenge is good for one try.
    pub fn open_session(
        &self,
        key: PublicKey,
        challenge: &str,
        signature: &str,
    ) -> Result<String, Problem> {
        let fresh = self
            .challenges
            .lock()
            .expect("not poisoned")
            .remove(challenge)
            .is_some_and(|expires| expires > Instant::now());
        if !fresh {
            return Err(Problem::unauthorized(
                "challenge is unknown, used or expired; ask for a new one at /api/v1/sessions/challenge",
            ));
        }
        if !kaban_protocol::session::verify_challenge(&key, challenge, signature) {
            return Err(Problem::unauthorized(format!(
                "challenge signature does not verify for signer {key}"
            )));
        }
        let token = random_token();
        let mut map = self.sessions.lock().expect("not poisoned");
        bounded_insert(
            &mut map,
            token.clone(),
            (key, Instant::now() + SESSION_TTL),
            MAX_SESSIONS,
            |v| v.1,
        );
        Ok(token)
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
