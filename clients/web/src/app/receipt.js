// Receipts: a QR code carrying a signed contribution record and its book's genesis, which any
// phone running the client can check with no connection: the record's signature (strictly, as
// the node checks it), that it belongs to the book that genesis founds, and which founding
// officer signed it.

import * as base64url from '../protocol/base64url.js';
import * as record from '../protocol/record.js';

const enc = new TextEncoder();

/** The receipt link for a record and its book's genesis (both as canonical record text). */
export function link(recordText, genesisText) {
  return `${location.origin}/#receipt=${base64url.encode(enc.encode(recordText))}.${base64url.encode(enc.encode(genesisText))}`;
}

function bytesOf(text) {
  // Unpadded base64url of any length.
  const s = text.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*$/.test(s)) throw new Error('format');
  const bin = atob(s + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * Checks a receipt payload. Returns {valid: true, record, groupName, roles} or
 * {valid: false, reason} where reason is a translation key's last part.
 */
export async function check(payload) {
  let r;
  let g;
  try {
    const [a, b] = payload.split('.');
    r = await record.decode(bytesOf(a));
    g = await record.decode(bytesOf(b ?? ''));
  } catch (e) {
    return { valid: false, reason: e.code === 'bad_signature' ? 'bad_signature' : 'malformed', detail: e.message };
  }
  if (g.record.kind !== 'genesis' || r.record.book !== g.id) return { valid: false, reason: 'wrong_book' };
  if (r.record.kind !== 'contribution') return { valid: false, reason: 'not_contribution' };
  const officer = g.record.body.officers.find((o) => o.key === r.record.signer);
  if (!officer) return { valid: false, reason: 'not_founding_officer', record: r.record, groupName: g.record.body.name };
  return { valid: true, record: r.record, id: r.id, groupName: g.record.body.name, roles: officer.roles };
}
