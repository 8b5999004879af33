// The app around the protocol core: translations complete in every language, the committed
// build fresh, the bundle small, nothing fetched from anywhere but the node, and the key backup.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildInto } from '../build.mjs';

const here = new URL('..', import.meta.url).pathname;
const LANGS = ['en', 'fil', 'id', 'bn'];
const words = Object.fromEntries(LANGS.map((l) => [l, JSON.parse(readFileSync(join(here, `public/i18n/${l}.json`), 'utf8'))]));

function files(dir, prefix = '') {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

test('every language has every word, with the same placeholders', () => {
  const keys = Object.keys(words.en).sort();
  for (const lang of LANGS) {
    assert.deepEqual(Object.keys(words[lang]).sort(), keys, `${lang} has the same keys as en`);
    for (const k of keys) {
      const slots = (s) => (s.match(/\{\w+\}/g) ?? []).sort();
      assert.deepEqual(slots(words[lang][k]), slots(words.en[k]), `${lang} ${k} placeholders`);
      assert.ok(words[lang][k].trim(), `${lang} ${k} is not empty`);
    }
  }
});

test('every word the app asks for exists, and the app holds no words of its own', () => {
  const source = readdirSync(join(here, 'src/app')).map((f) => readFileSync(join(here, 'src/app', f), 'utf8')).join('\n');
  for (const [, key] of source.matchAll(/\bt\('([a-z_.]+)'/g)) assert.ok(Object.hasOwn(words.en, key), `missing translation ${key}`);
  for (const [, prefix] of source.matchAll(/\bt\(`([a-z_.]+)\.\$\{/g)) {
    assert.ok(Object.keys(words.en).some((k) => k.startsWith(`${prefix}.`)), `no translations under ${prefix}.`);
  }
  // Text put on screen goes through t(): h(tag, attrs, 'literal') would bypass it.
  assert.doesNotMatch(source, /\bh\('[a-z0-9]+', \{[^}]*\}, '[A-Za-z]/, 'a literal string on screen');
});

test('the committed build is fresh, small, and asks nothing of other hosts', async () => {
  const fresh = mkdtempSync(join(tmpdir(), 'kaban-web-'));
  await buildInto(fresh);
  const dist = join(here, 'dist');
  assert.deepEqual(files(dist), files(fresh), 'dist/ has the files a build makes; run npm run build');
  for (const f of files(fresh)) {
    assert.ok(readFileSync(join(dist, f)).equals(readFileSync(join(fresh, f))), `dist/${f} is stale; run npm run build`);
  }
  let gz = 0;
  for (const f of files(dist).filter((f) => /\.(js|css)$/.test(f))) gz += gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  console.log(`shipped JavaScript and CSS: ${gz} bytes gzipped`);
  assert.ok(gz < 250 * 1024, `${gz} bytes gzipped; the budget is 250 KB`);
  const app = readFileSync(join(dist, 'app.js'), 'utf8');
  const urls = [...app.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0]);
  assert.deepEqual(urls.filter((u) => !u.startsWith('http://www.w3.org/2000/svg') && !/^https?:\/\/[^/]*(opensource\.org|github\.com|d-project\.com|denso-wave\.com)/.test(u)), [], 'the bundle names no host to fetch from');
});

test('a key backup opens with its passphrase only', async () => {
  const { seal, unseal } = await import('../src/app/identity.js');
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const ed = await import('@noble/ed25519');
  const pub = Buffer.from(await ed.getPublicKeyAsync(seed)).toString('base64url');
  const text = await seal(seed, pub, 'three padlocks');
  assert.match(text, /^kaban-key-backup:/);
  assert.deepEqual(await unseal(text, 'three padlocks'), seed);
  await assert.rejects(unseal(text, 'three padlock'), { message: 'backup_passphrase' });
  await assert.rejects(unseal('kaban-key-backup:xyz', 'three padlocks'), { message: 'backup_format' });
  // Another key's name on the ciphertext is caught: the public key is authenticated data.
  const other = text.replace(pub, Buffer.from(await ed.getPublicKeyAsync(new Uint8Array(32).fill(9))).toString('base64url'));
  await assert.rejects(unseal(other, 'three padlocks'), { message: 'backup_passphrase' });
});

test('amounts typed on a phone become exact minor units', async () => {
  const { parseAmount } = await import('../src/app/i18n.js');
  assert.equal(parseAmount('500', 'HKD'), 50000);
  assert.equal(parseAmount('250.5', 'HKD'), 25050);
  assert.equal(parseAmount('1,250.50', 'HKD'), 125050);
  assert.equal(parseAmount('99.99', 'HKD'), 9999);
  assert.equal(parseAmount('0.1', 'HKD'), 10);
  assert.equal(parseAmount('1000', 'KRW'), 1000);
  for (const bad of ['', 'abc', '1.234', '-5', '0', '1e3']) assert.equal(parseAmount(bad, 'HKD'), null, bad);
  assert.equal(parseAmount('1.5', 'KRW'), null);
});
