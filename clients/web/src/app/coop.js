// The cooperative's side, from its officers' phones: the enterprise book's dashboard, registering
// an investor group, acknowledging what a transfer brought, paying a return, admitting a member
// whose stake her group converted, the period's report, and the impact indicators.
//
// Each form says in plain words what its record will do before it is signed, and what still
// awaits approval after.

import { defaultQuorum, rateFault } from '../protocol/kind.js';
import { CURRENCIES } from '../protocol/money.js';
import * as i18n from './i18n.js';
import * as outbox from './outbox.js';
import { amountOf, back, errorBox, field, hooks, keyField, read, root, scanButton, signAndQueue, signAndSay } from './screen.js';
import { action, h, show } from './ui.js';

const { t } = i18n;

/** What a record of `kind` still needs once signed, as the book's genesis sets its quorum. */
function waits(genesis, kind) {
  const n = genesis.body.rules.quorum?.[kind] ?? defaultQuorum(kind);
  return n > 1 ? t('invest.awaits', { n: n - 1 }) : t('invest.counts_now');
}

// ---------------------------------------------------------------------------------------------
// Investor groups

/** Registers a savings group as an investor: its book, its name and currency, its officers' keys. */
function investorForm(book, d, genesis) {
  const group = keyField('investor-group', t('coop.group_book'));
  const name = field(t('coop.group_name'), { id: 'investor-name', maxlength: 80 });
  const currency = h('select', { id: 'investor-currency' }, Object.keys(CURRENCIES).map((c) => h('option', { value: c }, c)));
  const quorum = h('input', { type: 'number', id: 'investor-quorum', min: 1, max: 9, value: 2 });
  const keys = h('div', { id: 'investor-keys' });
  const addKey = () => {
    const k = keyField(`investor-key-${keys.children.length}`, t('coop.group_officer', { n: keys.children.length + 1 }));
    keys.append(h('div', { class: 'investor-key' }, k.field));
  };
  addKey();
  addKey();
  const note = h('p', { class: 'field-error', role: 'status' });
  return h(
    'section',
    { class: 'card', id: 'register-investor' },
    h('h2', {}, t('coop.register_title')),
    group.field,
    name.label,
    h('label', {}, t('coop.group_currency'), currency),
    keys,
    action(t('coop.another_officer'), addKey, { id: 'investor-add-key' }),
    h('label', {}, t('coop.group_quorum'), quorum),
    h('p', { class: 'what-it-does' }, t('coop.register_does')),
    action(t('coop.register_sign'), async () => {
      const officers = [...keys.querySelectorAll('input')].map((i) => i.value.trim()).filter(Boolean);
      if (!/^[0-9a-f]{64}$/.test(group.input.value.trim())) return note.replaceChildren(t('coop.bad_group'));
      if (!name.input.value.trim()) return note.replaceChildren(t('coop.no_group_name'));
      const body = { currency: currency.value, group: group.input.value.trim(), name: name.input.value.trim(), officers, quorum: Number(quorum.value) };
      // A registration made again replaces the one the group accepted: the group must accept anew.
      if (d.investors.some((i) => i.group === body.group) && !confirm(t('coop.register_again', { name: body.name }))) return;
      if (await signAndSay(book, 'investor', body, note, t('coop.register_signed', { name: body.name, waits: waits(genesis, 'investor') }))) hooks.render();
    }, { class: 'primary', id: 'register-investor-submit' }),
    note,
  );
}

// ---------------------------------------------------------------------------------------------
// Transfers and returns

/** Transfers that arrived and await the cooperative's receipt. */
async function toAcknowledge(book, d) {
  const cur = d.enterprise.currency;
  const awaiting = d.transfers.filter((x) => ['sent', 'overdue'].includes(x.status.state));
  const queued = new Set((await outbox.all()).filter((e) => e.kind === 'receipt' && e.book === book && e.state === 'pending').map((e) => e.target));
  if (!awaiting.length) return h('p', {}, t('coop.nothing_to_acknowledge'));
  return h(
    'ul',
    {},
    awaiting.map((x) => {
      const amount = h('input', { type: 'text', inputmode: 'decimal', class: 'amount', 'aria-label': t('coop.received') });
      const note = h('p', { class: 'field-error', role: 'alert' });
      const line = t('coop.transfer', { group: x.group_name, amount: i18n.money(x.amount), expected: i18n.money(x.expected), reference: x.reference });
      return h(
        'li',
        { class: 'card', dataset: { transfer: x.record } },
        h('p', {}, line),
        queued.has(x.record)
          ? h('p', {}, t('state.pending'))
          : [
              amount,
              h('p', { class: 'what-it-does' }, t('coop.receipt_does', { group: x.group_name })),
              note,
              action(t('coop.acknowledge'), async () => {
                const received = amountOf(amount, cur, note);
                if (!received) return;
                await signAndQueue(book, 'receipt', { received, transfer: x.record }, { target: x.record });
                await outbox.flush();
                await hooks.render();
              }, { class: 'primary' }),
            ],
      );
    }),
  );
}

/** Pays a return to one of the investor groups. */
function returnForm(book, d, genesis) {
  const cur = d.enterprise.currency;
  const group = h('select', { id: 'return-group', 'aria-label': t('coop.return_group') }, d.investors.map((i) => h('option', { value: i.group }, i.name)));
  const amount = field(t('coop.return_amount', { currency: cur }), { id: 'return-amount', inputmode: 'decimal' });
  const channel = field(t('invest.channel'), { id: 'return-channel', maxlength: 80 });
  const reference = field(t('invest.reference'), { id: 'return-reference', maxlength: 80 });
  const note = h('p', { class: 'field-error', role: 'status' });
  return h(
    'section',
    { class: 'card', id: 'pay-return' },
    h('h2', {}, t('coop.return_title')),
    h('label', {}, t('coop.return_group'), group),
    amount.label,
    channel.label,
    reference.label,
    h('p', { class: 'what-it-does' }, t('coop.return_does')),
    action(t('coop.return_sign'), async () => {
      const a = amountOf(amount.input, cur, note);
      if (!a) return;
      if (!channel.input.value.trim() || !reference.input.value.trim()) return note.replaceChildren(t('invest.incomplete'));
      const body = { amount: a, channel: channel.input.value.trim(), group: group.value, reference: reference.input.value.trim() };
      if (await signAndSay(book, 'return', body, note, t('coop.return_signed', { amount: i18n.money(a), waits: waits(genesis, 'return') }))) {
        for (const input of [amount.input, channel.input, reference.input]) input.value = '';
      }
    }, { class: 'primary', id: 'pay-return-submit' }),
    note,
  );
}

// ---------------------------------------------------------------------------------------------
// Members who come home

/** The code a group's phone shows for a conversion (invest.js), read back into its parts. */
export function parseConversion(text) {
  const m = /^kaban-conversion:([0-9a-f]{64}):([0-9a-f]{64}):([a-z0-9-]{3,32}):([A-Z]{3}):([0-9]{1,15})$/.exec(text.trim());
  if (!m || !Object.hasOwn(CURRENCIES, m[4])) return null;
  return { group: m[1], departure: m[2], member: m[3], stake: { currency: m[4], minor: Number(m[5]) } };
}

/** Admits a member whose group converted her stake: from the code her group's phone shows. */
function admitForm(book, d, genesis) {
  const code = h('input', { type: 'text', id: 'admit-code', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' });
  const capital = field(t('coop.admit_capital', { currency: d.enterprise.currency }), { id: 'admit-capital', inputmode: 'decimal' });
  const rate = field(t('coop.admit_rate'), { id: 'admit-rate', inputmode: 'decimal', placeholder: '7.15' });
  const note = h('p', { class: 'field-error', role: 'status', id: 'admit-note' });
  // What the code says, in words, as soon as it is scanned or pasted; a group this book does not
  // register is refused here, before anything is signed.
  const investorOf = (c) => d.investors.find((i) => i.group === c?.group);
  const said = h('p', { id: 'admit-read', role: 'status' });
  code.addEventListener('input', () => {
    const c = parseConversion(code.value);
    if (!c) return said.replaceChildren(code.value.trim() ? t('coop.bad_code') : '');
    const investor = investorOf(c);
    said.replaceChildren(investor ? t('coop.admit_read', { member: c.member, group: investor.name, stake: i18n.money(c.stake) }) : t('coop.admit_unknown_group'));
  });
  return h(
    'section',
    { class: 'card', id: 'admit-member' },
    h('h2', {}, t('coop.admit_title')),
    h('p', {}, t('coop.admit_help')),
    h('label', {}, t('coop.admit_code'), code),
    scanButton(code),
    said,
    capital.label,
    rate.label,
    h('p', { class: 'what-it-does' }, t('coop.admit_does')),
    action(t('coop.admit_sign'), async () => {
      const c = parseConversion(code.value);
      if (!c) return note.replaceChildren(t('coop.bad_code'));
      if (!investorOf(c)) return note.replaceChildren(t('coop.admit_unknown_group'));
      if (d.memberships.some((m) => m.departure === c.departure)) return note.replaceChildren(t('coop.already_admitted', { member: c.member }));
      const cap = amountOf(capital.input, d.enterprise.currency, note);
      if (!cap) return;
      if (rateFault(rate.input.value.trim())) return note.replaceChildren(t('invest.bad_rate', { rate: rate.input.value.trim() }));
      const body = { capital: cap, departure: c.departure, group: c.group, member: c.member, rate: rate.input.value.trim(), stake: c.stake };
      if (await signAndSay(book, 'membership', body, note, t('coop.admit_signed', { stake: i18n.money(c.stake), waits: waits(genesis, 'membership') }))) code.value = '';
    }, { class: 'primary', id: 'admit-submit' }),
    note,
  );
}

// ---------------------------------------------------------------------------------------------
// Reports

function reportForm(book, d, genesis) {
  const cur = d.enterprise.currency;
  const input = (name, type = 'text', attrs = {}) => h('label', {}, t(`report.${name}`), h('input', { type, name, id: `report-${name}`, ...attrs }));
  const form = h(
    'form',
    { id: 'report-form' },
    input('from', 'date'),
    input('to', 'date'),
    input('revenue', 'text', { inputmode: 'decimal' }),
    input('costs', 'text', { inputmode: 'decimal' }),
    input('jobs_women', 'number', { min: 0 }),
    input('jobs_men', 'number', { min: 0 }),
    input('members', 'number', { min: 0 }),
    input('returnees', 'number', { min: 0 }),
    input('language'),
    h('label', {}, t('report.narrative'), h('textarea', { name: 'narrative', id: 'report-narrative', rows: 3 })),
  );
  const note = h('p', { role: 'status', id: 'report-note' });
  const submit = action(t('report.submit'), async () => {
    const v = Object.fromEntries(new FormData(form));
    const parsed = { revenue: i18n.parseAmount(v.revenue, cur), costs: i18n.parseAmount(v.costs, cur) };
    for (const [name, p] of Object.entries(parsed)) {
      if (p.error) return note.replaceChildren(`${t(`report.${name}`)}: ${i18n.amountError(p.error, cur)}`);
    }
    if (!v.from || !v.to || !v.narrative?.trim() || !v.language?.trim()) return note.replaceChildren(t('report.incomplete'));
    const n = (x) => Number.parseInt(x || '0', 10);
    const body = {
      costs: { currency: cur, minor: parsed.costs.minor },
      jobs: { men: n(v.jobs_men), women: n(v.jobs_women) },
      members: { returnees: n(v.returnees), total: n(v.members) },
      narrative: { language: v.language.trim(), text: v.narrative.trim() },
      period: { from: v.from, to: v.to },
      revenue: { currency: cur, minor: parsed.revenue.minor },
    };
    await signAndSay(book, 'report', body, note, t('report.signed', { waits: waits(genesis, 'report') }));
  }, { class: 'primary', id: 'submit-report' });
  return h('section', { class: 'card' }, h('h2', {}, t('report.title')), form, h('p', { class: 'what-it-does' }, t('report.does')), submit, note);
}

// ---------------------------------------------------------------------------------------------

/** The lists of the dashboard: investor groups, returns, members admitted, reports. */
function dashboardLists(d) {
  const list = (items, line, empty) => (items.length ? h('ul', {}, items.map((x) => h('li', {}, line(x)))) : h('p', {}, t(empty)));
  return [
    h('h2', {}, t('coop.investors')),
    list(d.investors, (i) => t('coop.investor', { name: i.name, sent: i18n.money(i.sent), received: i18n.money(i.received) }), 'coop.no_investors'),
    h('h2', {}, t('coop.returns_title')),
    list(d.returns, (r) => t(`coop.return_${r.status.state}`, { group: r.group_name, amount: i18n.money(r.amount), received: r.status.received ? i18n.money(r.status.received) : '' }), 'coop.no_returns'),
    h('h2', {}, t('coop.members_title')),
    list(d.memberships, (m) => t('coop.membership', { group: m.group_name, member: m.member, capital: i18n.money(m.capital), state: t(m.effective ? 'status.effective' : 'status.awaiting_approval') }), 'coop.no_members'),
    h('h2', {}, t('coop.reports')),
    list(d.reports, (r) => t('coop.report_line', { from: r.period.from, to: r.period.to, surplus: i18n.money(r.surplus), women: r.jobs.women, men: r.jobs.men }), 'coop.no_reports'),
  ];
}

/** The cooperative's screen for its enterprise book. */
export async function coop(book) {
  let d;
  let genesis;
  try {
    [d, genesis] = await Promise.all([read(`/books/${book}/dashboard`), read(`/books/${book}/records/${book}`)]);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  show(
    root,
    back(),
    h('h1', {}, d.enterprise.name),
    h('p', {}, `${d.enterprise.country} · ${d.enterprise.sector}`),
    h('dl', { class: 'figures' }, h('dt', {}, t('coop.capital')), h('dd', {}, i18n.money(d.capital_received)), h('dt', {}, t('coop.returns')), h('dd', {}, i18n.money(d.returns_paid))),
    h('a', { class: 'button', href: '#/impact' }, t('impact.open')),
    h('h2', {}, t('coop.to_acknowledge')),
    await toAcknowledge(book, d),
    dashboardLists(d),
    d.investors.length ? returnForm(book, d, genesis) : null,
    admitForm(book, d, genesis),
    investorForm(book, d, genesis),
    reportForm(book, d, genesis),
  );
}

/** An indicator's value, `value` × 10^−`decimals`, written exactly in the language's marks. */
function decimal(value, decimals) {
  const digits = String(Math.abs(value)).padStart(decimals + 1, '0');
  const whole = BigInt(digits.slice(0, digits.length - decimals));
  const { group, decimal: mark } = i18n.marks();
  const text = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, group) + (decimals ? `${mark}${digits.slice(-decimals)}` : '');
  return value < 0 ? `−${text}` : text;
}

/** Impact indicators by principle, across the enterprise books this phone's key may read. */
export async function impact() {
  let v;
  try {
    v = await read('/impact');
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const rows = v.indicators;
  show(
    root,
    back(),
    h('h1', {}, t('impact.title')),
    h('p', {}, t('impact.explain')),
    rows.length
      ? h(
          'ul',
          { id: 'impact-rows' },
          rows.map((r) =>
            h('li', { class: 'card' }, h('p', {}, t(`principle.${r.principle}`)), h('p', {}, t('impact.row', { enterprise: r.enterprise_name, indicator: r.indicator.replaceAll('_', ' '), value: decimal(r.value, r.decimals), unit: r.unit, from: r.period_from, to: r.period_to }))),
          ),
        )
      : h('p', {}, t('impact.none')),
  );
}
