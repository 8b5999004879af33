// The savings group's side of investing, from an officer's phone: the portfolio, accepting an
// enterprise that registered the group, sending money (a transfer), saying a return arrived,
// and sharing it among the members. A member going home is on the members screen (departureForm()).
//
// Each form says in plain words what its record will do before it is signed, and what still
// awaits approval after. The records go to the book they belong in: a transfer and a return's
// receipt to the enterprise book, an acceptance and a distribution to the group's own book.

import { defaultQuorum, rateFault } from '../protocol/kind.js';
import * as i18n from './i18n.js';
import * as outbox from './outbox.js';
import { amountOf, back, errorBox, field, hooks, qrCode, read, root, signAndSay } from './screen.js';
import { action, h, show } from './ui.js';

const { t } = i18n;

/** The targets of records of `kind` in `book` that await approvals, by a member of their body. */
export async function awaitingBy(book, kind, member) {
  const { pending } = await read(`/books/${book}/pending`);
  const targets = new Set();
  for (const p of pending.filter((x) => x.kind === kind)) targets.add((await read(`/books/${book}/records/${p.record}`)).body[member]);
  // Signed on this phone and not yet taken by the node.
  for (const e of await outbox.all()) if (e.book === book && e.kind === kind && e.state === 'pending' && e.target) targets.add(e.target);
  return targets;
}

/** What a record of `kind` still needs once signed, in words. */
const needs = (quorum) => (quorum > 1 ? t('invest.awaits', { n: quorum - 1 }) : t('invest.counts_now'));

/** The form for a transfer from the group to enterprise `x`. */
function transferForm(group, p, x, quorum) {
  const cur = p.currency;
  const amount = field(t('invest.amount', { currency: cur }), { inputmode: 'decimal', class: 'transfer-amount' });
  const fee = field(t('invest.fee', { currency: cur }), { inputmode: 'decimal', class: 'transfer-fee', value: '0' });
  const rate = field(t('invest.rate', { from: cur, to: x.currency }), { inputmode: 'decimal', class: 'transfer-rate', placeholder: '7.185' });
  const source = field(t('invest.rate_source'), { class: 'transfer-rate-source', maxlength: 80 });
  const expected = field(t('invest.expected', { currency: x.currency }), { inputmode: 'decimal', class: 'transfer-expected' });
  const channel = field(t('invest.channel'), { class: 'transfer-channel', maxlength: 80 });
  const reference = field(t('invest.reference'), { class: 'transfer-reference', maxlength: 80 });
  const note = h('p', { class: 'field-error', role: 'status' });
  const sign = action(t('invest.transfer_sign'), async () => {
    const a = amountOf(amount.input, cur, note, t('invest.amount', { currency: cur }));
    // No fee is a fee of zero, which an amount field would refuse as "not more than zero".
    const noFee = /^\s*(0+([.,]0*)?)?\s*$/.test(fee.input.value);
    const f = a && (noFee ? { currency: cur, minor: 0 } : amountOf(fee.input, cur, note, t('invest.fee', { currency: cur })));
    const e = f && amountOf(expected.input, x.currency, note, t('invest.expected', { currency: x.currency }));
    if (!e) return;
    const r = rate.input.value.trim();
    if (rateFault(r)) return note.replaceChildren(t('invest.bad_rate', { rate: r }));
    const texts = [source, channel, reference].map((x) => x.input.value.trim());
    if (texts.some((v) => !v)) return note.replaceChildren(t('invest.incomplete'));
    const [rate_source, ch, ref] = texts;
    const body = { amount: a, channel: ch, expected: e, fee: f, group, rate: r, rate_source, reference: ref };
    if (await signAndSay(x.enterprise, 'transfer', body, note, t('invest.transfer_signed', { amount: i18n.money(a), name: x.name, waits: needs(quorum) }))) sign.remove();
  }, { class: 'primary transfer-sign' });
  return h(
    'div',
    { class: 'transfer', hidden: true },
    [amount, fee, rate, source, expected, channel, reference].map((f) => f.label),
    h('p', { class: 'what-it-does' }, t('invest.transfer_does', { name: x.name, n: quorum })),
    sign,
    note,
  );
}

/** One return paid to the group: say it arrived, then share it among the members. */
function returnLine(group, p, x, ret, awaiting) {
  const what = t('invest.return_line', { paid: i18n.money(ret.paid), reference: ret.reference });
  const note = h('p', { class: 'done', role: 'status' });
  const line = (...rest) => h('li', { class: 'card return-line', dataset: { return: ret.record } }, h('p', {}, what), ...rest, note);
  if (ret.distribution) return line(h('p', { class: 'return-state' }, t('invest.return_shared', { amount: i18n.money(ret.received) })));
  if (ret.received) {
    if (awaiting.has(ret.record)) return line(h('p', { class: 'return-state' }, t('invest.share_waiting', { amount: i18n.money(ret.received) })));
    const quorum = p.quorums.distribution;
    const sign = action(t('invest.share_sign'), async () => {
      const body = { amount: ret.received, enterprise: x.enterprise, return: ret.record };
      if (await signAndSay(group, 'distribution', body, note, t('invest.share_signed', { waits: needs(quorum) }))) sign.remove();
    }, { class: 'primary share-sign' });
    return line(
      h('p', { class: 'return-state' }, t('invest.return_received', { amount: i18n.money(ret.received) })),
      h('p', { class: 'what-it-does' }, t('invest.share_does', { amount: i18n.money(ret.received), n: quorum })),
      sign,
    );
  }
  const received = field(t('invest.received', { currency: p.currency }), { inputmode: 'decimal', class: 'return-received' });
  return line(
    h('p', { class: 'return-state' }, t('invest.return_paid')),
    received.label,
    h('p', { class: 'what-it-does' }, t('invest.receipt_does', { name: x.name })),
    action(t('invest.receipt_sign'), async () => {
      const amount = amountOf(received.input, p.currency, note, t('invest.received', { currency: p.currency }));
      if (!amount) return;
      if (await signAndSay(x.enterprise, 'return_receipt', { received: amount, return: ret.record }, note, t('invest.receipt_signed'))) await hooks.render();
    }, { class: 'primary receipt-sign' }),
  );
}

/** The code the cooperative's phone scans to admit a member whose stake the group converted (coop.js reads it). */
export const conversionCode = (group, c) => `kaban-conversion:${group}:${c.departure}:${c.member}:${c.stake.currency}:${c.stake.minor}`;

/** Members the group converted into the cooperative; each one not admitted yet shows its code. */
function conversionLines(group, x, aliases) {
  return x.conversions.map((c) => {
    const alias = aliases.get(c.member) ?? c.member;
    const line = h('li', { class: 'card conversion', dataset: { departure: c.departure } });
    if (c.membership) {
      line.append(t('invest.converted_admitted', { alias, stake: i18n.money(c.stake) }));
      return line;
    }
    const code = conversionCode(group, c);
    line.append(
      h('p', {}, t('invest.converted_waiting', { alias, stake: i18n.money(c.stake), name: x.name })),
      qrCode(code, t('invest.conversion_code', { alias })),
      h('label', {}, t('invest.conversion_code', { alias }), h('textarea', { class: 'conversion-code', readonly: true, rows: 3 }, code)),
    );
    return line;
  });
}

/** One enterprise the group invests in: its figures, a transfer, and its returns. */
function holdingCard(group, p, x, awaiting, aliases) {
  const form = transferForm(group, p, x, x.quorum);
  return h(
    'li',
    { class: 'card holding', dataset: { enterprise: x.enterprise } },
    h('h3', {}, x.name),
    h('p', {}, `${x.country} · ${x.sector}`),
    h('p', { class: 'holding-line' }, t('portfolio.holding', { invested: i18n.money(x.invested), in_transit: i18n.money(x.in_transit), back: i18n.money(x.received_back), outstanding: i18n.money(x.outstanding) })),
    action(t('invest.transfer'), () => {
      form.hidden = !form.hidden;
    }, { class: 'transfer-open' }),
    h('a', { class: 'button', href: `#/approvals/${x.enterprise}` }, t('invest.approvals', { name: x.name })),
    form,
    x.returns.length ? [h('h4', {}, t('invest.returns')), h('ul', { class: 'returns' }, x.returns.map((r) => returnLine(group, p, x, r, awaiting)))] : null,
    x.conversions.length ? [h('h4', {}, t('invest.conversions')), h('ul', { class: 'conversions' }, conversionLines(group, x, aliases))] : null,
  );
}

/** An enterprise that registered the group and that its officers have not accepted yet. */
function unacceptedCard(group, u, quorum, awaiting) {
  const note = h('p', { class: 'done', role: 'status' });
  return h(
    'li',
    { class: 'card unaccepted', dataset: { enterprise: u.enterprise } },
    h('h3', {}, u.name),
    h('p', {}, t('portfolio.unaccepted', { reason: u.reason })),
    h('p', {}, t('invest.accept_keys')),
    h('ul', { class: 'keys' }, u.officers.map((k) => h('li', { class: 'key' }, k))),
    awaiting.has(u.enterprise)
      ? h('p', {}, t('invest.accept_waiting'))
      : [
          h('p', { class: 'what-it-does' }, t('invest.accept_does', { name: u.name, n: quorum })),
          action(t('invest.accept_sign'), async () => {
            if (await signAndSay(group, 'investment', { enterprise: u.enterprise, registration: u.registration }, note, t('invest.accept_signed', { waits: needs(quorum) }))) {
              await hooks.render();
            }
          }, { class: 'primary accept-sign' }),
        ],
    note,
  );
}

/** The book's quorum of each kind the group signs here, as its genesis (whose id is the book's) sets them. */
export async function quorumsOf(book) {
  const named = (await read(`/books/${book}/records/${book}`)).body.rules.quorum ?? {};
  const q = (kind) => named[kind] ?? defaultQuorum(kind);
  return { distribution: q('distribution'), investment: q('investment'), departure: q('departure') };
}

/**
 * The quorum the cooperative registered for the group's transfers, read from the enterprise
 * book; an officer the registration does not name cannot read that book, and is told the usual.
 */
async function transferQuorum(enterprise, group) {
  try {
    const d = await read(`/books/${enterprise}/dashboard`);
    return d.investors.find((i) => i.group === group)?.quorum ?? defaultQuorum('transfer');
  } catch {
    return defaultQuorum('transfer');
  }
}

/** The group's portfolio: money in the box, out in enterprises, and back, in words, with what an officer does about each. */
export async function portfolioScreen(book) {
  let p;
  let awaiting;
  try {
    const [portfolio, quorums, roster] = await Promise.all([read(`/books/${book}/portfolio`), quorumsOf(book), read(`/books/${book}/roster`)]);
    p = { ...portfolio, quorums, aliases: new Map(roster.members.map((m) => [m.member, m.alias])) };
    awaiting = { distribution: await awaitingBy(book, 'distribution', 'return'), investment: await awaitingBy(book, 'investment', 'enterprise') };
    // A transfer takes the quorum the cooperative registered for the group, in its own book.
    for (const x of p.holdings) x.quorum = await transferQuorum(x.enterprise, book);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const figure = (label, money, id) => [h('dt', {}, t(label)), h('dd', id ? { id } : {}, i18n.money(money))];
  // An enterprise awaiting acceptance has its own card above; the list does not say it twice.
  const shown = new Set(p.unaccepted.map((u) => u.registration));
  const anomalies = p.anomalies.filter((a) => !(a.kind === 'unaccepted_enterprise' && a.records.every((r) => shown.has(r))));
  show(
    root,
    back(),
    h('h1', {}, t('portfolio.title', { group: p.name })),
    h('p', {}, t('portfolio.explain')),
    h('a', { class: 'button', href: '#/impact' }, t('impact.open')),
    h(
      'dl',
      { class: 'figures', id: 'portfolio-figures' },
      figure('portfolio.members_balances', p.members_balances),
      figure('portfolio.cash', p.cash, 'portfolio-cash'),
      figure('portfolio.outstanding', p.outstanding),
      figure('portfolio.received_back', p.received_back),
      figure('portfolio.undistributed', p.undistributed),
    ),
    h('h2', {}, t('portfolio.holdings')),
    p.holdings.length ? h('ul', { class: 'holdings' }, p.holdings.map((x) => holdingCard(book, p, x, awaiting.distribution, p.aliases))) : h('p', {}, t('portfolio.none')),
    p.unaccepted.length
      ? [h('h2', {}, t('portfolio.unaccepted_title')), h('ul', {}, p.unaccepted.map((u) => unacceptedCard(book, u, p.quorums.investment, awaiting.investment)))]
      : null,
    anomalies.length ? [h('h2', {}, t('portfolio.anomalies')), h('ul', {}, anomalies.map((a) => h('li', { class: 'error' }, a.detail)))] : null,
  );
}

/**
 * A member going home: her whole balance paid out from the group's cash, or turned into
 * membership of the cooperative of an enterprise the group invests in.
 */
export function departureForm(book, m, balance, holdings, quorum) {
  const note = h('p', { class: 'field-error', role: 'status' });
  const how = h(
    'select',
    { class: 'departure-how', 'aria-label': t('depart.how') },
    h('option', { value: '' }, t('depart.payout')),
    holdings.map((x) => h('option', { value: x.enterprise }, t('depart.convert', { name: x.name }))),
  );
  const does = h('p', { class: 'what-it-does' });
  const say = () => {
    const x = holdings.find((y) => y.enterprise === how.value);
    does.replaceChildren(
      x ? t('depart.convert_does', { alias: m.alias, amount: i18n.money(balance), name: x.name, n: quorum }) : t('depart.payout_does', { alias: m.alias, amount: i18n.money(balance), n: quorum }),
    );
  };
  how.addEventListener('change', say);
  say();
  const form = h(
    'div',
    { class: 'departure', hidden: true },
    h('label', {}, t('depart.how'), how),
    does,
    note,
  );
  const sign = action(t('depart.sign'), async () => {
    const body = { amount: balance, member: m.member, settlement: how.value ? 'conversion' : 'payout' };
    if (how.value) body.enterprise = how.value;
    if (await signAndSay(book, 'departure', body, note, t('depart.signed', { alias: m.alias, waits: needs(quorum) }))) sign.remove();
  }, { class: 'primary departure-sign' });
  note.before(sign);
  return form;
}
