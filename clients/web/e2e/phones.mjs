// What the phone tests share: a phone-sized browser context against the node, making a key,
// a fresh setup code, founding a book from the founding form, and approving what awaits.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';

export const { KABAN_NODE: NODE, KABAN_WORK: WORK, KABAN_BIN: BIN, KABAN_TEST_DATA_DIR: DATA } = process.env;
assert.ok(NODE && WORK && BIN && DATA, 'KABAN_NODE, KABAN_WORK, KABAN_BIN and KABAN_TEST_DATA_DIR must be set');
export const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const step = (what) => console.log(`-- ${what}`);

/** A fresh setup code from `kaban-node setup-code`, as the operator would print one. */
export function freshCode() {
  const out = execFileSync(join(dirname(BIN), 'kaban-node'), ['setup-code', '--data-dir', DATA], { encoding: 'utf8' });
  return out.match(/[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/)[0];
}

export async function phone(browser, extra = {}) {
  const context = await browser.newContext({ ...PHONE, bypassCSP: true, ...extra });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(NODE);
  return page;
}

export async function makeKey(page, passphrase) {
  await page.fill('#passphrase', passphrase);
  await page.fill('#passphrase-again', passphrase);
  await page.click('#create-key');
  await page.waitForSelector('#no-books');
  return (await page.textContent('#public-key')).trim();
}

/** Approves, on `page`, the `n` records awaiting its signature in `book`. */
export async function approveAll(page, book, n) {
  // Through home, so that the inbox is drawn afresh even when it is open already.
  await open(page, `#/approvals/${book}`);
  for (let i = 0; i < n; i++) {
    // Tapped in the page: the screen redraws as the outbox moves, and a redraw between
    // Playwright's checks and its tap would leave it waiting on a button that is gone.
    await page.waitForFunction(() => {
      const button = document.querySelector('li.approval button.approve:not([disabled])');
      button?.click();
      return Boolean(button);
    }, null, { timeout: 20_000 });
    await page.waitForFunction((left) => document.querySelectorAll('li.approval button.approve').length === left || (left === 0 && document.getElementById('inbox-empty')), n - i - 1, { timeout: 20_000 });
  }
}

/** Fills the founding form and signs; the note the phone then shows. */
export async function found(page, code) {
  await page.fill('#found-code', code);
  await page.evaluate(() => document.querySelector('#found-note').replaceChildren());
  await page.click('#found-submit');
  await page.waitForFunction(() => location.hash === '#/' || /[^…]$/.test(document.querySelector('#found-note')?.textContent ?? ''));
  return page.evaluate(() => ({ note: document.querySelector('#found-note')?.textContent ?? '', code: document.querySelector('#found-note [data-code]')?.dataset.code }));
}

/** Opens `hash` afresh on `page` (through home) and waits until its screen is drawn. */
export async function open(page, hash) {
  await page.goto(`${NODE}/#/`);
  await page.goto(`${NODE}/${hash}`);
  await page.waitForFunction((h) => document.getElementById('app').dataset.drawn === h, hash, { timeout: 20_000 });
}
