// The officers' members screen: adding a member with her personal details kept on the node, a
// withdrawal, her entries and their reversal, her going home (invest.js), and erasure.

import * as api from './api.js';
import * as i18n from './i18n.js';
import * as outbox from './outbox.js';
import { awaitingBy, departureForm, quorumsOf } from './invest.js';
import * as store from './store.js';
import { SEARCH_FROM, back, errorBox, hooks, memberSearch, read, refusalOf, root, scanButton, signAndQueue, signEach, state } from './screen.js';
import { action, h, show } from './ui.js';

const { t } = i18n;

/** A fresh pseudonymous member id: it carries nothing about her. */
function newMemberId() {
  const alphabet = 'abcdefghjkmnpqrstvwxyz23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `m-${Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('')}`;
}

/** Sends personal details kept on this phone until the node has the member they belong to. */
async function sendPersonal(book) {
  const waiting = (await store.get(`personal:${book}`)) ?? {};
  const confirmed = new Set((await outbox.all()).filter((e) => e.state === 'confirmed' && e.kind === 'member_join').map((e) => e.member));
  for (const [member, details] of Object.entries(waiting)) {
    if (!confirmed.has(member)) continue;
    try {
      await api.write(state.me, 'PUT', `/books/${book}/members/${member}/personal`, details);
      delete waiting[member];
    } catch (e) {
      if (e.code === 'offline') break;
      // A node that has not taken her record yet says so; anything else is said on screen.
      if (e.status !== 404) throw e;
    }
  }
  await store.put(`personal:${book}`, waiting);
}

/** The form that adds a member: what goes in the book, and what stays on this node. */
function addMemberForm(book, summary) {
  const alias = h('input', { type: 'text', id: 'member-alias', maxlength: 100 });
  const memberKey = h('input', { type: 'text', id: 'member-key', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' });
  const fullName = h('input', { type: 'text', id: 'member-name', maxlength: 500, autocomplete: 'off' });
  const phone = h('input', { type: 'tel', id: 'member-phone', maxlength: 500, autocomplete: 'off' });
  const notes = h('textarea', { id: 'member-notes', rows: 2, maxlength: 500 });
  const note = h('p', { id: 'member-note', role: 'status' });
  return h(
    'section',
    { class: 'card', id: 'add-member' },
    h('h2', {}, t('members.add_title')),
    h('label', {}, t('members.alias'), alias),
    h('label', {}, t('members.key'), memberKey),
    scanButton(memberKey),
    h('h3', {}, t('members.personal_title')),
    h('p', {}, t('members.personal_help')),
    h('label', {}, t('members.full_name'), fullName),
    h('label', {}, t('members.phone'), phone),
    h('label', {}, t('members.notes'), notes),
    h('p', { class: 'what-it-does' }, t('members.what_it_does', { group: summary.name })),
    action(t('members.add'), async () => {
      if (!alias.value.trim()) return show(note, t('members.no_alias'));
      const member = newMemberId();
      const body = { alias: alias.value.trim(), member };
      if (memberKey.value.trim()) body.key = memberKey.value.trim();
      const details = { full_name: fullName.value.trim() || null, phone: phone.value.trim() || null, notes: notes.value.trim() || null };
      if (Object.values(details).some(Boolean)) {
        const waiting = (await store.get(`personal:${book}`)) ?? {};
        await store.put(`personal:${book}`, { ...waiting, [member]: details });
      }
      try {
        await signAndQueue(book, 'member_join', body, { member });
      } catch (e) {
        return show(note, t('found.invalid', { detail: e.message }));
      }
      await outbox.flush();
      await sendPersonal(book);
      await hooks.render();
    }, { id: 'add-member-submit', class: 'primary' }),
    note,
  );
}

/** One member's line: her balance, a withdrawal, her going home, and the erasure of her personal details. */
function memberRow(book, m, balance, currency, going) {
  const amount = h('input', { type: 'text', inputmode: 'decimal', class: 'amount', 'aria-label': t('members.withdraw_amount', { alias: m.alias }) });
  const reason = h('input', { type: 'text', class: 'reason', maxlength: 200, 'aria-label': t('members.withdraw_reason') });
  const note = h('p', { class: 'field-error', role: 'alert' });
  const done = h('p', { class: 'done', role: 'status' });
  const entries = h('ul', { class: 'statement' });
  const depart = departureForm(book, m, balance ?? { currency, minor: 0 }, going.holdings, going.quorum);
  const form = h(
    'div',
    { class: 'withdraw', hidden: true },
    h('label', {}, t('members.withdraw_amount', { alias: m.alias }), amount),
    h('label', {}, t('members.withdraw_reason'), reason),
    h('p', { class: 'what-it-does' }, t('members.withdraw_does', { alias: m.alias })),
    action(t('members.withdraw_sign'), async () => {
      const parsed = i18n.parseAmount(amount.value, currency);
      if (parsed.error) return note.replaceChildren(i18n.amountError(parsed.error, currency));
      if (!reason.value.trim()) return note.replaceChildren(t('members.no_reason'));
      note.replaceChildren();
      const id = await signAndQueue(book, 'withdrawal', { amount: { currency, minor: parsed.minor }, member: m.member, reason: reason.value.trim() }, { member: m.member, minor: parsed.minor });
      await outbox.flush();
      const refused = await refusalOf([id]);
      if (refused) return note.replaceChildren(t('error.node', { detail: refused }));
      form.hidden = true;
      done.replaceChildren(t('members.withdraw_waiting', { amount: i18n.money({ currency, minor: parsed.minor }), alias: m.alias }));
    }, { class: 'primary withdraw-sign' }),
    note,
  );
  return h(
    'li',
    { class: 'card member-line', dataset: { member: m.member } },
    h('p', {}, h('strong', { class: 'alias' }, m.alias), ' · ', h('span', { class: 'balance' }, i18n.money(balance ?? { currency, minor: 0 }))),
    h('p', { class: 'member-id' }, m.member),
    action(t('members.withdraw'), () => {
      form.hidden = !form.hidden;
    }, { class: 'withdraw-open' }),
    going.leaving || going.withdrawing
      ? h('p', { class: 'departure-state' }, t(going.leaving ? 'depart.waiting' : 'depart.withdrawal_pending', { alias: m.alias }))
      : action(t('depart.open'), () => {
          depart.hidden = !depart.hidden;
        }, { class: 'departure-open' }),
    action(t('members.entries'), async () => {
      try {
        const st = await read(`/books/${book}/members/${m.member}/statement`);
        entries.replaceChildren(...st.entries.map((e) => entryLine(book, e)));
      } catch (e) {
        entries.replaceChildren(errorBox(e));
      }
    }, { class: 'entries-open' }),
    action(t('members.details'), async () => {
      try {
        const r = await api.write(state.me, 'GET', `/books/${book}/members/${m.member}/personal`);
        const p = r.personal;
        done.replaceChildren(p ? [p.full_name, p.phone, p.notes].filter(Boolean).join(' · ') || t('members.no_details') : t('members.no_details'));
      } catch (e) {
        done.replaceChildren(errorBox(e));
      }
    }, { class: 'details' }),
    action(t('members.erase'), async () => {
      if (!confirm(t('members.erase_confirm', { alias: m.alias }))) return;
      try {
        const r = await api.write(state.me, 'DELETE', `/books/${book}/members/${m.member}/personal`);
        done.replaceChildren(r.erased ? t('members.erased', { alias: m.alias }) : t('members.nothing_to_erase', { alias: m.alias }));
      } catch (e) {
        done.replaceChildren(errorBox(e));
      }
    }, { class: 'erase' }),
    form,
    depart,
    done,
    entries,
  );
}

/** One of a member's entries, with a way to reverse it while it counts. */
function entryLine(book, e) {
  const reason = h('input', { type: 'text', class: 'reason', maxlength: 200, 'aria-label': t('reverse.reason') });
  const note = h('p', { class: 'done', role: 'status' });
  const what = `${i18n.date(e.time_ms)} · ${t(`kind.${e.kind}`)} · ${i18n.money(e.amount)} · ${t(`status.${e.status.state}`)}`;
  if (e.status.state !== 'effective') return h('li', { class: 'entry', dataset: { record: e.record } }, what);
  const form = h(
    'div',
    { class: 'reverse', hidden: true },
    h('label', {}, t('reverse.reason'), reason),
    h('p', { class: 'what-it-does' }, t('reverse.does', { what: `${t(`kind.${e.kind}`)} ${i18n.money(e.amount)}` })),
    action(t('reverse.sign'), async () => {
      if (!reason.value.trim()) return note.replaceChildren(t('reverse.no_reason'));
      const error = await signEach(book, [['reversal', { reason: reason.value.trim(), record: e.record }]]);
      form.hidden = true;
      note.replaceChildren(error ? t('error.node', { detail: error }) : t('reverse.awaiting'));
    }, { class: 'primary reverse-sign' }),
  );
  return h(
    'li',
    { class: 'entry', dataset: { record: e.record } },
    what,
    action(t('reverse.button'), () => {
      form.hidden = !form.hidden;
    }, { class: 'reverse-open' }),
    form,
    note,
  );
}

/** An officer's members screen: add a member, see each one's balance, a withdrawal, erasure. */
export async function members(book) {
  let summary;
  let roster;
  let balances;
  let portfolio;
  let quorums;
  let leaving;
  let withdrawing;
  try {
    await sendPersonal(book);
    [summary, roster, balances, portfolio, quorums] = await Promise.all([
      read(`/books/${book}`),
      read(`/books/${book}/roster`),
      read(`/books/${book}/balances`),
      read(`/books/${book}/portfolio`),
      quorumsOf(book),
    ]);
    leaving = await awaitingBy(book, 'departure', 'member');
    // Her whole balance leaves with her: not while a withdrawal of hers awaits approval.
    withdrawing = await awaitingBy(book, 'withdrawal', 'member');
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const sorted = [...roster.members].sort((x, y) => x.alias.localeCompare(y.alias, i18n.current()) || x.member.localeCompare(y.member));
  const going = (m) => ({ holdings: portfolio.holdings, quorum: quorums.departure, leaving: leaving.has(m.member), withdrawing: withdrawing.has(m.member) });
  const rows = sorted.map((m) => memberRow(book, m, balances.members[m.member]?.[0], summary.currency, going(m)));
  show(
    root,
    back(),
    h('h1', {}, t('members.title', { group: summary.name })),
    addMemberForm(book, summary),
    h('h2', {}, t('members.list', { n: sorted.length })),
    sorted.length >= SEARCH_FROM ? memberSearch(rows) : null,
    h('ul', { class: 'member-lines' }, rows),
  );
}
