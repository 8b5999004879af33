// How the client feels on a cheap phone: Chromium at 360×740 with its CPU slowed 6 times, 400 ms
// round trips and 50 KB/s each way (Chrome DevTools Protocol emulation), against a real node.
// Prints figures; asserts nothing on time. Run by `cargo run -p kaban-tests --example
// phone_bench`, which starts the node and passes KABAN_NODE, KABAN_BIN, KABAN_WORK, CHROMIUM.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

const { KABAN_NODE: NODE, KABAN_WORK: WORK, KABAN_BIN: BIN } = process.env;
assert.ok(NODE && WORK && BIN, 'KABAN_NODE, KABAN_WORK and KABAN_BIN must be set');
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const kaban = (...args) => execFileSync(BIN, ['--node', NODE, ...args], { cwd: WORK, encoding: 'utf8' }).trim();
const RUNS = Number(process.env.KABAN_BENCH_RUNS ?? 3);

/** Slows `page` to a cheap phone on a slow link. */
async function cheap(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 400, downloadThroughput: 50 * 1024, uploadThroughput: 50 * 1024 });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 6 });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${Math.round(x)} ms`;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  kaban('key', 'new', '--out', 'treasurer.key');
  const chair = kaban('key', 'new', '--out', 'chair.key');
  const book = kaban('--key', 'treasurer.key', 'book', 'create', '--name', 'Bench Savers', '--currency', 'HKD', '--officer', `${chair}:chair`);
  for (let i = 1; i <= 30; i++) kaban('--key', 'treasurer.key', 'member', 'add', '--book', book, '--alias', `Member ${i}`, '--member', `m-${String(i).padStart(2, '0')}`);

  const first = [];
  const returning = [];
  const shown = [];
  const confirmed = [];
  let bytes = 0;
  for (let run = 0; run < RUNS; run++) {
    // A first open: nothing cached; usable once the key can be made.
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    page.on('response', async (r) => {
      if (run === 0 && r.url().startsWith(NODE)) bytes += Number((await r.allHeaders())['content-length'] ?? 0);
    });
    await cheap(page);
    let t = performance.now();
    await page.goto(NODE);
    await page.waitForSelector('#create-key');
    first.push(performance.now() - t);

    // Make the key and the role at full speed, then come back as a returning officer.
    const fast = await context.newPage();
    await fast.goto(NODE);
    await fast.fill('#passphrase', 'bench phone 2026');
    await fast.fill('#passphrase-again', 'bench phone 2026');
    await fast.click('#create-key');
    await fast.waitForSelector('#public-key');
    const key = (await fast.textContent('#public-key')).trim();
    const grant = kaban('--key', 'treasurer.key', 'role', 'grant', '--book', book, '--to', key, '--role', 'treasurer');
    kaban('--key', 'chair.key', 'approve', '--book', book, '--record', grant);
    await fast.waitForSelector(`[data-book="${book}"]`, { timeout: 30_000 });
    await fast.evaluate(() => navigator.serviceWorker.ready);
    await fast.close();
    await page.close();

    const back = await context.newPage();
    await cheap(back);
    t = performance.now();
    await back.goto(NODE);
    await back.waitForSelector(`[data-book="${book}"] a[href^="#/meeting/"]`, { timeout: 60_000 });
    returning.push(performance.now() - t);

    // A contribution at the meeting: on screen at once, then confirmed by the node.
    await back.click(`[data-book="${book}"] a[href^="#/meeting/"]`);
    await back.click('#open-meeting', { timeout: 60_000 });
    const row = back.locator('li.member[data-member="m-01"]');
    await row.locator('input.amount').fill('100');
    t = performance.now();
    await row.locator('button.record').click();
    await row.locator('.entries li').first().waitFor({ timeout: 60_000 });
    shown.push(performance.now() - t);
    await row.locator('.entries li[data-state="confirmed"]').waitFor({ timeout: 60_000 });
    confirmed.push(performance.now() - t);
    await context.close();
  }
  console.log(`cheap phone: CPU ×6 slower, 400 ms round trips, 50 KB/s; ${RUNS} runs, medians`);
  console.log(`first open, usable (key can be made):      ${ms(median(first))}   (aim 2,000 ms; runs ${first.map(ms).join(', ')})`);
  console.log(`returning officer, home with her books:    ${ms(median(returning))}   (aim 1,500 ms; runs ${returning.map(ms).join(', ')})`);
  console.log(`a contribution on screen after Record:     ${ms(median(shown))}   (aim: at once)`);
  console.log(`the same contribution confirmed:           ${ms(median(confirmed))}   (aim 1,000 ms)`);
  console.log(`bytes over the wire on a first open:       ${bytes} (content-length of the node's answers)`);
} finally {
  await browser.close();
}
