// What first-time users trip over, each fixed and checked here in real headless Chromium at a
// phone's size against a real kaban-node. Run by tests/tests/web_phone.rs with the same
// environment as phone.mjs: KABAN_NODE, KABAN_BIN, KABAN_WORK, CHROMIUM.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { controlsAreUsable, screens } from './usable.mjs';

const NODE = process.env.KABAN_NODE;
const WORK = process.env.KABAN_WORK;
const BIN = process.env.KABAN_BIN;
assert.ok(NODE && WORK && BIN, 'KABAN_NODE, KABAN_WORK and KABAN_BIN must be set');
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const step = (what) => console.log(`-- ${what}`);
const kaban = (...args) => execFileSync(BIN, ['--node', NODE, ...args], { cwd: WORK, encoding: 'utf8' }).trim();

/** The screen has its visible Back, and it leads home. */
async function hasBack(page, screen) {
  const back = page.locator('[data-testid="back"]');
  await back.waitFor({ state: 'visible' });
  const box = await back.boundingBox();
  assert.ok(box.y < 740, `the ${screen} screen's Back is above the fold`);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const pages = [];
try {
  step('the officers found a group of 31 members with the CLI, in no order of name');
  kaban('key', 'new', '--out', 'treasurer.key');
  const chair = kaban('key', 'new', '--out', 'chair.key');
  const book = kaban('--key', 'treasurer.key', 'book', 'create', '--name', 'Sampaguita Savers', '--currency', 'HKD', '--officer', `${chair}:chair`);
  const names = ['Rosa', 'Ana', 'Wati', 'Maria', 'Lina', 'Dewi', 'Joy', 'Beth', 'Cora', 'Nita', 'Fe', 'Gina', 'Hana', 'Ida', 'Kim', 'Lea', 'Mae', 'Nora', 'Olive', 'Pia', 'Queen', 'Rina', 'Sari', 'Tess', 'Uma', 'Vina', 'Yani', 'Zeny', 'Elsa', 'Precy', 'Jhen'];
  for (const [i, name] of names.entries()) {
    kaban('--key', 'treasurer.key', 'member', 'add', '--book', book, '--alias', name, '--member', `m-${String(i + 1).padStart(2, '0')}`);
  }

  step('a phone in Thai opens the app in Thai');
  const thai = await browser.newContext({ ...PHONE, locale: 'th-TH', bypassCSP: true });
  const t = await thai.newPage();
  pages.push(t);
  await t.goto(NODE);
  await t.waitForSelector('h1:has-text("ตั้งค่าโทรศัพท์เครื่องนี้")');
  assert.equal(await t.getAttribute('html', 'lang'), 'th');
  assert.equal(await t.inputValue('#language'), 'th');
  await controlsAreUsable(t, 'first (Thai)');
  await t.screenshot({ path: `${WORK}/first-open-th.png`, fullPage: true });

  step('the client comes gzipped');
  const gz = await thai.request.get(`${NODE}/app.js`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers()['content-encoding'], 'gzip');

  step('a treasurer in Hong Kong at 07:30 pairs her phone');
  const context = await browser.newContext({ ...PHONE, locale: 'en-HK', timezoneId: 'Asia/Hong_Kong', bypassCSP: true });
  const page = await context.newPage();
  pages.push(page);
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.clock.setFixedTime(new Date('2026-12-02T23:30:00Z'));
  await page.goto(NODE);
  await page.fill('#passphrase', 'sampaguita 2026');
  await page.fill('#passphrase-again', 'sampaguita 2026');
  await page.click('#create-key');
  await page.waitForSelector('#no-books');
  const key = (await page.textContent('#public-key')).trim();
  await controlsAreUsable(page, 'pairing');
  const grant = kaban('--key', 'treasurer.key', 'role', 'grant', '--book', book, '--to', key, '--role', 'treasurer');
  kaban('--key', 'chair.key', 'approve', '--book', book, '--record', grant);
  await page.waitForSelector(`[data-book="${book}"]`, { timeout: 20_000 });

  step('with a role, the home screen leads with the books; the key waits behind a link');
  assert.equal(await page.locator('#public-key').count(), 0, 'the key is not on the home screen');
  const meetingButton = page.locator(`[data-book="${book}"] a[href^="#/meeting/"]`);
  const box = await meetingButton.boundingBox();
  assert.ok(box.y + box.height <= 740, `Meeting is above the fold (at ${box.y} px)`);
  await controlsAreUsable(page, 'home');
  await page.screenshot({ path: `${WORK}/home-with-role.png`, fullPage: true });
  await page.click('#show-key');
  assert.equal((await page.textContent('#public-key')).trim(), key);
  await hasBack(page, 'my key');
  await controlsAreUsable(page, 'my key');
  await page.click('a[href="#/key"]');
  await page.waitForSelector('#backup-out');
  await hasBack(page, 'key backup');
  await controlsAreUsable(page, 'key backup');

  step('the meeting offers today\'s date in Hong Kong, not UTC\'s');
  await page.goto(`${NODE}/#/`);
  await meetingButton.click();
  assert.equal(await page.inputValue('#meeting-date'), '2026-12-03');
  await hasBack(page, 'meeting form');
  await controlsAreUsable(page, 'meeting form');
  await page.click('#open-meeting');

  step('members by name, and a search box for a group this large');
  await page.waitForSelector('li.member');
  const aliases = await page.locator('li.member .alias').allTextContents();
  assert.deepEqual(aliases, [...names].sort((a, b) => a.localeCompare(b)));
  await page.fill('#member-search', 'wat');
  assert.deepEqual(await page.locator('li.member:visible .alias').allTextContents(), ['Wati']);
  await page.fill('#member-search', '');
  assert.equal(await page.locator('li.member:visible').count(), 31);
  await hasBack(page, 'meeting');
  await controlsAreUsable(page, 'meeting');

  step('each bad amount says what is wrong with it');
  const ana = page.locator('li.member[data-member="m-02"]');
  const said = {};
  for (const bad of ['-5', '0', 'abc', '1.234', '1250,5']) {
    await ana.locator('input.amount').fill(bad);
    await ana.locator('button.record').click();
    said[bad] = (await ana.locator('.field-error').textContent()).trim();
  }
  console.log(said);
  assert.match(said['-5'], /cannot be negative/);
  assert.match(said['0'], /more than zero/);
  assert.match(said.abc, /not an amount/);
  assert.match(said['1.234'], /HKD has 2 digits after the decimal mark/);
  assert.match(said['1250,5'], /Write \. before the decimals and , between thousands/);
  assert.equal(await ana.locator('.entries li').count(), 0, 'nothing was recorded');

  step('a double tap records once and shows no error');
  await ana.locator('input.amount').fill('500');
  await ana.locator('button.record').dblclick();
  await ana.locator('.entries li[data-state="confirmed"]').waitFor();
  await ana.locator('button.record').click();
  assert.equal((await ana.locator('.field-error').textContent()).trim(), '', 'a tap on the emptied field is not an error');
  assert.equal(await ana.locator('.entries li').count(), 1);

  step('the status bar counts what she recorded, not the meeting or approvals');
  await page.waitForFunction(() => /^1 confirmed$/.test(document.querySelector('[data-testid="confirmed-count"]').textContent));
  await page.screenshot({ path: `${WORK}/meeting-first-use.png`, fullPage: true });

  step('every other screen has its Back');
  await page.goto(`${NODE}/#/approvals/${book}`);
  await page.waitForSelector('#inbox-empty');
  await hasBack(page, 'approvals');
  await controlsAreUsable(page, 'approvals');
  await page.click('[data-testid="back"]');
  await page.waitForSelector(`[data-book="${book}"]`);

  step('in Bahasa Indonesia, 1.000 is one thousand');
  await page.selectOption('#language', 'id');
  await meetingButton.click();
  const wati = page.locator('li.member[data-member="m-03"]');
  await wati.locator('input.amount').fill('1.000');
  await wati.locator('button.record').click();
  await wati.locator('.entries li[data-state="confirmed"]').waitFor();
  assert.match(await wati.locator('.entries li').textContent(), /1\.000,00/);
  await wati.locator('input.amount').fill('1.5');
  await wati.locator('button.record').click();
  assert.match(await wati.locator('.field-error').textContent(), /Tulis , sebelum desimal/);
  const balances = JSON.parse(kaban('--json', '--key', 'treasurer.key', 'balances', '--book', book));
  assert.deepEqual(balances.members['m-03'], [{ currency: 'HKD', minor: 100000 }]);
  console.log(`axe and the 44 px check passed on: ${[...screens].join(', ')}`);
  console.log('all first-use steps passed');
} catch (e) {
  for (const [i, page] of pages.entries()) await page.screenshot({ path: `${WORK}/first-use-failure-${i}.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await browser.close();
}
