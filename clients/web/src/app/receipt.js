// Receipts: a QR code carrying a signed contribution record, its book's genesis and, when the
// signer was made an officer after the book began, the role grants and approvals that made her
// one. Any phone running the client checks it with no connection:
// - every record's signature, strictly, as the node checks it;
// - that all of them belong to the book that genesis founds;
// - that the signer is a founding officer, or was granted her role by officers who together
//   reach the book's role-grant quorum, themselves founding or so granted.
// The payload is the records' canonical text, deflated and base64url-encoded, in the link's
// fragment, which browsers never send to a server. A check of 8 characters (the first 6 bytes
// of the payload's SHA-256) follows it after a `~`, so a link cut short or mistyped on its way
// ("ask for it again") is told apart from one whose records were changed (a signature fails).

import * as base64url from '../protocol/base64url.js';
import { defaultQuorum } from '../protocol/kind.js';
import * as record from '../protocol/record.js';

/** A receipt's records, inflated, are at most this many bytes; a hostile link may not inflate further. */
const MAX_RECEIPT_BYTES = 64 * 1024;

async function through(bytes, stream) {
  const reader = new Blob([bytes]).stream().pipeThrough(stream).getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_RECEIPT_BYTES) {
      await reader.cancel();
      throw new Error(`a receipt holds at most ${MAX_RECEIPT_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The link's check of a payload: 6 bytes of its SHA-256, as 8 base64url characters. */
async function checkOf(payload) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(payload)));
  return base64url.encode(digest.slice(0, 6));
}

/** The receipt link for a record, its book's genesis and the role proof (canonical texts). */
export async function link(recordText, genesisText, proof = []) {
  const json = new TextEncoder().encode(JSON.stringify([recordText, genesisText, ...proof]));
  const payload = base64url.encode(await through(json, new CompressionStream('deflate-raw')));
  return `${location.origin}/#receipt=${payload}~${await checkOf(payload)}`;
}

function bytesOf(text) {
  const bytes = base64url.decode(text);
  if (!bytes) throw new Error('a receipt is base64url');
  return bytes;
}

/** Officers provable from the genesis and the grants given: key → roles. */
function officers(genesis, decoded) {
  const roles = new Map(genesis.record.body.officers.map((o) => [o.key, new Set(o.roles)]));
  const named = genesis.record.body.rules?.quorum ?? {};
  const quorum = Object.hasOwn(named, 'role_grant') ? named.role_grant : defaultQuorum('role_grant');
  const grants = decoded.filter((d) => d.record.kind === 'role_grant');
  const approvals = decoded.filter((d) => d.record.kind === 'approval');
  const granters = new Set(['treasurer', 'chair', 'secretary']);
  for (let changed = true; changed; ) {
    changed = false;
    for (const g of grants) {
      const { key, role } = g.record.body;
      if (roles.get(key)?.has(role)) continue;
      if (![...(roles.get(g.record.signer) ?? [])].some((r) => granters.has(r))) continue;
      const signers = new Set([g.record.signer]);
      for (const a of approvals) {
        if (a.record.body.record === g.id && roles.has(a.record.signer)) signers.add(a.record.signer);
      }
      if (signers.size >= quorum) {
        roles.set(key, new Set([...(roles.get(key) ?? []), role]));
        changed = true;
      }
    }
  }
  return roles;
}

/**
 * Checks a receipt payload. Returns {valid: true, record, groupName, roles} or
 * {valid: false, reason} where reason is a translation key's last part.
 */
export async function check(link) {
  const [payload, given] = link.split('~');
  // A link without a check comes from a client before checks; it is read as it is.
  if (given !== undefined && given !== (await checkOf(payload))) return { valid: false, reason: 'incomplete' };
  let all;
  try {
    const texts = JSON.parse(new TextDecoder().decode(await through(bytesOf(payload), new DecompressionStream('deflate-raw'))));
    if (!Array.isArray(texts) || texts.length < 2 || texts.length > 10 || !texts.every((t) => typeof t === 'string')) throw new Error('format');
    all = [];
    for (const t of texts) all.push(await record.decode(new TextEncoder().encode(t)));
  } catch (e) {
    // With a check that holds, the link arrived whole: what fails was made that way.
    return { valid: false, reason: e.code === 'bad_signature' ? 'bad_signature' : given === undefined ? 'incomplete' : 'malformed', detail: e.message };
  }
  const [r, g, ...proof] = all;
  if (g.record.kind !== 'genesis' || [r, ...proof].some((d) => d.record.book !== g.id)) return { valid: false, reason: 'wrong_book' };
  if (r.record.kind !== 'contribution') return { valid: false, reason: 'not_contribution' };
  const roles = officers(g, proof).get(r.record.signer);
  const groupName = g.record.body.name;
  if (!roles?.size) return { valid: false, reason: 'not_officer', record: r.record, groupName };
  return { valid: true, record: r.record, id: r.id, groupName, roles: [...roles] };
}
