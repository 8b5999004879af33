// The officers' screens for a book's people and partners: founding a group with the node's setup
// code, the officers (adding one, taking a role away, replacing a lost phone), and sharing the
// book with a partner's node.

import * as base64url from '../protocol/base64url.js';
// The officer's summary does not carry the genesis rules: a book that names its own quorum sees
// the protocol's default here, and its real count in the approvals inbox.
import { defaultQuorum } from '../protocol/kind.js';
import { CURRENCIES } from '../protocol/money.js';
import * as record from '../protocol/record.js';
import * as api from './api.js';
import * as i18n from './i18n.js';
import { FOUNDING_ROLES, back, errorBox, hooks, keyField, qrCode, read, roleSelect, root, scanButton, signEach, state } from './screen.js';
import { action, h, show } from './ui.js';

const { t } = i18n;

/** One more officer: her phone's key (pasted, typed, or scanned) and her role. */
function officerRow(n) {
  const keyInput = h('input', { type: 'text', class: 'officer-key', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', 'aria-label': t('found.officer_key', { n }) });
  return h(
    'li',
    { class: 'card officer' },
    h('label', {}, t('found.officer_key', { n }), keyInput),
    h('label', {}, t('found.officer_role'), roleSelect({ class: 'officer-role' }, n === 1 ? 'chair' : 'key_holder')),
    scanButton(keyInput),
  );
}

/** Founding a savings group's book from this phone, with the node's setup code. */
export function found() {
  const name = h('input', { type: 'text', id: 'found-name', maxlength: 100 });
  const currency = h('select', { id: 'found-currency' }, FOUNDING_CURRENCIES.map((c) => h('option', { value: c }, c)));
  const myRole = roleSelect({ id: 'found-role' }, 'treasurer');
  const officers = h('ul', { id: 'found-officers' }, officerRow(1));
  const code = h('input', { type: 'text', id: 'found-code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' });
  const note = h('p', { id: 'found-note', role: 'status' });
  const rules = bookRules();
  const submit = action(t('found.submit'), async () => {
    const others = [...officers.querySelectorAll('li.officer')]
      .map((li) => ({ key: li.querySelector('.officer-key').value.trim(), role: li.querySelector('.officer-role').value }))
      .filter((o) => o.key);
    if (!name.value.trim()) return show(note, t('found.no_name'));
    if (!others.length) return show(note, t('found.no_officers'));
    if (!code.value.trim()) return show(note, t('found.no_code'));
    const byKey = new Map([[state.me.publicText, new Set([myRole.value])]]);
    for (const o of others) byKey.set(o.key, new Set([...(byKey.get(o.key) ?? []), o.role]));
    const body = {
      currency: currency.value,
      name: name.value.trim(),
      officers: [...byKey].map(([k, roles]) => ({ key: k, roles: FOUNDING_ROLES.filter((r) => roles.has(r)) })),
      ...rules.value(),
    };
    if (body.enterprise && !/^[A-Z]{2}$/.test(body.enterprise.country)) return show(note, t('found.no_country'));
    if (body.enterprise && !body.enterprise.sector) return show(note, t('found.no_sector'));
    if (!body.officers.some((o) => o.roles.includes('treasurer'))) return show(note, t('found.no_treasurer'));
    let bytes;
    try {
      bytes = await record.sign({ body, kind: 'genesis', seq: 1, time: Date.now() }, state.me);
    } catch (e) {
      return show(note, t('found.invalid', { detail: e.message }));
    }
    show(note, t('found.working'));
    try {
      const { value } = await api.found(bytes, code.value);
      location.hash = '#/';
      await hooks.render();
      return value;
    } catch (e) {
      return show(note, h('span', { class: 'error', dataset: { code: e.code } }, e.code === 'offline' ? t('error.offline') : t(`found.refused.${FOUND_REFUSALS.includes(e.code) ? e.code : 'other'}`, { detail: e.message })));
    }
  }, { id: 'found-submit', class: 'primary' });
  show(
    root,
    back(),
    h('h1', {}, t('found.title')),
    h('p', {}, t('found.explain')),
    h('label', {}, t('found.name'), name),
    h('label', {}, t('found.currency'), currency),
    rules.fields,
    h('label', {}, t('found.my_role'), myRole),
    h('h2', {}, t('found.officers')),
    h('p', {}, t('found.officers_help')),
    officers,
    action(t('found.add_officer'), () => officers.append(officerRow(officers.children.length + 1)), { id: 'add-officer' }),
    h('label', {}, t('found.code'), code),
    h('p', {}, t('found.code_help')),
    h('p', { class: 'what-it-does' }, t('found.what_it_does')),
    submit,
    note,
  );
}

/**
 * What kind of book the founding makes, and its rules: a savings group (the stake rule for
 * sharing returns, and the signatures money going out needs) or a cooperative's enterprise book
 * (its country and sector). `value()` gives the genesis members they set.
 */
function bookRules() {
  const kind = h('select', { id: 'found-kind' }, h('option', { value: 'savings' }, t('found.kind_savings')), h('option', { value: 'enterprise' }, t('found.kind_enterprise')));
  const stake = h('select', { id: 'found-stake' }, h('option', { value: 'balance' }, t('found.stake_balance')), h('option', { value: 'contributions' }, t('found.stake_contributions')));
  const quorum = h('select', { id: 'found-quorum' }, [1, 2, 3].map((n) => h('option', { value: n, selected: n === defaultQuorum('withdrawal') }, t('found.quorum_n', { n }))));
  const country = h('select', { id: 'found-country' }, HOME_COUNTRIES.map((c) => h('option', { value: c }, t(`country.${c}`))));
  const sector = h('input', { type: 'text', id: 'found-sector', maxlength: 80 });
  const savings = h('div', {}, h('label', {}, t('found.stake'), stake), h('label', {}, t('found.quorum'), quorum));
  const enterprise = h('div', { hidden: true }, h('label', {}, t('found.country'), country), h('label', {}, t('found.sector'), sector));
  kind.addEventListener('change', () => {
    savings.hidden = kind.value !== 'savings';
    enterprise.hidden = kind.value === 'savings';
  });
  const value = () => {
    if (kind.value === 'enterprise') return { enterprise: { country: country.value, sector: sector.value.trim() }, rules: {} };
    const q = Number(quorum.value);
    const named = q === defaultQuorum('withdrawal') ? {} : { quorum: { withdrawal: q, departure: q, distribution: q, investment: q } };
    return { rules: { ...named, ...(stake.value === 'balance' ? {} : { stake: stake.value }) } };
  };
  return { fields: [h('label', {}, t('found.kind'), kind), savings, enterprise], value };
}

/** The home countries an enterprise book names. */
const HOME_COUNTRIES = ['PH', 'ID', 'BD', 'TH', 'NP', 'LK', 'VN'];

/** The currencies the protocol knows, host countries' first, as its table lists them. */
const FOUNDING_CURRENCIES = Object.keys(CURRENCIES);
/** The refusals a founding phone explains in its own words. */
const FOUND_REFUSALS = ['needs_setup_code', 'malformed_setup_code', 'unknown_setup_code', 'too_many_guesses'];

/** One officer: her roles, taking one away, and replacing her lost phone. */
function officerLine(book, o) {
  const done = h('p', { class: 'done', role: 'status' });
  const after = (error) => done.replaceChildren(error ? t('error.node', { detail: error }) : t('officers.awaiting', { n: defaultQuorum('role_grant') }));
  const fresh = keyField(`new-key-${o.key.slice(0, 8)}`, t('officers.new_key'));
  const replace = h(
    'div',
    { class: 'replace', hidden: true },
    ...fresh.field,
    h('p', { class: 'what-it-does' }, t('officers.replace_does', { roles: o.roles.map((r) => t(`role.${r}`)).join(', '), key: o.key.slice(0, 8) })),
    action(t('officers.replace_sign'), async () => {
      const key = fresh.input.value.trim();
      if (!key) return done.replaceChildren(t('officers.no_key'));
      // The new key gets her roles before the old one loses them, so the group is never short.
      const changes = [...o.roles.map((role) => ['role_grant', { key, role }]), ...o.roles.map((role) => ['role_revoke', { key: o.key, role }])];
      replace.hidden = true;
      after(await signEach(book, changes));
    }, { class: 'primary replace-sign' }),
  );
  return h(
    'li',
    { class: 'card officer-line', dataset: { key: o.key } },
    h('p', {}, h('strong', {}, o.roles.map((r) => t(`role.${r}`)).join(', ')), o.key === state.me.publicText ? ` · ${t('officers.this_phone')}` : ''),
    h('p', { class: 'key' }, `${o.key.slice(0, 8)}…`),
    o.roles.map((role) =>
      action(t('officers.revoke', { role: t(`role.${role}`) }), async () => {
        if (!confirm(t('officers.revoke_confirm', { role: t(`role.${role}`), key: o.key.slice(0, 8) }))) return;
        after(await signEach(book, [['role_revoke', { key: o.key, role }]]));
      }, { class: 'revoke', dataset: { role } }),
    ),
    o.key === state.me.publicText
      ? null
      : action(t('officers.replace'), () => {
          replace.hidden = !replace.hidden;
        }, { class: 'replace-open' }),
    replace,
    done,
  );
}

/** An officer's officers screen: who holds which role, adding one, and replacing a lost phone. */
export async function officersScreen(book) {
  let summary;
  try {
    summary = await read(`/books/${book}`);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const added = keyField('officer-new-key', t('officers.key'));
  const role = roleSelect({ id: 'officer-new-role' }, 'key_holder');
  const note = h('p', { id: 'officer-note', role: 'status' });
  show(
    root,
    back(),
    h('h1', {}, t('officers.title', { group: summary.name })),
    h('ul', { class: 'officer-lines' }, summary.officers.map((o) => officerLine(book, o))),
    h(
      'section',
      { class: 'card', id: 'add-officer-form' },
      h('h2', {}, t('officers.add_title')),
      ...added.field,
      h('label', {}, t('found.officer_role'), role),
      h('p', { class: 'what-it-does' }, t('officers.add_does', { n: defaultQuorum('role_grant') })),
      action(t('officers.add'), async () => {
        const key = added.input.value.trim();
        if (!key) return show(note, t('officers.no_key'));
        const error = await signEach(book, [['role_grant', { key, role: role.value }]]);
        show(note, error ? t('error.node', { detail: error }) : t('officers.awaiting', { n: defaultQuorum('role_grant') }));
      }, { id: 'add-officer-submit', class: 'primary' }),
      note,
    ),
  );
}

/** The invite a partner's operator accepts: this node's id and addresses, and the book. */
async function inviteCode(book) {
  const node = await api.node();
  const json = new TextEncoder().encode(JSON.stringify({ addrs: node.listen, book, peer: node.node_id }));
  return `kaban-invite:${base64url.encode(json)}`;
}

/** Sharing a book with a partner's node: the share record, and the invite for its operator. */
/** A partner of the book: its node id, and whether it is connected and in sync, in words. */
function partnerLine(p) {
  const when = p.last_synced_ms ? t('share.last_synced', { when: i18n.date(p.last_synced_ms) }) : t('share.never_synced');
  const state = p.connected ? t(p.in_sync ? 'share.in_sync' : 'share.syncing') : t('share.not_connected', { when });
  return h(
    'li',
    { class: 'card partner', dataset: { peer: p.peer, connected: p.connected, inSync: p.in_sync } },
    h('p', { class: 'key' }, p.peer),
    h('p', { class: 'partner-state' }, state),
    p.last_error ? h('p', { class: 'error' }, t('share.last_error', { error: p.last_error })) : null,
  );
}

export async function shareScreen(book) {
  let summary;
  let partners;
  try {
    [summary, { partners }] = await Promise.all([read(`/books/${book}`), read(`/books/${book}/partners`)]);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const peer = keyField('share-peer', t('share.peer'));
  const note = h('div', { id: 'share-note', role: 'status' });
  show(
    root,
    back(),
    h('h1', {}, t('share.title', { group: summary.name })),
    h('p', {}, t('share.explain')),
    h('h2', {}, t('share.partners')),
    partners.length ? h('ul', { id: 'shared-with' }, partners.map(partnerLine)) : h('p', { id: 'shared-with-none' }, t('share.none')),
    h('h2', {}, t('share.add')),
    ...peer.field,
    h('p', { class: 'what-it-does' }, t('share.does', { n: defaultQuorum('share') })),
    action(t('share.sign'), async () => {
      const id = peer.input.value.trim();
      if (!/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(id)) return show(note, t('share.bad_peer'));
      const error = await signEach(book, [['share', { peer: id }]]);
      if (error) return show(note, t('error.node', { detail: error }));
      const code = await inviteCode(book);
      show(
        note,
        h('p', {}, t('share.signed', { n: defaultQuorum('share') })),
        h('p', {}, t('share.invite_help')),
        qrCode(code, t('share.invite_qr')),
        h('label', {}, t('share.invite'), h('textarea', { id: 'invite-code', readonly: true, rows: 4 }, code)),
      );
    }, { id: 'share-submit', class: 'primary' }),
    note,
  );
}

