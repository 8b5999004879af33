// Records: signing with both kinds of key, every reason code of SPEC section 3 with a record
// that has exactly that fault, body rules per kind, tampering, and placement in a book.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as canonical from '../src/protocol/canonical.js';
import * as key from '../src/protocol/key.js';
import * as record from '../src/protocol/record.js';

const BOOK = 'ab'.repeat(32);
const TIME = 1_764_300_000_000;
const treasurer = await key.keyFromSeed(new Uint8Array(32).fill(0x11));
const chair = await key.keyFromSeed(new Uint8Array(32).fill(0x22));
const bytes = (s) => new TextEncoder().encode(s);

const contribution = (body = {}) => ({
  after: [BOOK],
  book: BOOK,
  kind: 'contribution',
  seq: 2,
  time: TIME,
  body: { amount: { currency: 'HKD', minor: 50000 }, member: 'm-ana', ...body },
});
const genesis = (body = {}) => ({
  kind: 'genesis',
  seq: 1,
  time: TIME,
  body: {
    currency: 'HKD',
    name: 'Bayanihan Savers',
    officers: [{ key: treasurer.publicText, roles: ['treasurer'] }, { key: chair.publicText, roles: ['chair'] }],
    rules: { quorum: {} },
    ...body,
  },
});

/**
 * Encodes a record exactly as given, with a good signature over it, without the checks sign()
 * makes: so that each test below holds one fault and nothing else.
 */
async function forge(fields, signer = treasurer) {
  const unsigned = { signer: signer.publicText, v: 2, ...fields };
  const sig = key.encodeSignature(await key.sign(signer, record.signingInput(unsigned)));
  return canonical.encode({ ...unsigned, sig });
}

const refused = async (code, bytesOrPromise, words) => {
  await assert.rejects(record.decode(await bytesOrPromise), (err) => {
    assert.equal(err.code, code, err.message);
    if (words) assert.match(err.message, words);
    return true;
  });
};

test('sign then decode, with a WebCrypto key and with a noble key', async () => {
  for (const signer of [await key.generateKey(), await key.generateKey({ webCrypto: false })]) {
    const unsigned = contribution();
    const signed = await record.sign(unsigned, signer);
    const { record: decoded, id } = await record.decode(signed);
    assert.equal(decoded.signer, signer.publicText);
    assert.equal(decoded.v, 2);
    assert.equal(id, await record.recordId(record.signingInput({ ...unsigned, signer: signer.publicText, v: 2 })));
    assert.equal(await key.verify(signer, record.signingInput(decoded), key.decodeSignature(decoded.sig)), true);
  }
});

test('the id names the content: the same content signed by WebCrypto and noble has one id', async () => {
  const seed = new Uint8Array(32).fill(0x11);
  const cryptoKey = await crypto.subtle.importKey(
    'jwk', { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(seed).toString('base64url'), x: treasurer.publicText },
    { name: 'Ed25519' }, false, ['sign']);
  const a = await record.decode(await record.sign(contribution(), treasurer));
  const b = await record.decode(await record.sign(contribution(), { ...treasurer, seed: undefined, cryptoKey }));
  assert.equal(a.id, b.id);
});

test('sign refuses what decode would refuse, and a record for someone else', async () => {
  await assert.rejects(record.sign(contribution({ amount: { currency: 'HKD', minor: 0.5 } }), treasurer), { code: 'non_canonical' });
  await assert.rejects(record.sign(contribution({ amount: { currency: 'HKD', minor: 0 } }), treasurer), { code: 'invalid_body' });
  await assert.rejects(record.sign({ ...genesis(), book: BOOK }, treasurer), { code: 'genesis_names_book' });
  await assert.rejects(record.sign({ ...contribution(), book: undefined }, treasurer), { code: 'non_canonical' });
  await assert.rejects(record.sign({ ...contribution(), signer: chair.publicText }, treasurer), TypeError);
  await assert.rejects(record.sign({ ...contribution(), sig: 'x' }, treasurer), TypeError);
});

test('record_too_large: at most 8192 bytes, signature included', async () => {
  const sized = async (n) => forge({ after: [BOOK], book: BOOK, seq: 2, kind: 'note', time: TIME, body: 'x'.repeat(n) });
  const probe = await sized(0);
  const exact = await sized(record.MAX_RECORD_BYTES - probe.length);
  assert.equal(exact.length, 8192);
  await record.decode(exact);
  await refused('record_too_large', sized(record.MAX_RECORD_BYTES - probe.length + 1), /8193 bytes; the limit is 8192/);
});

test('malformed_json and non_canonical', async () => {
  await refused('malformed_json', bytes('{"body":'));
  const good = new TextDecoder().decode(await forge(contribution()));
  await refused('non_canonical', bytes(good.replace('"kind":', '"kind" :')));
  await refused('non_canonical', bytes(good.replace('"v":2', '"v":2.0')));
});

test('malformed_record: the members and their types', async () => {
  const ok = contribution();
  for (const [fields, words] of [
    [null, /not an object/],
    [[ok], /not an object/],
    ['record', /not an object/],
    [{ ...ok, note: 'x' }, /unexpected member "note"/],
    [{ ...ok, time: String(TIME) }, /time must be a non-negative integer/],
    [{ ...ok, time: -1 }, /time must be a non-negative integer/],
    [{ ...ok, book: BOOK.toUpperCase() }, /book "ABAB.*" is not 64 lowercase hex digits/],
    [{ ...ok, book: BOOK.slice(1) }, /is not 64 lowercase hex digits/],
    [{ ...ok, book: null }, /book must be a string/],
    [{ ...ok, kind: 7 }, /kind must be a string/],
    [{ ...ok, seq: 0 }, /seq must be a positive integer/],
    [{ ...ok, seq: undefined }, /seq must be a non-negative integer/],
    [{ ...ok, after: [] }, /after must name 1 to 16 records/],
    [{ ...ok, after: [BOOK, BOOK] }, /after must be sorted, without repeats/],
    [{ ...ok, after: ['cd'.repeat(32), BOOK] }, /after must be sorted, without repeats/],
    [{ ...ok, after: [BOOK.toUpperCase()] }, /after must hold record ids/],
    [{ ...ok, after: undefined }, /must name in after the records it follows/],
    [{ ...genesis(), seq: 2 }, /a genesis has seq 1 and no after/],
    [{ ...genesis(), after: [BOOK] }, /a genesis has seq 1 and no after/],
    [{ ...ok, body: undefined }, /body is missing/],
  ]) {
    const raw = fields !== null && typeof fields === 'object' && !Array.isArray(fields)
      ? await forge(JSON.parse(JSON.stringify(fields)))
      : canonical.encode(fields);
    await refused('malformed_record', raw, words);
  }
  for (const [member, value, words] of [
    ['v', '1', /v must be a non-negative integer/],
    ['v', undefined, /v must be a non-negative integer/],
    ['signer', undefined, /signer must be a string/],
    ['sig', 5, /sig must be a string/],
  ]) {
    const fields = { ...ok, signer: treasurer.publicText, v: 2, sig: 'A'.repeat(86), [member]: value };
    await refused('malformed_record', canonical.encode(JSON.parse(JSON.stringify(fields))), words);
  }
});

test('unsupported_version, malformed_kind, malformed_key, malformed_signature, bad_signature', async () => {
  await refused('unsupported_version', forge({ ...contribution(), v: 1 }), /version 1 is not supported/);
  // A version 1 record has no place: it is refused for its version, not for what it lacks.
  const { after: _a, seq: _s, ...v1 } = contribution();
  await refused('unsupported_version', forge({ ...v1, v: 1 }), /version 1 is not supported/);
  for (const kind of ['Contribution', '', 'a'.repeat(33), 'a-b', 'né']) {
    await refused('malformed_kind', forge({ ...contribution(), kind }), /lowercase letters, digits and underscores/);
  }
  const good = JSON.parse(new TextDecoder().decode(await forge(contribution())));
  const notAPoint = 'AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'; // y = 2 is not on the curve
  await refused('malformed_key', canonical.encode({ ...good, signer: notAPoint }), /not a valid ed25519 point/);
  await refused('malformed_signature', canonical.encode({ ...good, sig: good.sig.slice(1) }), /86 characters/);
  // 86 characters carry 516 bits for 512: the next letter after a valid last one sets a low bit.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const trailing = good.sig.slice(0, 85) + alphabet[alphabet.indexOf(good.sig.at(-1)) + 1];
  await refused('malformed_signature', canonical.encode({ ...good, sig: trailing }));
  await refused('bad_signature', canonical.encode({ ...good, signer: chair.publicText }), /does not verify for signer/);
  await refused('bad_signature', canonical.encode({ ...good, time: TIME + 1 }));
});

test('genesis_names_book and missing_book', async () => {
  await refused('genesis_names_book', forge({ ...genesis(), book: BOOK }));
  const { book: _book, ...bookless } = contribution();
  await refused('missing_book', forge(bookless), /a contribution record must name its book/);
  await refused('missing_book', forge({ after: [BOOK], kind: 'loan_offer', seq: 2, time: TIME, body: {} }));
  await record.decode(await forge(genesis()));
});

test('the order of checks is the Rust crate\'s where a record has several faults', async () => {
  // SPEC section 3 checks the version first, then the members; the Rust crate checks kind and
  // signer before the types of time, book, sig and body. Both refuse; the code follows the
  // crate so that phone and node name the same fault.
  const { body: _body, ...noBody } = contribution();
  await refused('unsupported_version', forge({ ...noBody, v: 1, note: 'x' }));
  await refused('malformed_kind', forge({ ...contribution(), kind: 'X', time: 'now' }));
  await refused('malformed_key', canonical.encode({ ...noBody, v: 2, signer: 'nope', sig: 5 }));
});

test('invalid_body: each kind\'s rules, with the fault named', async () => {
  const key4 = (await key.keyFromSeed(new Uint8Array(32).fill(0x44))).publicText;
  const at = (kind, body) => ({ after: [BOOK], book: BOOK, seq: 2, kind, time: TIME, body });
  const cases = [
    [contribution({ amount: { currency: 'HKD', minor: 0 } }), /amount must be positive, got 0/],
    [contribution({ amount: { currency: 'HKD', minor: -5 } }), /amount must be positive/],
    [contribution({ amount: { currency: 'XXX', minor: 5 } }), /currency "XXX" is not one Kaban knows/],
    [contribution({ amount: { minor: 5 } }), /money has no currency/],
    [contribution({ amount: 500 }), /money must be an object/],
    [contribution({ member: 'ab' }), /member id "ab" must be 3 to 32/],
    [contribution({ member: 'M-ANA' }), /member id "M-ANA"/],
    [contribution({ meeting: 'AB'.repeat(32) }), /meeting "ABAB.*" is not a record id/],
    [contribution({ meeting: null }), /body\.meeting is null; leave an optional member out instead/],
    [contribution({ note: null }), /body\.note is null/],
    [contribution({ amount: { currency: 'HKD', minor: 5, fx: null } }), /body\.amount\.fx is null/],
    [at('contribution', ['m-ana', { currency: 'HKD', minor: 5 }]), /body must be an object/],
    [at('member_join', { alias: ' \u3000\n', member: 'm-ana' }), /alias must not be empty/],
    [at('member_join', { alias: '\u0085', member: 'm-ana' }), /alias must not be empty/],
    [at('member_join', { alias: 'é'.repeat(81), member: 'm-ana' }), /alias is longer than 80 characters/],
    [at('member_join', { alias: 'Ana', member: 'm-ana', key: 'k' }), /key: public key "k"/],
    [at('member_join', { member: 'm-ana' }), /body has no alias/],
    [at('role_grant', { key: key4, role: 'owner' }), /role "owner" is not one of/],
    [at('role_revoke', { key: key4 }), /body has no role/],
    [at('meeting', { date: '2026-13-01' }), /date "2026-13-01" is not a calendar date YYYY-MM-DD/],
    [at('meeting', { date: '2026-1-01' }), /not a calendar date YYYY-MM-DD/],
    [at('meeting', { date: '2026-11-29', attendance: Array(101).fill('m-ana') }), /attendance has more than 100 items/],
    [at('meeting', { date: '2026-11-29', attendance: ['m-ana', 'x'] }), /attendance\[1\]: member id "x"/],
    [at('meeting', { date: '2026-11-29', place: '' }), /place must not be empty/],
    [at('withdrawal', { amount: { currency: 'HKD', minor: 5 }, member: 'm-ana', reason: 'r'.repeat(501) }), /reason is longer than 500/],
    [at('approval', { record: 'x' }), /record "x" is not a record id/],
    [at('reversal', { record: 'ab'.repeat(32) }), /body has no reason/],
    [at('share', { peer: `0${'1'.repeat(45)}` }), /is not a libp2p PeerId/],
    [at('unshare', { peer: '12D3Koo' }), /is not a libp2p PeerId/],
    [genesis({ officers: [] }), /officers must not be empty/],
    [genesis({ officers: [{ key: chair.publicText, roles: ['chair'] }, { key: key4, roles: ['secretary'] }] }), /genesis names no treasurer/],
    [genesis({ officers: [{ key: treasurer.publicText, roles: ['treasurer', 'chair'] }] }), /quorum for role_grant is 2 but the genesis names only 1 officers/],
    [genesis({ officers: [{ key: treasurer.publicText, roles: ['treasurer'] }, { key: treasurer.publicText, roles: ['chair'] }] }), /names only 1 officers/],
    [genesis({ rules: { quorum: { withdrawal: 3 } } }), /quorum for withdrawal is 3 but the genesis names only 2/],
    [genesis({ rules: { quorum: { withdrawal: 0 } } }), /quorum for withdrawal is 0; it must be between 1 and 9/],
    [genesis({ rules: { quorum: { loan_offer: 10 } } }), /between 1 and 9/],
    [genesis({ rules: { quorum: null } }), /body\.rules\.quorum is null/],
    [genesis({ rules: { quorum: [] } }), /quorum must be an object/],
    [genesis({ rules: undefined }), /body has no rules/],
    [genesis({ currency: 'hkd' }), /currency "hkd"/],
    [genesis({ officers: [{ key: treasurer.publicText, roles: [{ treasurer: null }] }] }), /roles\[0\]\.treasurer is null/],
    [genesis({ officers: [{ key: treasurer.publicText, roles: [{ treasurer: 1 }] }] }), /role \{"treasurer":1\} is not one of/],
  ];
  for (const [fields, words] of cases) {
    await refused('invalid_body', forge(JSON.parse(JSON.stringify(fields))), words);
  }
});

test('bodies: what is allowed', async () => {
  const ok = async (fields) => (await record.decode(await forge(fields))).record;
  // Members this version does not define are signed and kept.
  assert.equal((await ok(contribution({ receipt: 'r-1', amount: { currency: 'JPY', minor: 5, fx: 'x' } }))).body.receipt, 'r-1');
  // Limits count Unicode scalar values, and U+FEFF is not white space to Rust's trim.
  await ok({ after: [BOOK], book: BOOK, seq: 2, kind: 'member_join', time: TIME, body: { alias: '😀'.repeat(80), member: 'm-ana' } });
  await ok({ after: [BOOK], book: BOOK, seq: 2, kind: 'member_join', time: TIME, body: { alias: '\ufeff', member: 'm-ana' } });
  await ok({ after: [BOOK], book: BOOK, seq: 2, kind: 'meeting', time: TIME, body: { date: '2028-02-29', attendance: [] } });
  // Dates are real calendar dates.
  for (const date of ['2026-02-31', '2027-02-29', '1900-02-29', '2026-04-31']) {
    await refused('invalid_body', forge({ after: [BOOK], book: BOOK, seq: 2, kind: 'meeting', time: TIME, body: { date } }), /calendar date/);
  }
  await ok(genesis({ rules: {}, officers: [...genesis().body.officers, { key: chair.publicText, roles: [] }] }));
  await ok(genesis({ rules: { quorum: { loan_offer: 2 } } }));
  for (const kind of ['approval', 'genesis', 'transfer']) {
    await refused('invalid_body', forge(genesis({ rules: { quorum: { [kind]: 1 } } })), new RegExp(`cannot name ${kind}`));
  }
  // A kind this version does not know may carry any JSON value, null included.
  for (const body of [null, [1, 2], 'text', { anything: [null] }]) {
    assert.deepEqual((await ok({ after: [BOOK], book: BOOK, kind: 'loan_offer', seq: 2, time: TIME, body })).kind, 'loan_offer');
  }
});

test('tampering: flipping any bit of any byte of a signed record is refused', async () => {
  const signed = await record.sign(contribution({ meeting: 'cd'.repeat(32) }), treasurer);
  await record.decode(signed);
  const codes = new Map();
  for (let i = 0; i < signed.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Uint8Array.from(signed);
      bad[i] ^= 1 << bit;
      await assert.rejects(record.decode(bad), (err) => {
        assert.ok(err.code, `flipping bit ${bit} of byte ${i} gave ${err}`);
        codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
        return true;
      }, `flipping bit ${bit} of byte ${i} (${String.fromCharCode(signed[i])}) was accepted`);
    }
  }
  // The flips reach every layer, the signature check included.
  for (const code of ['malformed_json', 'non_canonical', 'bad_signature', 'malformed_signature', 'malformed_key']) {
    assert.ok(codes.get(code) > 0, `no flip was refused as ${code}: ${JSON.stringify([...codes])}`);
  }
});

test('placement: wrong_id and wrong_book; a genesis names the book it founds', async () => {
  const g = await record.decode(await record.sign(genesis(), treasurer));
  record.checkPlacement(g, { book: g.id });
  const c = await record.decode(await record.sign({ ...contribution(), book: g.id }, treasurer));
  record.checkPlacement(c, { book: g.id, storedUnder: c.id });
  assert.throws(() => record.checkPlacement(c, { book: g.id, storedUnder: g.id }), (err) => err.code === 'wrong_id' && err.message.includes(c.id));
  assert.throws(() => record.checkPlacement(c, { book: BOOK }), (err) => err.code === 'wrong_book' && err.message.includes(BOOK));
  assert.throws(() => record.checkPlacement(g, { book: BOOK }), { code: 'wrong_book' });
});
