// The phone client end to end, in real headless Chromium at a phone's size, against a real
// kaban-node. Run by tests/tests/web_phone.rs, which starts the node and passes:
//   KABAN_NODE (its URL), KABAN_BIN (the kaban CLI), KABAN_WORK (a scratch directory),
//   CHROMIUM (the browser; default /usr/bin/chromium).
// Officers' other steps go through the real `kaban` CLI, as they would on the treasurer's laptop.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { controlsAreUsable, screens } from './usable.mjs';

const NODE = process.env.KABAN_NODE;
const WORK = process.env.KABAN_WORK;
const BIN = process.env.KABAN_BIN;
assert.ok(NODE && WORK && BIN, 'KABAN_NODE, KABAN_WORK and KABAN_BIN must be set');
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const step = (what) => console.log(`-- ${what}`);

function kaban(...args) {
  return execFileSync(BIN, ['--node', NODE, ...args], { cwd: WORK, encoding: 'utf8' }).trim();
}
const kabanJson = (...args) => JSON.parse(kaban('--json', ...args));

/** Grants `role` to `key` with the treasurer's record and the chair's approval (quorum 2). */
function grant(book, key, role) {
  const id = kaban('--key', 'treasurer.key', 'role', 'grant', '--book', book, '--to', key, '--role', role);
  kaban('--key', 'chair.key', 'approve', '--book', book, '--record', id);
}

const origins = new Set();
const pages = [];

async function newPhone(browser) {
  const context = await browser.newContext({ ...PHONE, bypassCSP: true });
  context.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol.startsWith('http')) origins.add(url.origin);
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && console.log(`console: ${m.text()}`));
  pages.push(page);
  await page.goto(NODE);
  return { context, page };
}

async function makeKey(page, passphrase) {
  await page.fill('#passphrase', passphrase);
  await page.fill('#passphrase-again', passphrase);
  await page.click('#create-key');
  await page.waitForSelector('#public-key');
  return (await page.textContent('#public-key')).trim();
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  step('the officers found the book and add ten members with the CLI');
  const treasurer = kaban('key', 'new', '--out', 'treasurer.key');
  const chair = kaban('key', 'new', '--out', 'chair.key');
  const book = kaban('--key', 'treasurer.key', 'book', 'create', '--name', 'Bayanihan Savers', '--currency', 'HKD', '--officer', `${chair}:chair`);
  assert.ok(treasurer && /^[0-9a-f]{64}$/.test(book));
  const members = [];
  for (let i = 1; i <= 10; i++) {
    const id = `m-${String(i).padStart(2, '0')}`;
    kaban('--key', 'treasurer.key', 'member', 'add', '--book', book, '--alias', `Member ${i}`, '--member', id);
    members.push(id);
  }

  step('pair the treasurer\'s phone');
  const a = await newPhone(browser);
  const phoneKey = await makeKey(a.page, 'sampaguita 2026');
  assert.match(phoneKey, /^[A-Za-z0-9_-]{43}$/);
  await a.page.locator('svg.qr').waitFor();
  assert.equal(await a.page.locator('svg.qr').count(), 1, 'the key is shown as a QR code too');
  await a.page.waitForSelector('#no-books');
  grant(book, phoneKey, 'treasurer');
  await a.page.waitForSelector(`[data-book="${book}"]`, { timeout: 20_000 });
  assert.match(await a.page.textContent(`[data-book="${book}"] .role`), /treasurer/);
  await a.page.screenshot({ path: `${WORK}/home.png`, fullPage: true });

  step('run a meeting of ten members, offline halfway through');
  await a.page.click(`[data-book="${book}"] a[href^="#/meeting/"]`);
  await a.page.click('#open-meeting');
  const record = async (member, amount) => {
    const row = a.page.locator(`li.member[data-member="${member}"]`);
    await row.locator('input.amount').fill(amount);
    await row.locator('button.record').click();
    await row.locator('.entries li').first().waitFor();
  };
  const amounts = ['500', '250.50', '300', '120', '75.25', '400', '60', '99.99', '1000', '10'];
  for (let i = 0; i < 5; i++) {
    await record(members[i], amounts[i]);
    await a.page.locator(`li.member[data-member="${members[i]}"] .entries li[data-state="confirmed"]`).waitFor();
  }
  await a.context.setOffline(true);
  for (let i = 5; i < 10; i++) await record(members[i], amounts[i]);
  await a.page.waitForFunction(() => document.querySelectorAll('.entries li[data-state="pending"]').length === 5);
  assert.match(await a.page.textContent('[data-testid="pending-count"]'), /5/);
  await a.page.screenshot({ path: `${WORK}/meeting-offline.png`, fullPage: true });
  const before = kabanJson('--key', 'treasurer.key', 'book', 'show', '--book', book);
  assert.equal(before.balances[0].minor, 124575, 'the node has only the first five');

  step('back online: every record confirmed');
  await a.context.setOffline(false);
  await a.page.waitForFunction(() => document.querySelectorAll('.entries li[data-state="confirmed"]').length === 10, null, { timeout: 20_000 });
  const total = 124575 + 40000 + 6000 + 9999 + 100000 + 1000;
  assert.equal(kabanJson('--key', 'treasurer.key', 'book', 'show', '--book', book).balances[0].minor, total);

  step('a record sent twice counts once');
  const resent = await a.page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('kaban');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const entries = await new Promise((resolve) => {
      const r = db.transaction('outbox').objectStore('outbox').getAll();
      r.onsuccess = () => resolve(r.result);
    });
    const e = entries.find((x) => x.kind === 'contribution');
    const res = await fetch(`/api/v1/books/${e.book}/records`, { method: 'POST', body: e.bytes, headers: { 'content-type': 'application/json' } });
    return res.status;
  });
  assert.equal(resent, 200, 'the node already holds it');
  assert.equal(kabanJson('--key', 'treasurer.key', 'book', 'show', '--book', book).balances[0].minor, total);

  step('reload: the confirmed records are still there');
  await a.page.reload();
  await a.page.waitForSelector('li.member');
  assert.equal(await a.page.locator('.entries li[data-state="confirmed"]').count(), 10);
  await a.page.click('#close-meeting');
  assert.match(await a.page.textContent('#closing-totals'), /10/);
  assert.match(await a.page.textContent('#closing-totals'), /2,815\.74/);

  step('a key holder makes a key, backs it up, and restores it on another phone');
  const b = await newPhone(browser);
  const keeperKey = await makeKey(b.page, 'three padlocks');
  await b.page.goto(`${NODE}/#/key`);
  const backup = await b.page.inputValue('#backup-out');
  assert.match(backup, /^kaban-key-backup:/);
  assert.ok(!backup.includes('secret'));
  await b.context.close();
  const b2 = await newPhone(browser);
  await b2.page.fill('#backup-text', backup);
  await b2.page.fill('#restore-passphrase', 'wrong passphrase');
  await b2.page.click('#restore-key');
  await b2.page.waitForSelector('p[role="status"]:has-text("passphrase")');
  await b2.page.fill('#restore-passphrase', 'three padlocks');
  await b2.page.click('#restore-key');
  await b2.page.waitForSelector('#public-key');
  assert.equal((await b2.page.textContent('#public-key')).trim(), keeperKey, 'the restored key is the same key');
  grant(book, keeperKey, 'key_holder');

  step('the key holder approves a withdrawal from the inbox');
  const w = kaban('--key', 'treasurer.key', 'withdraw', '--book', book, '--member', 'm-01', '--amount', '120.25', '--reason', 'school fees');
  await b2.page.waitForSelector(`[data-book="${book}"]`, { timeout: 20_000 });
  await b2.page.click(`[data-book="${book}"] a[href^="#/approvals/"]`);
  const item = b2.page.locator(`li.approval[data-record="${w}"]`);
  await item.waitFor();
  const what = await item.locator('.what').textContent();
  assert.match(what, /HK\$120\.25/);
  assert.match(what, /Member 1/);
  assert.match(what, /school fees/);
  await b2.page.screenshot({ path: `${WORK}/approvals.png`, fullPage: true });
  await item.locator('button.approve').click();
  await b2.page.waitForSelector('#inbox-empty, .done');
  const statement = kabanJson('--key', 'treasurer.key', 'statement', '--book', book, '--member', 'm-01');
  assert.equal(statement.entries.find((e) => e.record === w).status.state, 'effective');

  step('a member reads her book and shows a receipt');
  const m = await newPhone(browser);
  const memberKey = await makeKey(m.page, 'lia of wan chai');
  kaban('--key', 'treasurer.key', 'member', 'add', '--book', book, '--alias', 'Lia', '--member', 'm-lia', '--member-key', memberKey);
  // Recorded by a secretary made an officer after the book began, so the receipt must carry the
  // grant that made her one.
  const secretary = kaban('key', 'new', '--out', 'secretary.key');
  grant(book, secretary, 'secretary');
  const c = kaban('--key', 'secretary.key', 'contribute', '--book', book, '--member', 'm-lia', '--amount', '500');
  await m.page.waitForSelector(`[data-book="${book}"] a[href^="#/member/"]`, { timeout: 20_000 });
  await m.page.click(`[data-book="${book}"] a[href^="#/member/"]`);
  await m.page.waitForSelector('#balance');
  assert.match(await m.page.textContent('#balance'), /HK\$500\.00/);
  assert.match(await m.page.textContent('#group-totals'), /HK\$3,195\.49/);
  await m.page.click(`li.entry[data-record="${c}"] button.receipt-button`);
  const link = await m.page.getAttribute('#receipt-link', 'href');
  assert.ok(link.startsWith(`${NODE}/#receipt=`));
  await m.page.screenshot({ path: `${WORK}/member.png`, fullPage: true });
  await controlsAreUsable(m.page, 'member statement');

  step('a third phone checks the receipt offline, then a tampered one');
  const x = await newPhone(browser);
  await x.page.evaluate(() => navigator.serviceWorker.ready);
  await x.context.setOffline(true);
  await x.page.reload(); // the app shell comes from the service worker's cache
  await x.page.waitForSelector('#create-key');
  await x.page.goto(link);
  await x.page.waitForSelector('#verdict');
  assert.equal(await x.page.getAttribute('#verdict', 'data-valid'), 'true');
  const verdict = await x.page.textContent('#verdict');
  assert.match(verdict, /genuine: the secretary of Bayanihan Savers signed it/);
  assert.match(verdict, /The secretary keeps the minutes of Bayanihan Savers/, 'the role in words a family at home reads');
  assert.match(verdict, new RegExp(`Signing key ${secretary.slice(0, 8)}`));
  await x.page.screenshot({ path: `${WORK}/receipt-valid.png`, fullPage: true });
  await controlsAreUsable(x.page, 'receipt check');
  const [sent, check] = link.split('#receipt=')[1].split('~');
  assert.equal(check, createHash('sha256').update(sent).digest().subarray(0, 6).toString('base64url'), 'the link carries its check');
  const texts = JSON.parse(inflateRawSync(Buffer.from(sent, 'base64url')).toString());
  assert.equal(texts.length, 4, 'the contribution, the genesis, the grant and its approval');
  console.log(`receipt: ${texts.join('').length} bytes of records in a ${link.length}-character link`);
  assert.ok(texts[0].includes('"minor":50000'));
  // A forger rebuilds the link whole, check and all: the signature gives the change away.
  const payload = (list) => {
    const p = deflateRawSync(Buffer.from(JSON.stringify(list))).toString('base64url');
    return `${p}~${createHash('sha256').update(p).digest().subarray(0, 6).toString('base64url')}`;
  };
  await x.page.goto(`${NODE}/#receipt=${payload([texts[0].replace('"minor":50000', '"minor":90000'), ...texts.slice(1)])}`);
  await x.page.waitForSelector('#verdict[data-valid="false"]');
  assert.equal(await x.page.getAttribute('#verdict', 'data-reason'), 'bad_signature');
  assert.match(await x.page.textContent('#verdict'), /This receipt was changed/);
  await x.page.screenshot({ path: `${WORK}/receipt-tampered.png`, fullPage: true });
  // A link cut short on its way, or with a character lost, is incomplete, not forged.
  for (const damaged of [link.slice(0, -20), link.replace(/~(.)/, (_, c) => `~${c === 'A' ? 'B' : 'A'}`), `${link.split('~')[0].slice(0, -1)}~${check}`]) {
    await x.page.goto(`${NODE}/#/`);
    await x.page.goto(damaged);
    await x.page.waitForSelector('#verdict[data-valid="false"]');
    assert.equal(await x.page.getAttribute('#verdict', 'data-reason'), 'incomplete', damaged);
    assert.match(await x.page.textContent('#verdict'), /incomplete.*Ask for the receipt again/);
  }
  // Without the grant, nothing shows that the secretary is an officer.
  await x.page.goto(`${NODE}/#receipt=${payload(texts.slice(0, 2))}`);
  await x.page.waitForSelector('#verdict[data-valid="false"]');
  assert.match(await x.page.textContent('#verdict'), /does not show that its signer is an officer/);

  step('the cooperative\'s treasurer acknowledges a transfer and files a report from a phone');
  const coop = await newPhone(browser);
  const coopPhone = await makeKey(coop.page, 'bukid organic');
  kaban('key', 'new', '--out', 'coop-treasurer.key');
  const coopChair = kaban('key', 'new', '--out', 'coop-chair.key');
  const farm = kaban('--key', 'coop-treasurer.key', 'book', 'create', '--name', 'Bukid Organic Farm', '--currency', 'PHP', '--officer', `${coopChair}:chair`, '--country', 'PH', '--sector', 'organic rice farming');
  const coopQuorum = (...args) => {
    const id = kaban('--key', 'coop-treasurer.key', ...args);
    kaban('--key', 'coop-chair.key', 'approve', '--book', farm, '--record', id);
  };
  coopQuorum('investor', '--book', farm, '--group', book, '--name', 'Bayanihan Savers', '--currency', 'HKD', '--officer', treasurer, '--officer', chair, '--quorum', '2');
  coopQuorum('role', 'grant', '--book', farm, '--to', coopPhone, '--role', 'treasurer');
  const transfer = kaban('--key', 'treasurer.key', 'transfer', '--book', farm, '--group', book, '--amount', '1000', '--fee', '5', '--rate', '7.185', '--rate-source', 'remittance quote', '--expected', '7185', '--channel', 'bank remittance', '--reference', 'BR-1128');
  kaban('--key', 'chair.key', 'approve', '--book', farm, '--record', transfer);
  await coop.page.waitForSelector(`[data-book="${farm}"] a[href^="#/coop/"]`, { timeout: 20_000 });
  await coop.page.click(`[data-book="${farm}"] a[href^="#/coop/"]`);
  const line = coop.page.locator(`li[data-transfer="${transfer}"]`);
  await line.waitFor();
  assert.match(await line.textContent(), /BR-1128/);
  await line.locator('input.amount').fill('7150');
  await line.locator('button').click();
  await coop.page.waitForFunction(() => !document.querySelector('li[data-transfer] input'));
  const reconciled = kabanJson('--key', 'coop-treasurer.key', 'transfers', '--book', farm);
  assert.equal(reconciled.transfers[0].status.state, 'received_with_difference');
  assert.equal(reconciled.transfers[0].status.difference.minor, -3500);
  for (const [name, value] of Object.entries({ from: '2026-07-01', to: '2026-09-30', revenue: '182500', costs: '121250.50', jobs_women: '9', jobs_men: '6', members: '48', returnees: '11', language: 'fil' })) {
    await coop.page.fill(`#report-${name}`, value);
  }
  await coop.page.fill('#report-narrative', 'Maayos ang ani ngayong tag-ulan.');
  await coop.page.click('#submit-report');
  await coop.page.waitForSelector('#report-note:has-text("awaits 1 more officer")');
  await coop.page.screenshot({ path: `${WORK}/cooperative.png`, fullPage: true });
  await controlsAreUsable(coop.page, 'cooperative');
  let report;
  for (let i = 0; i < 50 && !report; i++) {
    report = kabanJson('--key', 'coop-treasurer.key', 'dashboard', '--book', farm).reports[0];
    if (!report) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(report.surplus.minor, 6124950);
  assert.equal(report.effective, false, 'a report needs a second officer');

  step('the group\'s treasurer reads the portfolio: cash, and the farm that registered the group');
  await a.page.goto(`${NODE}/#/`);
  await a.page.goto(`${NODE}/#/portfolio/${book}`);
  const farmLine = a.page.locator(`li.unaccepted[data-enterprise="${farm}"]`);
  await farmLine.waitFor();
  assert.match(await farmLine.textContent(), /Bukid Organic Farm.*does not count in the portfolio until the group's officers accept it/);
  const portfolio = kabanJson('--key', 'treasurer.key', 'portfolio', '--book', book);
  const cash = await a.page.evaluate((minor) => new Intl.NumberFormat('en', { style: 'currency', currency: 'HKD', minimumFractionDigits: 2 }).format(minor / 100), portfolio.cash.minor);
  assert.equal(await a.page.textContent('#portfolio-cash'), cash);
  await controlsAreUsable(a.page, 'portfolio');

  step('switch language');
  await a.page.goto(`${NODE}/#/`);
  await a.page.waitForSelector(`[data-book="${book}"]`);
  await a.page.selectOption('#language', 'fil');
  await a.page.waitForSelector('h1:has-text("Ang iyong mga aklat")');
  assert.match(await a.page.textContent('[data-testid="confirmed-count"]'), /kumpirmado/);
  await a.page.selectOption('#language', 'bn');
  await a.page.waitForSelector('h1:has-text("আপনার খাতা")');
  await a.page.reload();
  await a.page.waitForSelector('h1:has-text("আপনার খাতা")');
  await a.page.screenshot({ path: `${WORK}/home-bn.png`, fullPage: true });

  step('the page is no wider than the phone, and it asked only the node for anything');
  const width = await a.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `the page is ${width}px wide`);
  assert.deepEqual([...origins], [new URL(NODE).origin], 'no request to any host but the node');
  console.log(`axe and the 44 px check passed on: ${[...screens].join(', ')}`);
  console.log('all phone steps passed');
} catch (e) {
  // Leave a picture of every phone for whoever reads the failure.
  for (const [i, page] of pages.entries()) await page.screenshot({ path: `${WORK}/failure-${i}.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
