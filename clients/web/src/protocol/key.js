// Signer keys (SPEC section 2): Ed25519 keys, their text forms, signing, strict verification and
// the key file.
//
// A key made in the browser is a non-extractable WebCrypto key where the browser supports
// Ed25519: its secret never enters JavaScript, so script on the page cannot copy it. Elsewhere,
// and for keys read from a key file, the secret is a 32-byte seed signed with by @noble/ed25519.
//
// Verification never uses WebCrypto or noble's verify(): neither is ed25519-dalek's
// verify_strict, which SPEC requires. noble's default is ZIP-215 (cofactored, accepts small-order
// keys); its {zip215: false} branch is still cofactored and accepts small-order R; browsers'
// WebCrypto differ between engines. So verify() below implements verify_strict step by step on
// noble's curve arithmetic, and matches dalek on every input, not only on honest signatures.

import * as ed from '@noble/ed25519';
import * as base64url from './base64url.js';
import { parse as parseJsonText } from './canonical.js';
import { KabanError } from './error.js';

export const PUBLIC_KEY_TEXT_LEN = 43;
export const SIGNATURE_TEXT_LEN = 86;

const { Point } = ed;
/** The order ℓ of the prime-order subgroup. */
const L = Point.CURVE().n;

/**
 * Decompresses a point exactly as curve25519-dalek does, which is what makes 32 bytes "a valid
 * curve point" for the Rust crate: y is read from the low 255 bits without requiring y < p, and
 * x = 0 with the sign bit set is accepted. noble's ZIP-215 decoding makes the same choices.
 * @returns {ed.Point | null}
 */
function decompress(bytes) {
  try {
    return Point.fromBytes(bytes, true);
  } catch {
    return null;
  }
}

function decompressStrict(bytes) {
  try {
    return Point.fromBytes(bytes, false);
  } catch {
    return null;
  }
}

/**
 * Reads a public key text: 43 characters of unpadded base64url naming a curve point.
 * @param {unknown} text
 * @returns {Uint8Array} the 32 key bytes
 * @throws {KabanError} `malformed_key`
 */
export function parsePublicKey(text) {
  const bytes = base64url.decodeExact(text, 32);
  if (!bytes) {
    const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 64)) : `a ${typeof text}`;
    throw new KabanError('malformed_key', `public key ${shown} is not 43 characters of unpadded base64url`);
  }
  // RFC 8032's strict decoding (y below p, no sign bit on x = 0), and not of small order: one
  // spelling per key, and only keys a signature can verify under (SPEC section 2).
  const point = decompressStrict(bytes);
  if (!point || point.isSmallOrder()) {
    throw new KabanError('malformed_key', `public key ${text} is not a valid ed25519 point (canonically encoded, not of small order)`);
  }
  return bytes;
}

/** @param {Uint8Array} sig 64 bytes */
export function encodeSignature(sig) {
  return base64url.encode(sig);
}

/**
 * Reads a signature text: 86 characters of unpadded base64url.
 * @returns {Uint8Array} the 64 signature bytes
 * @throws {KabanError} `malformed_signature`
 */
export function decodeSignature(text) {
  const bytes = base64url.decodeExact(text, 64);
  if (!bytes) throw new KabanError('malformed_signature', 'signature is not 86 characters of unpadded base64url');
  return bytes;
}

function publicKeyBytes(publicKey) {
  if (typeof publicKey === 'string') return parsePublicKey(publicKey);
  if (publicKey instanceof Uint8Array && publicKey.length === 32) return publicKey;
  if (publicKey?.public instanceof Uint8Array) return publicKey.public;
  throw new TypeError('a public key is 32 bytes, its 43-character text, or a signer key');
}

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Verifies an Ed25519 signature the way ed25519-dalek's `verify_strict` does (SPEC section 2):
 * S must be below ℓ; A and R must decompress and must not be of small order; and the
 * cofactorless equation must hold in encoded form, [S]B − [k]A compressed equal to R's bytes,
 * with k = SHA-512(R bytes ‖ A bytes ‖ message) mod ℓ over the bytes as given.
 *
 * @param {Uint8Array | string | {public: Uint8Array}} publicKey
 * @param {Uint8Array} message the whole signed message, prefix included
 * @param {Uint8Array} signature 64 bytes
 * @returns {Promise<boolean>}
 */
export async function verify(publicKey, message, signature) {
  const aBytes = publicKeyBytes(publicKey);
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  const rBytes = signature.subarray(0, 32);
  const s = littleEndian(signature.subarray(32));
  if (s >= L) return false;
  const A = decompress(aBytes);
  const R = decompress(rBytes);
  if (!A || !R || A.isSmallOrder() || R.isSmallOrder()) return false;
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-512', concat(rBytes, aBytes, message)),
  );
  const k = littleEndian(digest) % L;
  const expected = Point.BASE.multiply(s, false).subtract(A.multiply(k, false));
  return equalBytes(expected.toBytes(), rBytes);
}

/** @param {...Uint8Array} parts */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A signer key. `public` is the 32-byte public key and `publicText` its text. Exactly one of
 * `cryptoKey` (a WebCrypto private key, usually non-extractable) and `seed` (the 32-byte RFC 8032
 * secret) holds the secret.
 * @typedef {{public: Uint8Array, publicText: string, cryptoKey?: CryptoKey, seed?: Uint8Array}} SignerKey
 */

function signerKey(fields) {
  return Object.freeze({ ...fields, publicText: base64url.encode(fields.public) });
}

/**
 * A signer key from a 32-byte seed, signed with by @noble/ed25519.
 * @param {Uint8Array} seed
 * @returns {Promise<SignerKey>}
 */
export async function keyFromSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('a seed is 32 bytes');
  const copy = Uint8Array.from(seed);
  return signerKey({ public: await ed.getPublicKeyAsync(copy), seed: copy });
}

/**
 * Makes a new signer key: a non-extractable WebCrypto Ed25519 key where the platform has one,
 * else a seed from crypto.getRandomValues signed with by noble. Pass `{webCrypto: false}` to get
 * a seed key, which (unlike the WebCrypto one) can be written to a key file.
 * @returns {Promise<SignerKey>}
 */
export async function generateKey({ webCrypto = true } = {}) {
  if (webCrypto) {
    try {
      const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
      return signerKey({ public: raw, cryptoKey: pair.privateKey });
    } catch {
      // Browsers without WebCrypto Ed25519 throw NotSupportedError (older ones other errors);
      // every failure here leaves the seed key below as the way to sign.
    }
  }
  return keyFromSeed(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Signs a message (which must already start with its domain-separation prefix).
 * @param {SignerKey} key
 * @param {Uint8Array} message
 * @returns {Promise<Uint8Array>} the 64-byte signature
 */
export async function sign(key, message) {
  if (key?.cryptoKey) return new Uint8Array(await crypto.subtle.sign('Ed25519', key.cryptoKey, message));
  if (key?.seed) return ed.signAsync(message, key.seed);
  throw new TypeError('sign takes a signer key from generateKey, keyFromSeed or importKeyFile');
}

const KEY_FILE_TYPE = 'kaban-signer-key';
const KEY_FILE_MEMBERS = ['public', 'secret', 'type', 'version'];

/**
 * The key file form (SPEC section 2), written as the Rust CLI writes it. Only a seed key has
 * one: a non-extractable WebCrypto key's secret cannot leave the browser, by design.
 * @param {SignerKey} key
 * @returns {string}
 */
export function exportKeyFile(key) {
  if (!key?.seed) {
    throw new Error('this key is held by WebCrypto and cannot be exported; only a seed key has a key file');
  }
  const file = { type: KEY_FILE_TYPE, version: 1, public: key.publicText, secret: base64url.encode(key.seed) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

function keyFileError(what) {
  return new KabanError('key_file', `key file is not a Kaban signer key file: ${what}`);
}

/**
 * Reads a key file. The JSON need not be canonical, but it must hold exactly the four members,
 * and the stated public key must be the one the secret gives.
 * @param {string | Uint8Array} file
 * @returns {Promise<SignerKey>}
 * @throws {KabanError} `key_file` (not a SPEC reason code: key files never travel)
 */
export async function importKeyFile(file) {
  const text = typeof file === 'string' ? file : new TextDecoder().decode(file);
  let parsed;
  try {
    parsed = parseJsonText(text);
  } catch (e) {
    throw keyFileError(e.message);
  }
  const { value, flaw, duplicates } = parsed;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw keyFileError('not a JSON object');
  if (duplicates) throw keyFileError('a member appears twice');
  for (const name of Object.keys(value)) {
    if (!KEY_FILE_MEMBERS.includes(name)) throw keyFileError(`unknown member ${JSON.stringify(name)}`);
  }
  for (const name of KEY_FILE_MEMBERS) {
    if (!Object.hasOwn(value, name)) throw keyFileError(`missing member ${JSON.stringify(name)}`);
  }
  if (value.type !== KEY_FILE_TYPE) throw keyFileError(`type is ${JSON.stringify(value.type)}, expected "${KEY_FILE_TYPE}"`);
  if (value.version !== 1) throw keyFileError(`version ${JSON.stringify(value.version)} is not supported; this client reads version 1`);
  if (flaw) throw keyFileError(`version is written 1, not as a fraction or exponent (${flaw})`);
  if (typeof value.public !== 'string') throw keyFileError('public must be a string');
  const seed = base64url.decodeExact(value.secret, 32);
  if (!seed) throw keyFileError('secret is not 43 characters of unpadded base64url');
  const key = await keyFromSeed(seed);
  if (key.publicText !== value.public) {
    throw new KabanError(
      'key_file',
      `key file's public key ${value.public} does not match its secret key, which gives ${key.publicText}`,
    );
  }
  return key;
}
