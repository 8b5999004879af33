// Every vector in protocol/vectors/records.json, checked the way an independent implementation
// would: each valid record decodes, verifies and has its id; signing its unsigned form with the
// vector's seed gives back exactly its bytes; each invalid record is refused with its reason.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as base64url from '../src/protocol/base64url.js';
import * as key from '../src/protocol/key.js';
import * as record from '../src/protocol/record.js';

const vectors = JSON.parse(readFileSync(new URL('../../../protocol/vectors/records.json', import.meta.url), 'utf8'));
const bytesOf = (text) => new TextEncoder().encode(text);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const fromHex = (text) => Uint8Array.from(text.match(/../g), (h) => parseInt(h, 16));

// Refusals a single record shows by itself (SPEC section 3's decoding list).
const RECORD_LEVEL = new Set([
  'record_too_large', 'malformed_json', 'non_canonical', 'malformed_record', 'unsupported_version',
  'malformed_kind', 'malformed_key', 'malformed_signature', 'bad_signature', 'invalid_body',
  'genesis_names_book', 'missing_book',
]);
// Refusals that need only the book id and the key the record is stored under (SPEC section 6).
const PLACEMENT = new Set(['wrong_id', 'wrong_book']);
// Refusals that need the roster at the change's causal past (SPEC sections 6 and 7): effective
// grants and revocations, counted with approvals, ordered by the automerge change graph. This
// client holds records, not the book's change graph, so it does not judge roles; for these
// vectors the test checks that the record itself is sound, so that the refusal can only be the
// book's, and that the history really gives the signer the standing the vector's name claims.
const ROSTER = new Set(['unknown_signer', 'revoked_signer', 'wrong_role']);
// Refusals the book gives from the causal past of the record's change: its signer's chain
// (SPEC section 6, step 5), its targets, and the rules of each kind of book. As with the roster,
// this client checks that the record itself is sound and placed in its book, and, for an
// equivocation, that the record's place really is taken in the history.
const BOOK = new Set([
  'equivocation', 'target_not_in_past', 'not_reversible', 'not_an_enterprise_book',
  'not_a_savings_book', 'unknown_group', 'not_investor', 'wrong_currency', 'wrong_target',
]);

const checked = { valid: 0, invalid: 0, resigned: 0 };

/** The vector's signer keys, by public key text: one from noble, one held by WebCrypto. */
async function keysOf(entry) {
  const seed = fromHex(entry.seed_hex);
  const seedKey = await key.keyFromSeed(seed);
  const cryptoKey = await crypto.subtle.importKey(
    'jwk',
    { kty: 'OKP', crv: 'Ed25519', d: base64url.encode(seed), x: seedKey.publicText },
    { name: 'Ed25519' },
    false,
    ['sign'],
  );
  return { seedKey, webCryptoKey: { public: seedKey.public, publicText: seedKey.publicText, cryptoKey } };
}

test('the vectors file is the one SPEC section 11 describes', () => {
  assert.equal(vectors.signing_prefix, new TextDecoder().decode(record.SIGNING_PREFIX));
  assert.ok(vectors.valid.length > 0 && vectors.invalid.length > 0);
  assert.equal(vectors.valid[0].record.includes('"kind":"genesis"'), true);
  assert.equal(vectors.valid[0].id, vectors.book, 'the book id is the genesis id');
});

test('each vector key seed gives its public key', async () => {
  for (const entry of vectors.keys) {
    const { seedKey } = await keysOf(entry);
    assert.equal(seedKey.publicText, entry.public, entry.name);
  }
});

// The savings book's vectors and the enterprise book's, each checked against its own book.
const sets = [
  { label: '', book: vectors.book, valid: vectors.valid, invalid: vectors.invalid },
  { label: 'enterprise ', book: vectors.enterprise.book, valid: vectors.enterprise.valid, invalid: vectors.enterprise.invalid },
];
const total = (list) => sets.reduce((n, set) => n + set[list].length, 0);

for (const { label, book, valid } of sets) for (const entry of valid) {
  test(`${label}valid: ${entry.name}`, async () => {
    const bytes = bytesOf(entry.record);
    const decoded = await record.decode(bytes);
    assert.equal(decoded.id, entry.id);
    const input = record.signingInput(decoded.record);
    assert.equal(hex(input), entry.signing_input_hex, 'signing input by encoding without sig');
    assert.equal(await record.recordId(input), entry.id);
    record.checkPlacement(decoded, { book });
    if (decoded.record.kind === 'genesis') assert.equal(decoded.id, book, 'a genesis id is its book id');

    // Ed25519 is deterministic: the unsigned record signed with the vector's seed must give the
    // vector's bytes exactly, whether noble or WebCrypto holds the key.
    const keyEntry = vectors.keys.find((k) => k.public === decoded.record.signer);
    assert.ok(keyEntry, `signer ${decoded.record.signer} has a seed in the vectors file`);
    const { seedKey, webCryptoKey } = await keysOf(keyEntry);
    const { sig: _sig, ...unsigned } = decoded.record;
    assert.deepEqual(await record.sign(unsigned, seedKey), bytes, 'signed with noble');
    assert.deepEqual(await record.sign(unsigned, webCryptoKey), bytes, 'signed with WebCrypto');
    checked.valid++;
    checked.resigned++;
  });
}

for (const { label, book, valid, invalid } of sets) for (const entry of invalid) {
  test(`${label}invalid: ${entry.name} (${entry.reason})`, async () => {
    // Bytes JSON text cannot hold (not UTF-8, a byte-order mark) come as hex.
    const bytes = entry.record_hex === undefined ? bytesOf(entry.record) : fromHex(entry.record_hex);
    if (RECORD_LEVEL.has(entry.reason)) {
      await assert.rejects(record.decode(bytes), (err) => {
        assert.equal(err.code, entry.reason, err.message);
        return true;
      });
    } else if (PLACEMENT.has(entry.reason)) {
      const decoded = await record.decode(bytes);
      assert.throws(
        () => record.checkPlacement(decoded, { book, storedUnder: entry.key ?? decoded.id }),
        (err) => err.code === entry.reason,
      );
    } else if (ROSTER.has(entry.reason)) {
      const decoded = await record.decode(bytes);
      record.checkPlacement(decoded, { book, storedUnder: entry.key ?? decoded.id });
      const history = await Promise.all(valid.map((v) => record.decode(bytesOf(v.record))));
      const signer = decoded.record.signer;
      const founders = history[0].record.body.officers.map((o) => o.key);
      const granted = history.filter((d) => d.record.kind === 'role_grant').map((d) => d.record.body.key);
      const revoked = history.filter((d) => d.record.kind === 'role_revoke').map((d) => d.record.body.key);
      if (entry.reason === 'unknown_signer') {
        assert.ok(!founders.includes(signer) && !granted.includes(signer), 'the signer never held a role');
      } else if (entry.reason === 'revoked_signer') {
        assert.ok(granted.includes(signer) && revoked.includes(signer), 'the signer was granted a role, then revoked');
      }
    } else if (BOOK.has(entry.reason)) {
      const decoded = await record.decode(bytes);
      record.checkPlacement(decoded, { book, storedUnder: entry.key ?? decoded.id });
      const history = await Promise.all(valid.map((v) => record.decode(bytesOf(v.record))));
      const { signer, seq } = decoded.record;
      const taken = history.filter((d) => d.record.signer === signer).map((d) => d.record.seq);
      if (entry.reason === 'equivocation') assert.ok(taken.includes(seq), 'the place is taken in the history');
    } else {
      assert.fail(`reason ${entry.reason} is new to this client: decide where it is checked and add it here`);
    }
    checked.invalid++;
  });
}

test('every vector was checked', (t) => {
  t.diagnostic(`vectors checked: ${checked.valid} valid, ${checked.invalid} invalid, ${checked.resigned} re-signed`);
  assert.equal(checked.valid, total('valid'));
  assert.equal(checked.invalid, total('invalid'));
});
