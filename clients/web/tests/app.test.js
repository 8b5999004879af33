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
const LANGS = ['en', 'fil', 'id', 'bn', 'th'];
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
  assert.ok(gz <= 120 * 1024, `${gz} bytes gzipped; the budget is 120 KB, the QR decoder included`);
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

/** The app's i18n module with `lang` loaded from public/i18n, as a phone would have it. */
async function inLanguage(lang) {
  globalThis.document ??= { documentElement: {} };
  globalThis.fetch = async (url) => ({ json: async () => JSON.parse(readFileSync(join(here, 'public', url), 'utf8')) });
  const i18n = await import('../src/app/i18n.js');
  await i18n.load(lang);
  return i18n;
}

test('amounts typed on a phone become exact minor units, by the language\'s marks', async () => {
  const i18n = await inLanguage('en');
  const minor = (text, currency = 'HKD') => i18n.parseAmount(text, currency).minor;
  assert.equal(minor('500'), 50000);
  assert.equal(minor('250.5'), 25050);
  assert.equal(minor('1,250.50'), 125050);
  assert.equal(minor('99.99'), 9999);
  assert.equal(minor('0.1'), 10);
  assert.equal(minor('1000', 'KRW'), 1000);
  assert.equal(minor('১২৫০'), 125000, 'Bengali digits');
  // Each mistake is named, and said in words that tell what to do.
  const cases = {
    '': 'empty',
    abc: 'not_a_number',
    '1e3': 'not_a_number',
    '-5': 'negative',
    0: 'not_positive',
    '1.234': 'too_many_decimals',
    '1250,5': 'marks',
    '12,34': 'marks',
    '99999999999999': 'too_large',
  };
  for (const [text, error] of Object.entries(cases)) assert.equal(i18n.parseAmount(text, 'HKD').error, error, text);
  assert.equal(i18n.parseAmount('1.5', 'KRW').error, 'too_many_decimals');
  const said = Object.values(cases).map((e) => i18n.amountError(e, 'HKD'));
  assert.equal(new Set(said).size, new Set(Object.values(cases)).size, 'a different message for each mistake');
  assert.match(i18n.amountError('too_many_decimals', 'HKD'), /HKD has 2 digits/);
  assert.match(i18n.amountError('too_many_decimals', 'KRW'), /KRW has no decimals/);
  assert.match(i18n.amountError('marks', 'HKD'), /Write \. before the decimals and , between thousands/);
  // In Bahasa Indonesia the marks are the other way round: 1.000 is one thousand.
  const id = await inLanguage('id');
  assert.equal(id.parseAmount('1.000', 'IDR').minor, 100000);
  assert.equal(id.parseAmount('1.250,50', 'IDR').minor, 125050);
  assert.equal(id.parseAmount('1,5', 'IDR').minor, 150);
  assert.equal(id.parseAmount('1.5', 'IDR').error, 'marks', 'a decimal point in Indonesian is named, not read as 15');
  assert.match(id.amountError('marks', 'IDR'), /Tulis , sebelum desimal dan \. di antara ribuan/);
});

test('the phone\'s language is taken on first open when Kaban speaks it', async () => {
  const i18n = await inLanguage('en');
  assert.equal(i18n.fromPhone(['th-TH', 'en-US']), 'th');
  assert.equal(i18n.fromPhone(['tl-PH']), 'fil');
  assert.equal(i18n.fromPhone(['in-ID']), 'id');
  assert.equal(i18n.fromPhone(['de-DE', 'bn-BD']), 'bn');
  assert.equal(i18n.fromPhone(['de-DE']), 'en');
});

test('the meeting date is the phone\'s own date, not UTC\'s', async () => {
  const i18n = await inLanguage('en');
  // Hong Kong, 07:30 on 3 December: UTC still says 2 December.
  const hk = new Date(Date.UTC(2026, 11, 2, 23, 30));
  const local = { getFullYear: () => 2026, getMonth: () => 11, getDate: () => 3 };
  assert.equal(hk.toISOString().slice(0, 10), '2026-12-02');
  assert.equal(i18n.today(local), '2026-12-03');
});
