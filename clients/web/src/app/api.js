// The node's HTTP API, from the phone. Reads need a session, which the phone opens by signing
// the node's challenge with its key; the token lives in memory only. Every request has a timeout.

import * as key from '../protocol/key.js';
import * as base64url from '../protocol/base64url.js';

export const TIMEOUT_MS = 10_000;
const SESSION_PREFIX = new TextEncoder().encode('kaban-session-v2\n');

let token = null;

/** A failure the node explained (`status`, `code`, `detail`), or `offline` when it is unreachable. */
export class NodeError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

async function fetchJson(path, { method = 'GET', body, auth = true, extra = {} } = {}) {
  const headers = { ...extra };
  if (auth && token) headers.authorization = `Bearer ${token}`;
  if (body) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(`/api/v1${path}`, { method, body, headers, signal: AbortSignal.timeout(TIMEOUT_MS), cache: 'no-store' });
  } catch {
    throw new NodeError(0, 'offline', 'offline');
  }
  const text = await response.text();
  let value = null;
  try {
    value = text ? JSON.parse(text) : null;
  } catch {
    value = null;
  }
  if (!response.ok) throw new NodeError(response.status, value?.code ?? 'error', value?.detail ?? text);
  return { status: response.status, value };
}

/**
 * Opens a session (SPEC section 10). The signature names the node's id and this page's own
 * origin, which the phone knows for itself: a page elsewhere that relays the node's challenge
 * gets a signature for its own origin, which the node refuses.
 */
async function openSession(identity) {
  const { value: c } = await fetchJson('/sessions/challenge', {
    method: 'POST',
    auth: false,
    body: JSON.stringify({ key: identity.publicText }),
  });
  if (typeof c?.node !== 'string' || typeof c?.challenge !== 'string') throw new NodeError(502, 'bad_challenge', 'the node sent no challenge');
  const origin = globalThis.location.origin;
  const text = new TextEncoder().encode(`${c.node}\n${origin}\n${c.challenge}`);
  const signature = base64url.encode(await key.sign(identity, key.concat(SESSION_PREFIX, text)));
  const { value } = await fetchJson('/sessions', {
    method: 'POST',
    auth: false,
    body: JSON.stringify({ key: identity.publicText, origin, challenge: c.challenge, signature }),
  });
  token = value.token;
}

/**
 * Opens one session at a time: screens read several things at once, and the node keeps one
 * challenge per key, so requests that all find no token share the one being opened.
 */
let opening = null;
function sessionFor(identity) {
  opening ??= openSession(identity).finally(() => {
    opening = null;
  });
  return opening;
}

/** Runs `request` with a session, opening (or renewing, after a 401) it when needed. */
async function withSession(identity, request) {
  if (!token) await sessionFor(identity);
  const sent = token;
  try {
    return (await request()).value;
  } catch (e) {
    if (e.status !== 401) throw e;
    // Renewed once for all the requests the old token failed, not once each.
    if (token === sent) await sessionFor(identity);
    return (await request()).value;
  }
}

/** GET with a session. */
export async function read(identity, path) {
  return withSession(identity, () => fetchJson(path));
}

/** A request with a session for personal data (GET, PUT or DELETE). */
export async function write(identity, method, path, value) {
  const body = value === undefined ? undefined : JSON.stringify(value);
  return withSession(identity, () => fetchJson(path, { method, body }));
}

/** Where `signer`'s next record in `book` stands: `{seq, after}`. Needs a session. */
export async function place(identity, book, signer) {
  return read(identity, `/books/${book}/place?signer=${encodeURIComponent(signer)}`);
}

/** Submits signed record bytes; 201 (new) and 200 (already held) both mean durable. */
export async function submit(book, bytes) {
  return fetchJson(`/books/${book}/records`, { method: 'POST', body: bytes, auth: false });
}

/**
 * Founds a book on the node from its signed genesis, with the node's one-time setup code (the
 * node printed it at its first start, or `kaban-node setup-code` made it). 201: founded.
 */
export async function found(bytes, setupCode) {
  return fetchJson('/books', { method: 'POST', body: bytes, auth: false, extra: { 'kaban-setup-code': setupCode.trim() } });
}

/** The node's id and the addresses partners reach it at (`GET /node`, open to anyone). */
export async function node() {
  return (await fetchJson('/node', { auth: false })).value;
}
