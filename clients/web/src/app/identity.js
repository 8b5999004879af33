// The phone's signer key. It is made here and never leaves the phone.
//
// A new key starts as 32 random bytes. Before anything else they are sealed into an encrypted
// backup under the person's passphrase (PBKDF2-SHA-256, 600,000 rounds, AES-256-GCM). Then, where
// the browser has WebCrypto Ed25519, they are imported as a non-extractable key, so no script can
// read the secret again, and the bytes are wiped; elsewhere the bytes are kept in IndexedDB and
// signed with by @noble/ed25519. The backup is the only copy that can leave the phone, and only
// encrypted.

import * as ed from '@noble/ed25519';
import * as base64url from '../protocol/base64url.js';
import * as store from './store.js';

const PKCS8_ED25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const ROUNDS = 600_000;
export const MIN_PASSPHRASE = 8;
const BACKUP_PREFIX = 'kaban-key-backup:';

async function passKey(passphrase, salt, usage) {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: ROUNDS }, base, { name: 'AES-GCM', length: 256 }, false, [usage]);
}

/** The encrypted backup of a seed, as one line of text (also what its QR code carries). */
export async function seal(seed, publicText, passphrase) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await passKey(passphrase, salt, 'encrypt');
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(publicText) }, key, seed));
  return BACKUP_PREFIX + [publicText, base64url.encode(salt), base64url.encode(iv), base64url.encode(ct)].join('.');
}

/** Opens a backup; throws `Error('backup_format')` or `Error('backup_passphrase')`. */
export async function unseal(text, passphrase) {
  const parts = text.trim().startsWith(BACKUP_PREFIX) ? text.trim().slice(BACKUP_PREFIX.length).split('.') : [];
  const [publicText, salt, iv, ct] = parts;
  const bytes = [base64url.decodeExact(salt ?? '', 16), base64url.decodeExact(iv ?? '', 12)];
  if (parts.length !== 4 || bytes.includes(null) || !ct) throw new Error('backup_format');
  let seed;
  try {
    const key = await passKey(passphrase, bytes[0], 'decrypt');
    const ctBytes = base64url.decodeExact(ct, 48);
    if (!ctBytes) throw new Error('backup_format');
    seed = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes[1], additionalData: new TextEncoder().encode(publicText) }, key, ctBytes));
  } catch (e) {
    if (e.message === 'backup_format') throw e;
    throw new Error('backup_passphrase');
  }
  if (base64url.encode(await ed.getPublicKeyAsync(seed)) !== publicText) throw new Error('backup_format');
  return seed;
}

/** Stores the identity from a seed, preferring a non-extractable WebCrypto key. Wipes `seed`. */
async function keep(seed, backup) {
  const pub = await ed.getPublicKeyAsync(seed);
  const publicText = base64url.encode(pub);
  let identity = { publicText, public: pub, backup, webCrypto: false };
  try {
    const der = new Uint8Array(PKCS8_ED25519.length + 32);
    der.set(PKCS8_ED25519);
    der.set(seed, PKCS8_ED25519.length);
    const cryptoKey = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
    der.fill(0);
    identity = { ...identity, cryptoKey, webCrypto: true };
  } catch {
    identity = { ...identity, seed: Uint8Array.from(seed) };
  }
  seed.fill(0);
  await store.put('identity', identity);
  return identity;
}

export async function create(passphrase) {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const publicText = base64url.encode(await ed.getPublicKeyAsync(seed));
  const backup = await seal(seed, publicText, passphrase);
  return keep(seed, backup);
}

export async function restore(backupText, passphrase) {
  const seed = await unseal(backupText, passphrase);
  return keep(seed, backupText.trim());
}

export const load = () => store.get('identity');
