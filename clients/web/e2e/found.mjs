// First run from phones: a node with no books, a treasurer's phone that founds the group with
// the node's setup code, and a chair added by scanning the QR code her own phone shows (the
// camera is Chromium's fake one, fed a picture of that QR code). A wrong, an expired and a
// reused setup code are each refused in words that say what to do. Run by
// tests/tests/web_phone.rs with KABAN_NODE, KABAN_BIN, KABAN_WORK, CHROMIUM, KABAN_TEST_DATA_DIR and
// KABAN_FIRST_SETUP_CODE (the code the node printed at its first start).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import qrcode from 'qrcode-generator';
import { BIN, DATA, NODE, WORK, approveAll, found, freshCode, makeKey, phone, step } from './phones.mjs';
import { controlsAreUsable, screens } from './usable.mjs';

const CODE = process.env.KABAN_FIRST_SETUP_CODE;
assert.ok(CODE, 'KABAN_FIRST_SETUP_CODE must be set');

/** Makes `code` expire, as an hour passing would: its file in the data directory says when. */
function expire(code) {
  const name = createHash('sha256').update(code.replaceAll('-', '')).digest('hex');
  const dir = join(DATA, 'setup-codes');
  assert.ok(readdirSync(dir).includes(name), 'the code is live');
  writeFileSync(join(dir, name), '1\n');
}

/** A one-frame Y4M video of `text` as a QR code, for Chromium's fake camera. */
function qrVideo(text, path) {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const size = 480;
  const scale = Math.floor(size / (n + 8));
  const at = Math.floor((size - n * scale) / 2);
  const luma = Buffer.alloc(size * size, 235);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (!qr.isDark(r, c)) continue;
      for (let y = 0; y < scale; y++) luma.fill(16, (at + r * scale + y) * size + at + c * scale, (at + r * scale + y) * size + at + (c + 1) * scale);
    }
  }
  const chroma = Buffer.alloc(size * size / 2, 128);
  writeFileSync(path, Buffer.concat([Buffer.from(`YUV4MPEG2 W${size} H${size} F10:1 Ip A1:1 C420jpeg\nFRAME\n`), luma, chroma]));
}





const plain = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
let camera = null;
let partnerNode = null;
const pages = [];
try {
  step('the chair makes her key; her phone shows it as a QR code');
  const chairPage = await phone(plain);
  pages.push(chairPage);
  const chairKey = await makeKey(chairPage, 'three padlocks');
  await chairPage.locator('svg.qr').waitFor();
  assert.equal(await chairPage.locator('svg.qr').count(), 1);

  step('the treasurer\'s phone, whose camera sees the chair\'s QR code');
  const video = join(WORK, 'chair-key.y4m');
  qrVideo(chairKey, video);
  camera = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
  });
  const page = await phone(camera, { permissions: ['camera'] });
  pages.push(page);
  const treasurerKey = await makeKey(page, 'sampaguita 2026');
  await page.click('#start-group');
  await page.waitForSelector('#found-name');
  await page.fill('#found-name', 'Sampaguita Savers');
  await page.selectOption('#found-currency', 'HKD');
  await page.click('li.officer .scan-button');
  await page.waitForFunction((k) => document.querySelector('li.officer .officer-key').value === k, chairKey, { timeout: 20_000 });
  assert.equal(await page.locator('video').count(), 0, 'the camera stops once the code is read');
  assert.match(await page.textContent('.what-it-does'), /two officers' signatures/);
  await page.screenshot({ path: `${WORK}/found.png`, fullPage: true });
  await controlsAreUsable(page, 'founding');

  step('a wrong code and an expired one are refused, saying what to do');
  let answer = await found(page, 'K7QM-3XJD-9PWE-TR2A');
  assert.equal(answer.code, 'unknown_setup_code', answer.note);
  assert.match(answer.note, /wrong, already used, or more than an hour old/);
  answer = await found(page, 'not a code');
  assert.equal(answer.code, 'malformed_setup_code', answer.note);
  assert.match(answer.note, /16 letters and digits/);
  const old = freshCode();
  expire(old);
  answer = await found(page, old);
  assert.equal(answer.code, 'unknown_setup_code', answer.note);

  step('the real code founds the group; the treasurer\'s phone lists it');
  answer = await found(page, CODE);
  const card = page.locator('[data-book]');
  await card.waitFor({ timeout: 20_000 });
  assert.match(await card.textContent(), /Sampaguita Savers/);
  assert.match(await card.locator('.role').textContent(), /treasurer/);
  const book = await card.getAttribute('data-book');

  step('the chair\'s phone finds the book it was named in');
  await chairPage.waitForSelector(`[data-book="${book}"]`, { timeout: 20_000 });
  assert.match(await chairPage.locator(`[data-book="${book}"] .role`).textContent(), /chair/);

  step('the treasurer adds a member from her phone, with details kept on the node only');
  await page.goto(`${NODE}/#/members/${book}`);
  await page.fill('#member-alias', 'Ana');
  await page.fill('#member-name', 'Ana Santos');
  await page.fill('#member-phone', '+852 5555 0101');
  await page.fill('#member-notes', 'prefers Tagalog');
  assert.match(await page.textContent('#add-member .what-it-does'), /adds her to the book of Sampaguita Savers/);
  await page.click('#add-member-submit');
  const ana = page.locator('li.member-line', { hasText: 'Ana' });
  await ana.waitFor({ timeout: 20_000 });
  const member = await ana.getAttribute('data-member');
  assert.match(member, /^m-[a-z0-9]{8}$/, 'a pseudonymous member id');
  await ana.locator('button.details').click();
  await page.waitForFunction((m) => /Ana Santos · \+852 5555 0101 · prefers Tagalog/.test(document.querySelector(`li[data-member="${m}"] .done`).textContent), member);
  await page.screenshot({ path: `${WORK}/members.png`, fullPage: true });
  await controlsAreUsable(page, 'members');

  step('she saves HK$500 at a meeting, then asks to take out HK$200');
  await page.goto(`${NODE}/#/meeting/${book}`);
  await page.click('#open-meeting');
  const row = page.locator(`li.member[data-member="${member}"]`);
  await row.locator('input.amount').fill('500');
  await row.locator('button.record').click();
  await row.locator('.entries li[data-state="confirmed"]').waitFor();
  await page.click('#close-meeting');
  await page.goto(`${NODE}/#/members/${book}`);
  const line = page.locator(`li.member-line[data-member="${member}"]`);
  await line.waitFor();
  assert.match(await line.locator('.balance').textContent(), /500\.00/);
  await line.locator('button.withdraw-open').click();
  assert.match(await line.locator('.withdraw .what-it-does').textContent(), /Nothing is paid until a key holder approves/);
  await line.locator('input.amount').fill('200');
  await line.locator('input.reason').fill('school fees');
  await line.locator('button.withdraw-sign').click();
  await line.locator('.done:has-text("awaits a key holder")').waitFor();

  step('the chair approves it on her own phone; the balance follows');
  await chairPage.goto(`${NODE}/#/approvals/${book}`);
  const pending = chairPage.locator('li.approval[data-kind="withdrawal"]');
  await pending.waitFor({ timeout: 20_000 });
  assert.match(await pending.locator('.what').textContent(), /Pay HK\$200\.00 to Ana \(school fees\)/);
  await pending.locator('button.approve').click();
  await chairPage.waitForSelector('#inbox-empty, li.approval .done');
  await page.reload();
  await line.waitFor();
  await page.waitForFunction((m) => /300\.00/.test(document.querySelector(`li.member-line[data-member="${m}"] .balance`)?.textContent ?? ''), member, { timeout: 20_000 });

  step('a contribution entered by mistake is reversed once the chair approves');
  await page.goto(`${NODE}/#/`);
  await page.goto(`${NODE}/#/meeting/${book}`);
  await page.click('#open-meeting');
  await row.locator('input.amount').fill('50');
  await row.locator('button.record').click();
  await row.locator('.entries li[data-state="confirmed"]').waitFor();
  await page.click('#close-meeting');
  await page.goto(`${NODE}/#/members/${book}`);
  await page.waitForFunction((m) => /350\.00/.test(document.querySelector(`li.member-line[data-member="${m}"] .balance`)?.textContent ?? ''), member, { timeout: 20_000 });
  await line.locator('button.entries-open').click();
  const mistake = line.locator('li.entry', { hasText: '50.00' }).filter({ hasNotText: '500.00' });
  await mistake.locator('button.reverse-open').click();
  assert.match(await mistake.locator('.what-it-does').textContent(), /stays in the book, marked reversed/);
  await mistake.locator('input.reason').fill('entered twice');
  await mistake.locator('button.reverse-sign').click();
  await mistake.locator('.done:has-text("awaits another officer")').waitFor();
  await approveAll(chairPage, book, 1);
  await page.goto(`${NODE}/#/`);
  await page.goto(`${NODE}/#/members/${book}`);
  await page.waitForFunction((m) => /300\.00/.test(document.querySelector(`li.member-line[data-member="${m}"] .balance`)?.textContent ?? ''), member, { timeout: 20_000 });

  step('her personal details are erased; her savings stay');
  page.once('dialog', (d) => d.accept());
  await line.locator('button.erase').click();
  await line.locator('.done:has-text("erased from this node")').waitFor();
  await line.locator('button.details').click();
  await line.locator('.done:has-text("holds no personal details")').waitFor();
  assert.match(await line.locator('.balance').textContent(), /300\.00/);

  step('the treasurer adds a key holder from her phone; the chair approves');
  const keeperPage = await phone(plain);
  pages.push(keeperPage);
  const keeperKey = await makeKey(keeperPage, 'the third padlock');
  await page.goto(`${NODE}/#/officers/${book}`);
  await page.fill('#officer-new-key', keeperKey);
  await page.selectOption('#officer-new-role', 'key_holder');
  assert.match(await page.textContent('#add-officer-form .what-it-does'), /once 2 officers have signed/);
  await page.click('#add-officer-submit');
  await page.waitForSelector('#officer-note:has-text("waits in the other officers\' Approvals")');
  await approveAll(chairPage, book, 1);
  await keeperPage.waitForSelector(`[data-book="${book}"] .role:has-text("key holder")`, { timeout: 20_000 });

  step('the chair\'s phone goes missing, with the meeting screen it last opened');
  await chairPage.goto(`${NODE}/#/`);
  await chairPage.goto(`${NODE}/#/meeting/${book}`);
  await chairPage.waitForSelector('#open-meeting');
  await chairPage.context().setOffline(true);

  step('the treasurer gives the chair\'s roles to her new phone');
  const newChairPage = await phone(plain);
  pages.push(newChairPage);
  const newChairKey = await makeKey(newChairPage, 'a new phone');
  await page.goto(`${NODE}/#/`);
  await page.goto(`${NODE}/#/officers/${book}`);
  const chairLine = page.locator(`li.officer-line[data-key="${chairKey}"]`);
  await chairLine.locator('button.replace-open').click();
  assert.match(await chairLine.locator('.replace .what-it-does').textContent(), /same roles \(chair\)/);
  await controlsAreUsable(page, 'officers');
  await chairLine.locator('.replace input').fill(newChairKey);
  await chairLine.locator('button.replace-sign').click();
  await chairLine.locator('.done:has-text("takes effect once 2 officers")').waitFor();
  await approveAll(keeperPage, book, 2);
  await newChairPage.waitForSelector(`[data-book="${book}"] .role:has-text("chair")`, { timeout: 20_000 });

  step('what the lost phone signs is refused, and it reads the book no more');
  // Back online, the phone learns where the book stands now, after the revocation, and signs
  // there. (A record signed offline at a place from before the revocation has the chair's role
  // in its causal past: it is kept and the views flag it, as SPEC.md section 7 says.)
  await chairPage.context().setOffline(false);
  await chairPage.click('#open-meeting');
  await chairPage.waitForFunction(() => /1 refused/.test(document.getElementById('status').textContent), null, { timeout: 20_000 });
  await chairPage.goto(`${NODE}/#/`);
  await chairPage.goto(`${NODE}/#/approvals/${book}`);
  await chairPage.waitForSelector('p.error[role="alert"]');
  assert.match(await chairPage.textContent('p.error'), /not an officer/);

  step('the treasurer shares the book with a partner\'s node and gets its invite');
  const partner = execFileSync(join(dirname(BIN), 'kaban-node'), ['id', '--data-dir', join(WORK, 'partner')], { encoding: 'utf8' }).match(/12D3KooW\w+/)[0];
  await page.goto(`${NODE}/#/`);
  await page.goto(`${NODE}/#/share/${book}`);
  await page.waitForSelector('#shared-with-none');
  await page.fill('#share-peer', 'not-a-node');
  await page.click('#share-submit');
  await page.waitForSelector('#share-note:has-text("not a node id")');
  await page.fill('#share-peer', partner);
  assert.match(await page.textContent('.what-it-does'), /never the members' personal details/);
  await page.click('#share-submit');
  const invite = await (await page.waitForSelector('#invite-code')).inputValue();
  const me = await (await fetch(`${NODE}/api/v1/node`)).json();
  const decoded = JSON.parse(Buffer.from(invite.replace('kaban-invite:', ''), 'base64url').toString());
  assert.deepEqual(decoded, { addrs: me.listen, book, peer: me.node_id }, 'the invite names this node, its addresses and the book');
  await controlsAreUsable(page, 'share');
  await approveAll(keeperPage, book, 1);
  await page.goto(`${NODE}/#/`);
  await page.goto(`${NODE}/#/share/${book}`);
  await page.waitForSelector(`#shared-with li:has-text("${partner}")`, { timeout: 20_000 });
  assert.match(await page.textContent('#shared-with li.partner'), /Not connected now; never in sync yet/);

  step('the partner\'s node joins with the invite; the share screen shows it connected and in sync');
  partnerNode = spawn(join(dirname(BIN), 'kaban-node'), ['run', '--data-dir', join(WORK, 'partner'), '--http', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const partnerUrl = await new Promise((resolve, reject) => {
    let seen = '';
    partnerNode.stdout.on('data', (chunk) => {
      seen += chunk;
      const m = seen.match(/^http: (\S+)$/m);
      if (m) resolve(m[1]);
    });
    partnerNode.on('exit', (code) => reject(new Error(`the partner node exited with ${code}`)));
  });
  const token = readFileSync(join(WORK, 'partner', 'admin-token'), 'utf8').trim();
  const joined = await fetch(`${partnerUrl}/api/v1/admin/peers`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ code: invite }) });
  assert.equal(joined.status, 202, await joined.text());
  for (let i = 0; ; i++) {
    await page.goto(`${NODE}/#/`);
    await page.goto(`${NODE}/#/share/${book}`);
    const line = page.locator('#shared-with li.partner');
    await line.waitFor();
    if ((await line.getAttribute('data-in-sync')) === 'true') {
      assert.match(await line.textContent(), /Connected, and in sync/);
      break;
    }
    assert.ok(i < 60, `the partner never got in sync: ${await line.textContent()}`);
    await page.waitForTimeout(500);
  }

  step('the code is spent: a second group cannot be founded with it');
  const other = await phone(plain);
  pages.push(other);
  await makeKey(other, 'another group');
  await other.click('#start-group');
  await other.fill('#found-name', 'Second Savers');
  await other.fill('li.officer .officer-key', treasurerKey);
  answer = await found(other, CODE);
  assert.equal(answer.code, 'unknown_setup_code', answer.note);
  console.log(`axe and the 44 px check passed on: ${[...screens].join(', ')}`);
  console.log('all founding steps passed');
} catch (e) {
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${WORK}/found-failure-${i}.png`, fullPage: true }).catch(() => {});
  throw e;
} finally {
  await plain.close();
  await camera?.close();
  partnerNode?.kill();
}
