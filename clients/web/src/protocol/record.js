// Records (SPEC section 3): signed facts, their signing input, their ids, and decoding.
//
// A record is one canonical JSON object {after?, body, book?, kind, seq, sig, signer, time, v}.
// The signature covers "kaban-record-v2\n" followed by the canonical record without `sig`; the
// id is the SHA-256 of those same bytes, so it names the signed content, not the signature.
// `after` (the records the signer saw as the book's heads) and `seq` (the record's place in its
// signer's chain) fix the one change that may carry the record (SPEC section 5).

import * as canonical from './canonical.js';
import { KabanError } from './error.js';
import { checkBody } from './kind.js';
import * as key from './key.js';

export const RECORD_VERSION = 2;
export const MAX_RECORD_BYTES = 8192;
export const MAX_AFTER = 16;
/** "kaban-record-v2\n", prepended to what is signed and hashed. */
export const SIGNING_PREFIX = new TextEncoder().encode('kaban-record-v2\n');

const MEMBERS = ['after', 'body', 'book', 'kind', 'seq', 'sig', 'signer', 'time', 'v'];
const KIND = /^[a-z0-9_]{1,32}$/;
const HEX64 = /^[0-9a-f]{64}$/;

const refuse = (code, message) => {
  throw new KabanError(code, message);
};

/**
 * The signing input of a record: the prefix, then the canonical record without `sig`.
 * @param {object} record a record, with or without its `sig`
 * @returns {Uint8Array}
 */
export function signingInput(record) {
  const { sig: _sig, ...unsigned } = record;
  return key.concat(SIGNING_PREFIX, canonical.encode(unsigned));
}

/**
 * The record id: SHA-256 of the signing input, as 64 lowercase hex digits.
 * @param {Uint8Array} input from signingInput()
 * @returns {Promise<string>}
 */
export async function recordId(input) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Signs a record and returns its canonical bytes. `signer` and `v` are filled in from the key
 * and the version when absent. The result is decoded before it is returned, so this never
 * produces a record that decode() would refuse.
 * @param {{after?: string[], body: unknown, book?: string, kind: string, seq: number, time: number, signer?: string, v?: number}} unsigned
 * @param {import('./key.js').SignerKey} signerKey
 * @returns {Promise<Uint8Array>}
 * @throws {KabanError} with the code decode() would give the record
 */
export async function sign(unsigned, signerKey) {
  if (unsigned === null || typeof unsigned !== 'object') throw new TypeError('sign takes a record object');
  if (Object.hasOwn(unsigned, 'sig')) throw new TypeError('the record to sign already has a sig');
  if (Object.hasOwn(unsigned, 'signer') && unsigned.signer !== signerKey.publicText) {
    throw new TypeError(`the record names signer ${unsigned.signer} but the key is ${signerKey.publicText}`);
  }
  const record = { v: RECORD_VERSION, ...unsigned, signer: signerKey.publicText };
  const sig = await key.sign(signerKey, signingInput(record));
  const bytes = canonical.encode({ ...record, sig: key.encodeSignature(sig) });
  await decode(bytes);
  return bytes;
}

/**
 * Decodes and fully checks a record, in the order the Rust crate checks (see the README for
 * where that differs from SPEC's list): size, canonical JSON, members and their types, version,
 * kind, signer, signature text, strict signature, body, and the genesis/book rule.
 * @param {Uint8Array} bytes
 * @returns {Promise<{record: object, id: string, bytes: Uint8Array}>}
 * @throws {KabanError} carrying SPEC's reason code in `code`
 */
export async function decode(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decode takes the record bytes as a Uint8Array');
  if (bytes.length > MAX_RECORD_BYTES) {
    refuse('record_too_large', `record is ${bytes.length} bytes; the limit is ${MAX_RECORD_BYTES}`);
  }
  const record = canonical.decode(bytes);
  const shape = (what) => refuse('malformed_record', `record is not a JSON object with members ${MEMBERS.join(', ')}: ${what}`);
  if (record === null || typeof record !== 'object' || Array.isArray(record)) shape('not an object');
  const text = (name) => (typeof record[name] === 'string' ? record[name] : shape(`${name} must be a string`));
  const count = (name) => (Number.isSafeInteger(record[name]) && record[name] >= 0 ? record[name] : shape(`${name} must be a non-negative integer`));

  // The version comes first, so a record of another version is refused as such.
  const v = count('v');
  if (v !== RECORD_VERSION) refuse('unsupported_version', `record version ${v} is not supported; this client reads version ${RECORD_VERSION}`);
  const unexpected = Object.keys(record).find((name) => !MEMBERS.includes(name));
  if (unexpected !== undefined) shape(`unexpected member ${JSON.stringify(unexpected.slice(0, 40))}`);
  const kind = text('kind');
  if (!KIND.test(kind)) {
    refuse('malformed_kind', `record kind ${JSON.stringify(kind.slice(0, 40))} is not lowercase letters, digits and underscores, 1 to 32 long`);
  }
  const signer = key.parsePublicKey(text('signer'));
  count('time');
  if (Object.hasOwn(record, 'book') && !HEX64.test(text('book'))) {
    shape(`book ${JSON.stringify(record.book.slice(0, 80))} is not 64 lowercase hex digits`);
  }
  if (count('seq') < 1) shape('seq must be a positive integer');
  checkAfter(record, shape);
  const sigText = text('sig');
  const sig = key.decodeSignature(sigText);
  if (!Object.hasOwn(record, 'body')) shape('body is missing');

  // The bytes are canonical, so the `sig` member is exactly `,"sig":"<86 chars>"` between kind
  // and signer; cutting it out gives the canonical record without it (SPEC section 3).
  const member = new TextEncoder().encode(`,"sig":"${sigText}"`);
  const at = lastIndexOf(bytes, member);
  const input = key.concat(SIGNING_PREFIX, bytes.subarray(0, at), bytes.subarray(at + member.length));
  if (!(await key.verify(signer, input, sig))) {
    refuse('bad_signature', `signature does not verify for signer ${record.signer}`);
  }
  checkBody(kind, record.body);
  if (kind === 'genesis' && Object.hasOwn(record, 'book')) {
    refuse('genesis_names_book', 'a genesis record must not name a book; its own id is the book id');
  }
  if (kind !== 'genesis' && !Object.hasOwn(record, 'book')) refuse('missing_book', `a ${kind} record must name its book`);
  if (kind === 'genesis' && (record.seq !== 1 || Object.hasOwn(record, 'after'))) {
    shape('a genesis has seq 1 and no after: it founds its book');
  }
  if (kind !== 'genesis' && !Object.hasOwn(record, 'after')) shape(`a ${kind} record must name in after the records it follows`);
  return { record, id: await recordId(input), bytes };
}

/** `after`, when present: 1 to MAX_AFTER record ids in strictly ascending order. */
function checkAfter(record, shape) {
  if (!Object.hasOwn(record, 'after')) return;
  const after = record.after;
  if (!Array.isArray(after)) shape('after must be a list of record ids');
  if (after.length < 1 || after.length > MAX_AFTER) shape(`after must name 1 to ${MAX_AFTER} records`);
  after.forEach((id, i) => {
    if (typeof id !== 'string' || !HEX64.test(id)) shape('after must hold record ids, 64 lowercase hex digits');
    if (i > 0 && after[i - 1] >= id) shape('after must be sorted, without repeats');
  });
}

function lastIndexOf(haystack, needle) {
  for (let i = haystack.length - needle.length; i >= 0; i--) {
    let j = 0;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  throw new Error('a canonical record with a sig member contains that member');
}

/**
 * The checks that need only the book's id and the key a record is stored under (SPEC section
 * 6): it is stored under its own id (`wrong_id`) and names this book (`wrong_book`; a genesis
 * names the book its id founds). Who may sign needs the book's roster and is not checked here.
 * @param {{record: object, id: string}} decoded from decode()
 * @param {{book: string, storedUnder?: string}} place
 * @throws {KabanError} `wrong_id` or `wrong_book`
 */
export function checkPlacement({ record, id }, { book, storedUnder = id }) {
  if (storedUnder !== id) refuse('wrong_id', `record ${id} is stored under ${JSON.stringify(String(storedUnder).slice(0, 80))}, not its id`);
  const names = record.kind === 'genesis' ? id : record.book;
  if (names !== book) refuse('wrong_book', `record ${id} belongs to book ${names}, not to book ${book}`);
}
