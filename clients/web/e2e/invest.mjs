// A whole cycle of investing, from phones only: a savings group and a cooperative each founded
// from a phone with a setup code; the cooperative registers the group, the group accepts the
// enterprise, sends money, the cooperative acknowledges it and pays a return, the group says it
// arrived and shares it among the members, one member goes home with her savings in cash and
// another becomes a member of the cooperative, which admits her from the code her group's phone
// shows. Run by tests/tests/web_phone.rs like found.mjs.

import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { NODE, WORK, approveAll, found, freshCode, makeKey, open, phone, step } from './phones.mjs';
import { controlsAreUsable } from './usable.mjs';

const CODE = process.env.KABAN_FIRST_SETUP_CODE;
assert.ok(CODE, 'KABAN_FIRST_SETUP_CODE must be set');

/** Founds a book on `page` with `officer` as its chair; its id, once the home screen lists it. */
async function foundBook(page, { name, currency, officer, code, enterprise }) {
  await page.goto(`${NODE}/#/found`);
  await page.waitForSelector('#found-name');
  await page.fill('#found-name', name);
  await page.selectOption('#found-currency', currency);
  if (enterprise) {
    await page.selectOption('#found-kind', 'enterprise');
    await page.selectOption('#found-country', enterprise.country);
    await page.fill('#found-sector', enterprise.sector);
  }
  await page.fill('li.officer .officer-key', officer);
  await page.selectOption('li.officer .officer-role', 'chair');
  const answer = await found(page, code);
  assert.equal(answer.code, undefined, answer.note);
  const card = page.locator('[data-book]', { hasText: name });
  await card.waitFor({ timeout: 20_000 });
  return card.getAttribute('data-book');
}

/** Adds members on the treasurer's phone; their ids by alias. */
async function addMembers(page, book, aliases) {
  const ids = {};
  for (const [i, alias] of aliases.entries()) {
    await open(page, `#/members/${book}`);
    assert.equal(await page.locator('li.member-line').count(), i);
    await page.fill('#member-alias', alias);
    await page.click('#add-member-submit');
    const line = page.locator('li.member-line', { hasText: alias });
    await line.waitFor({ timeout: 20_000 });
    ids[alias] = await line.getAttribute('data-member');
  }
  return ids;
}

/** One meeting where each member saves the amount given. */
async function meeting(page, book, amounts) {
  await page.goto(`${NODE}/#/meeting/${book}`);
  await page.click('#open-meeting');
  for (const [member, amount] of Object.entries(amounts)) {
    const row = page.locator(`li.member[data-member="${member}"]`);
    await row.locator('input.amount').fill(amount);
    await row.locator('button.record').click();
    await row.locator('.entries li[data-state="confirmed"]').waitFor({ timeout: 20_000 });
  }
  await page.click('#close-meeting');
}

/** Opens the group's portfolio afresh on `page`. */
async function portfolio(page, book) {
  await open(page, `#/portfolio/${book}`);
}

/** Opens the cooperative's screen afresh on `page`. */
async function coopScreen(page, farm) {
  await open(page, `#/coop/${farm}`);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  step('four phones make their keys: the group\'s treasurer and chair, the cooperative\'s treasurer and chair');
  const [t, c, ct, cc] = [await phone(browser), await phone(browser), await phone(browser), await phone(browser)];
  const keys = { t: await makeKey(t, 'sampaguita 2026'), c: await makeKey(c, 'three padlocks'), ct: await makeKey(ct, 'bukid harvest'), cc: await makeKey(cc, 'rice terraces') };

  step('the group is founded from a phone; the cooperative founds its enterprise book from another');
  const group = await foundBook(t, { name: 'Sampaguita Savers', currency: 'HKD', officer: keys.c, code: CODE });
  await t.goto(`${NODE}/#/found`);
  await t.selectOption('#found-kind', 'enterprise');
  await controlsAreUsable(t, 'founding an enterprise');
  const farm = await foundBook(ct, { name: 'Bukid Organic Farm', currency: 'PHP', officer: keys.cc, code: freshCode(), enterprise: { country: 'PH', sector: 'organic rice farming' } });
  assert.match(await ct.locator(`[data-book="${farm}"]`).textContent(), /treasurer/);

  step('three members save HK$2,300 at a meeting');
  const ids = await addMembers(t, group, ['Ana', 'Bea', 'Cora']);
  await meeting(t, group, { [ids.Ana]: '1700', [ids.Bea]: '300', [ids.Cora]: '300' });

  step('the cooperative registers the group with its officers\' keys; its chair approves');
  await coopScreen(ct, farm);
  await controlsAreUsable(ct, 'cooperative');
  await ct.fill('#investor-group', group);
  await ct.fill('#investor-name', 'Sampaguita Savers');
  await ct.selectOption('#investor-currency', 'HKD');
  await ct.fill('#investor-key-0', keys.t);
  await ct.fill('#investor-key-1', keys.c);
  await ct.fill('#investor-quorum', '2');
  assert.match(await ct.textContent('#register-investor .what-it-does'), /counts only once the group's own officers accept/);
  await ct.click('#register-investor-submit');
  await ct.waitForFunction(() => /registered/.test(document.querySelector('#register-investor [role=status]').textContent), null, { timeout: 20_000 });
  await approveAll(cc, farm, 1);

  step('the group sees the registration, not yet accepted, and its treasurer accepts it; the chair approves');
  await portfolio(t, group);
  const unaccepted = t.locator(`li.unaccepted[data-enterprise="${farm}"]`);
  await unaccepted.waitFor({ timeout: 20_000 });
  assert.match(await unaccepted.textContent(), new RegExp(keys.c));
  await controlsAreUsable(t, 'portfolio, an enterprise to accept');
  await unaccepted.locator('button.accept-sign').click();
  await t.locator('li.unaccepted:has-text("awaiting the other officers")').waitFor({ timeout: 20_000 });
  await approveAll(c, group, 1);

  step('the treasurer sends HK$1,000 to the farm; the chair approves it in the farm\'s book');
  await portfolio(t, group);
  const holding = t.locator(`li.holding[data-enterprise="${farm}"]`);
  await holding.waitFor({ timeout: 20_000 });
  await holding.locator('button.transfer-open').click();
  for (const [cls, value] of [['amount', '1000'], ['fee', '5'], ['rate', '7.185'], ['rate-source', 'remittance quote'], ['expected', '7185'], ['channel', 'bank remittance'], ['reference', 'BR-1128']]) {
    await holding.locator(`input.transfer-${cls}`).fill(value);
  }
  assert.match(await holding.locator('.transfer .what-it-does').textContent(), /Nothing counts as sent until 2 of the group's officers sign/);
  await controlsAreUsable(t, 'portfolio, a transfer');
  await holding.locator('button.transfer-sign').click();
  await holding.locator('.transfer [role=status]:has-text("awaits 1 more officer")').waitFor({ timeout: 20_000 });
  await approveAll(c, farm, 1);
  await c.goto(`${NODE}/#/`);
  const farmCard = c.locator(`[data-book="${farm}"]`);
  await farmCard.waitFor({ timeout: 20_000 });
  assert.match(await farmCard.locator('.role').textContent(), /investor/i);
  assert.deepEqual(await farmCard.locator('a.button').evaluateAll((as) => as.map((a) => a.getAttribute('href').split('/')[1])), ['approvals'], 'the group\'s officer runs nothing of the cooperative\'s');
  await portfolio(t, group);
  await t.waitForFunction(() => /1,295\.00/.test(document.querySelector('#portfolio-cash').textContent), null, { timeout: 20_000 });

  step('the cooperative\'s treasurer says what arrived, and pays a return; its chair approves');
  await coopScreen(ct, farm);
  const transfer = ct.locator('li[data-transfer]');
  await transfer.waitFor({ timeout: 20_000 });
  await transfer.locator('input.amount').fill('7150');
  await transfer.locator('button.primary').click();
  await ct.waitForFunction(() => !document.querySelector('li[data-transfer] input.amount'), null, { timeout: 20_000 });
  await coopScreen(ct, farm);
  await ct.fill('#return-amount', '432.10');
  await ct.fill('#return-channel', 'bank remittance');
  await ct.fill('#return-reference', 'RT-2026-Q3');
  await ct.click('#pay-return-submit');
  await ct.waitForFunction(() => /return of/.test(document.querySelector('#pay-return [role=status]').textContent), null, { timeout: 20_000 });
  await approveAll(cc, farm, 1);

  step('the group\'s treasurer says HK$59.87 arrived, and shares it among the members; the chair approves');
  await portfolio(t, group);
  const ret = t.locator('li.return-line');
  await ret.waitFor({ timeout: 20_000 });
  assert.match(await ret.textContent(), /Paid by the cooperative; not yet arrived/);
  await ret.locator('input.return-received').fill('59.87');
  await ret.locator('button.receipt-sign').click();
  await t.locator('li.return-line button.share-sign').waitFor({ timeout: 20_000 });
  assert.match(await t.textContent('li.return-line .what-it-does'), /shares HK\$59\.87 among the members by their stakes/);
  await controlsAreUsable(t, 'portfolio, a return to share');
  await t.click('li.return-line button.share-sign');
  await t.locator('li.return-line [role=status]:has-text("awaits 1 more officer")').waitFor({ timeout: 20_000 });
  await approveAll(c, group, 1);
  await portfolio(t, group);
  await t.locator('li.return-line:has-text("shared among the members")').waitFor({ timeout: 20_000 });

  step('Bea goes home with her savings in cash; Cora becomes a member of the cooperative');
  await open(t, `#/members/${group}`);
  const bea = t.locator(`li.member-line[data-member="${ids.Bea}"]`);
  await bea.waitFor();
  // 300.00 + her share of 59.87 by balance (300 of 2,300): 7.81.
  assert.match(await bea.locator('.balance').textContent(), /307\.81/);
  await bea.locator('button.departure-open').click();
  assert.match(await bea.locator('.departure .what-it-does').textContent(), /pays Bea her whole balance of HK\$307\.81 from the group's cash/);
  await controlsAreUsable(t, 'members, a departure');
  await bea.locator('button.departure-sign').click();
  await bea.locator('.departure [role=status]:has-text("Bea is leaving")').waitFor({ timeout: 20_000 });
  const cora = t.locator(`li.member-line[data-member="${ids.Cora}"]`);
  await cora.locator('button.departure-open').click();
  await cora.locator('select.departure-how').selectOption(farm);
  assert.match(await cora.locator('.departure .what-it-does').textContent(), /into membership of the cooperative of Bukid Organic Farm/);
  await cora.locator('button.departure-sign').click();
  await cora.locator('.departure [role=status]:has-text("Cora is leaving")').waitFor({ timeout: 20_000 });
  await approveAll(c, group, 2);

  step('the group\'s phone shows Cora\'s conversion code; the cooperative admits her from it');
  await portfolio(t, group);
  const conversion = t.locator('li.conversion');
  await conversion.waitFor({ timeout: 20_000 });
  assert.match(await conversion.textContent(), /Cora: HK\$307\.81 converted/);
  const code = (await conversion.locator('textarea.conversion-code').inputValue()).trim();
  await coopScreen(ct, farm);
  await ct.fill('#admit-code', 'kaban-conversion:nonsense');
  await ct.click('#admit-submit');
  await ct.waitForFunction(() => /not a conversion code/.test(document.querySelector('#admit-note').textContent));
  await ct.fill('#admit-code', code.replace(group, farm));
  await ct.waitForFunction(() => /has not registered as an investor/.test(document.querySelector('#admit-read').textContent));
  await ct.fill('#admit-code', code);
  assert.match(await ct.textContent('#admit-read'), new RegExp(`member ${ids.Cora} of Sampaguita Savers, with a stake of HK\\$307\\.81`));
  await ct.fill('#admit-capital', '2200');
  await ct.fill('#admit-rate', '7.15');
  await ct.click('#admit-submit');
  await ct.waitForFunction(() => /becomes membership/.test(document.querySelector('#admit-note').textContent), null, { timeout: 20_000 });
  await approveAll(cc, farm, 1);
  await portfolio(t, group);
  await t.locator('li.conversion:has-text("the cooperative has admitted her")').waitFor({ timeout: 20_000 });

  step('the portfolio adds up, with nothing to look at');
  const figures = await t.textContent('#portfolio-figures');
  // Members: Ana's 1,700 + 44.25 (1,700 of 2,300 of 59.87, by the largest remainder) is all that
  // is left; cash: 2,300 − 1,005 + 59.87 − 307.81 = 1,047.06, and Cora's 307.81 left the
  // enterprise's outstanding capital, not the cash.
  assert.match(figures, /1,744\.25/);
  assert.match(await t.textContent('#portfolio-cash'), /1,047\.06/);
  assert.equal(await t.locator('li.error').count(), 0, await t.textContent('main, body'));
  await t.screenshot({ path: `${WORK}/portfolio.png`, fullPage: true });

  step('the cooperative\'s dashboard lists the group, its return and the member admitted; impact opens');
  await coopScreen(ct, farm);
  const dashboard = await ct.textContent('body');
  assert.match(dashboard, /Sampaguita Savers: sent HK\$1,000\.00/);
  assert.match(dashboard, /the group received HK\$59\.87/);
  assert.match(dashboard, new RegExp(`${ids.Cora} from Sampaguita Savers: membership capital \\D*2,200\\.00 \\(counted\\)`));
  await ct.screenshot({ path: `${WORK}/coop.png`, fullPage: true });
  await ct.click('a[href="#/impact"]');
  await ct.waitForSelector('h1');
  assert.match(await ct.textContent('h1'), /Impact/);
  await controlsAreUsable(ct, 'impact');

  console.log('all investing steps passed');
} finally {
  await browser.close();
}
