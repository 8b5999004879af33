// Signer keys: text forms, strict verification against hand-made edge cases, key generation
// with WebCrypto and with noble, and key files.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ed from '@noble/ed25519';
import * as base64url from '../src/protocol/base64url.js';
import * as key from '../src/protocol/key.js';

const { Point } = ed;
const L = Point.CURVE().n;
const P = Point.CURVE().p;
const message = new TextEncoder().encode('kaban-test-v1\nhello');

const le = (n) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const fromLe = (bytes) => bytes.reduceRight((n, b) => (n << 8n) | BigInt(b), 0n);
const sigOf = (rBytes, s) => key.concat(rBytes, le(s));
/** k = SHA-512(R ‖ A ‖ M) mod ℓ, the challenge of RFC 8032. */
const challenge = async (rBytes, aBytes, msg) =>
  fromLe(new Uint8Array(await crypto.subtle.digest('SHA-512', key.concat(rBytes, aBytes, msg)))) % L;

test('base64url has one spelling per value', () => {
  const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  const textForm = base64url.encode(bytes);
  assert.equal(textForm.length, 43);
  assert.deepEqual(base64url.decodeExact(textForm, 32), bytes);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(textForm.at(-1));
  // 43 characters carry 258 bits: the last character's two low bits must be zero.
  assert.equal(base64url.decodeExact(textForm.slice(0, 42) + alphabet[last + 1], 32), null);
  for (const bad of [`${textForm}=`, textForm.slice(1), textForm.replace(/-|_/, '+'), textForm.replace(/./, '/'), textForm.replace(/./, ' ')]) {
    assert.equal(base64url.decodeExact(bad, 32), null, bad);
  }
});

test('public key text: refuses malformed text and non-points, naming them', async () => {
  const good = (await key.keyFromSeed(new Uint8Array(32).fill(1))).publicText;
  assert.equal(good.length, key.PUBLIC_KEY_TEXT_LEN);
  assert.deepEqual(key.parsePublicKey(good), (await key.keyFromSeed(new Uint8Array(32).fill(1))).public);
  for (const bad of ['', good.slice(1), `${good}=`, `${good.slice(0, 42)}+`, 'not a key at all, not a key at all, not a k', 42]) {
    assert.throws(() => key.parsePublicKey(bad), (err) => err.code === 'malformed_key' && /unpadded base64url/.test(err.message));
  }
  // y = 2 has no x on the curve.
  assert.throws(() => key.parsePublicKey(base64url.encode(le(2n))), (err) => err.code === 'malformed_key' && /not a valid ed25519 point/.test(err.message));
});

test('public key points decode by RFC 8032, and none is of small order (SPEC section 2)', () => {
  // dalek alone accepts y = p + 3 as a second spelling of the point with y = 3, and x = 0 with
  // the sign bit set; Kaban refuses both, so that each key has one spelling, in Rust and here.
  const noncanonical = le(P + 3n);
  assert.deepEqual(Point.fromBytes(noncanonical, true).toBytes(), le(3n));
  for (const bytes of [noncanonical, le(1n | (1n << 255n))]) {
    assert.throws(() => key.parsePublicKey(base64url.encode(bytes)), (err) => err.code === 'malformed_key' && /canonically encoded/.test(err.message));
  }
  assert.doesNotThrow(() => key.parsePublicKey(base64url.encode(le(3n))));
  // The identity (y = 1) is a point of small order: no signature verifies under it.
  assert.throws(() => key.parsePublicKey(base64url.encode(le(1n))), { code: 'malformed_key' });
});

test('signature text is 86 characters with zero trailing bits', () => {
  const sig = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
  const textForm = key.encodeSignature(sig);
  assert.equal(textForm.length, key.SIGNATURE_TEXT_LEN);
  assert.deepEqual(key.decodeSignature(textForm), sig);
  for (const bad of [textForm.slice(1), `${textForm}A`, `${textForm.slice(0, 85)}B`, null]) {
    assert.throws(() => key.decodeSignature(bad), { code: 'malformed_signature' });
  }
});

test('honest signatures verify; any change to key, message or signature does not', async () => {
  const signer = await key.keyFromSeed(new Uint8Array(32).fill(3));
  const other = await key.keyFromSeed(new Uint8Array(32).fill(4));
  const sig = await key.sign(signer, message);
  assert.equal(await key.verify(signer.publicText, message, sig), true);
  assert.equal(await key.verify(signer, message, sig), true);
  assert.equal(await key.verify(other, message, sig), false);
  assert.equal(await key.verify(signer, message.subarray(1), sig), false);
  for (let i = 0; i < 64; i++) {
    const bad = Uint8Array.from(sig);
    bad[i] ^= 1;
    assert.equal(await key.verify(signer, message, bad), false, `byte ${i}`);
  }
});

// The cases below are where verify_strict differs from looser verifiers. Each is built so that
// a looser check accepts it (shown with noble's own verify), so the refusal is the strict rule.

test('strict: S must be below ℓ', async () => {
  const signer = await key.keyFromSeed(new Uint8Array(32).fill(5));
  const sig = await key.sign(signer, message);
  const s = fromLe(sig.subarray(32));
  assert.ok(s + L < 2n ** 256n);
  const malleated = sigOf(sig.subarray(0, 32), s + L);
  assert.equal(await key.verify(signer, message, malleated), false);
});

test('strict: a small-order public key verifies nothing', async () => {
  // A = identity. Then [S]B = R + [k]A holds for R = B, S = 1, whatever the message.
  const aBytes = Point.ZERO.toBytes();
  const sig = sigOf(Point.BASE.toBytes(), 1n);
  assert.equal(await ed.verifyAsync(sig, message, aBytes), true, 'noble (ZIP-215) accepts it');
  assert.equal(await key.verify(aBytes, message, sig), false);
});

async function forgedWithR(rPoint, r, a) {
  // A signature by secret scalar a whose R is rPoint: S = r + k·a, so [S]B − [k]A = [r]B.
  const aBytes = Point.BASE.multiply(a).toBytes();
  const rBytes = rPoint.toBytes();
  const k = await challenge(rBytes, aBytes, message);
  return { aBytes, sig: sigOf(rBytes, (r + k * a) % L) };
}

test('strict: the construction used below is sound, an honest R verifies', async () => {
  const a = 123456789n;
  const r = 987654321n;
  const { aBytes, sig } = await forgedWithR(Point.BASE.multiply(r), r, a);
  assert.equal(await key.verify(aBytes, message, sig), true);
});

test('strict: a small-order R is refused', async () => {
  // R = identity and r = 0: S = k·a satisfies [S]B = R + [k]A exactly.
  const { aBytes, sig } = await forgedWithR(Point.ZERO, 0n, 123456789n);
  assert.equal(await ed.verifyAsync(sig, message, aBytes), true, 'noble (ZIP-215) accepts it');
  assert.equal(await key.verify(aBytes, message, sig), false);
});

test('strict: the equation is cofactorless, so R with a torsion part is refused', async () => {
  let torsion = null;
  for (let y = 3n; !torsion; y++) {
    let p;
    try {
      p = Point.fromBytes(le(y), false);
    } catch {
      continue;
    }
    const t = p.multiply(L - 1n, false).add(p); // [ℓ]p, which lies in the 8-torsion
    if (!t.double().double().is0()) torsion = t; // of order exactly 8
  }
  const r = 987654321n;
  const { aBytes, sig } = await forgedWithR(Point.BASE.multiply(r).add(torsion), r, 123456789n);
  assert.equal(await ed.verifyAsync(sig, message, aBytes), true, 'noble (ZIP-215, cofactored) accepts it');
  assert.equal(await ed.verifyAsync(sig, message, aBytes, { zip215: false }), true, 'so does noble strict');
  assert.equal(await key.verify(aBytes, message, sig), false);
});

test('generateKey makes a non-extractable WebCrypto key where the platform has Ed25519', async () => {
  const signer = await key.generateKey();
  assert.ok(signer.cryptoKey, 'Node 20 has WebCrypto Ed25519');
  assert.equal(signer.cryptoKey.extractable, false);
  assert.equal(signer.seed, undefined);
  assert.deepEqual(key.parsePublicKey(signer.publicText), signer.public);
  assert.equal(await key.verify(signer, message, await key.sign(signer, message)), true);
  assert.throws(() => key.exportKeyFile(signer), /held by WebCrypto/);
});

test('generateKey falls back to a noble seed key without WebCrypto Ed25519', async () => {
  const { subtle } = globalThis.crypto;
  const original = subtle.generateKey;
  subtle.generateKey = async () => {
    throw new DOMException('Unrecognized algorithm name', 'NotSupportedError');
  };
  try {
    const signer = await key.generateKey();
    assert.equal(signer.cryptoKey, undefined);
    assert.equal(signer.seed.length, 32);
    assert.equal(await key.verify(signer, message, await key.sign(signer, message)), true);
  } finally {
    subtle.generateKey = original;
  }
  const again = await key.generateKey({ webCrypto: false });
  assert.ok(again.seed && !again.cryptoKey);
});

test('WebCrypto and noble give the same signature for the same seed', async () => {
  const seed = new Uint8Array(32).fill(9);
  const seedKey = await key.keyFromSeed(seed);
  const cryptoKey = await crypto.subtle.importKey(
    'jwk', { kty: 'OKP', crv: 'Ed25519', d: base64url.encode(seed), x: seedKey.publicText }, { name: 'Ed25519' }, false, ['sign']);
  const webCryptoKey = { public: seedKey.public, publicText: seedKey.publicText, cryptoKey };
  assert.deepEqual(await key.sign(webCryptoKey, message), await key.sign(seedKey, message));
});

test('key files round-trip in the layout the Rust CLI writes', async () => {
  const seed = new Uint8Array(32).fill(7);
  const signer = await key.keyFromSeed(seed);
  const file = key.exportKeyFile(signer);
  assert.equal(file, `{\n  "type": "kaban-signer-key",\n  "version": 1,\n  "public": "${signer.publicText}",\n  "secret": "${base64url.encode(seed)}"\n}\n`);
  const read = await key.importKeyFile(file);
  assert.equal(read.publicText, signer.publicText);
  assert.deepEqual(read.seed, seed);
  assert.equal((await key.importKeyFile(new TextEncoder().encode(file))).publicText, signer.publicText);
  // Any formatting will do, the JSON need not be canonical.
  const compact = JSON.stringify({ secret: base64url.encode(seed), public: signer.publicText, version: 1, type: 'kaban-signer-key' });
  assert.equal((await key.importKeyFile(compact)).publicText, signer.publicText);
});

test('key files are refused with the reason named', async () => {
  const signer = await key.keyFromSeed(new Uint8Array(32).fill(7));
  const other = await key.keyFromSeed(new Uint8Array(32).fill(8));
  const file = key.exportKeyFile(signer);
  const variants = [
    [file.replace(signer.publicText, other.publicText), /does not match its secret key/],
    ['{}', /missing member "public"/],
    ['[]', /not a JSON object/],
    ['{', /not valid JSON/],
    [file.replace('"version": 1', '"version": 1, "note": "x"'), /unknown member "note"/],
    [file.replace('"version": 1', '"version": 1, "version": 1'), /appears twice/],
    [file.replace('"version": 1', '"version": 2'), /version 2 is not supported/],
    [file.replace('"version": 1', '"version": 1.0'), /version is written 1/],
    [file.replace('kaban-signer-key', 'ssh-ed25519'), /type is "ssh-ed25519"/],
    [file.replace(/"secret": "(.)/, '"secret": "$1$1'), /secret is not 43 characters/],
  ];
  for (const [text, words] of variants) {
    await assert.rejects(key.importKeyFile(text), (err) => err.code === 'key_file' && words.test(err.message), String(words));
  }
});
