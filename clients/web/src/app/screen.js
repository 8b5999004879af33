// What every screen shares: the phone's key once it is open, reading from the node with the last
// answer kept for when there is no connection, signing and queueing records, and the controls
// several screens use (Back, an error, a key field with its Scan button, a role menu, a member
// search).

import * as record from '../protocol/record.js';
import * as api from './api.js';
import * as i18n from './i18n.js';
import * as outbox from './outbox.js';
import * as store from './store.js';
import { action, h } from './ui.js';

const { t } = i18n;
export const root = document.getElementById('app');
/** The phone's key, once made or restored; the screen the outbox refreshes in place, if any. */
export const state = { me: null, refreshScreen: null };
/** Draws the screen the address names; main.js sets it. */
export const hooks = { render: async () => {} };

// ---------------------------------------------------------------------------------------------
// Reading from the node, with the last answer kept for when there is no connection.

export async function read(path) {
  try {
    const value = await api.read(state.me, path);
    await store.put(`cache:${path}`, value);
    return value;
  } catch (e) {
    if (e.code !== 'offline') throw e;
    const cached = await store.get(`cache:${path}`);
    if (cached === undefined) throw e;
    return cached;
  }
}

/**
 * Where the phone's next record in `book` stands (SPEC section 5): the node's answer when it can
 * be reached (kept for when it cannot), numbered after the phone's own records the node has not
 * taken yet, so records signed offline follow one another.
 */
export async function placeFor(book, { wait = true } = {}) {
  let place = wait ? undefined : await store.get(`place:${book}`);
  if (place !== undefined) {
    // Signed at once at the last place known, as offline; the next record learns the new one.
    api
      .place(state.me, book, state.me.publicText)
      .then((p) => store.put(`place:${book}`, p))
      .catch(() => {});
  } else {
    try {
      place = await api.place(state.me, book, state.me.publicText);
      await store.put(`place:${book}`, place);
    } catch (e) {
      if (e.code !== 'offline') throw e;
      place = await store.get(`place:${book}`);
      if (place === undefined) throw e;
    }
  }
  // A record's change depends on its signer's previous record (SPEC section 5), so a record
  // signed offline follows the phone's last one by its seq alone.
  const last = await store.get(`chain:${book}`);
  const seq = last === undefined || last.seq < place.seq ? place.seq : last.seq + 1;
  return { seq, after: place.after };
}

/**
 * Signs a record and queues it for the node. Most records wait for the node's place, so that
 * what they name (an approval's target) is in their causal past; a contribution at a meeting
 * follows the phone's own meeting record and is signed at once (`wait: false`).
 */
export function signAndQueue(book, kind, body, meta = {}, options = {}) {
  // One at a time: two records signed at once (two taps, or a tap and a screen change) would
  // both take the same place in the signer's chain, and the node refuses the second.
  const next = signing.then(() => signNow(book, kind, body, meta, options));
  signing = next.catch(() => {});
  return next;
}
let signing = Promise.resolve();

async function signNow(book, kind, body, meta, { wait = true }) {
  const { seq, after } = await placeFor(book, { wait });
  const bytes = await record.sign({ after, kind, book, seq, time: Date.now(), body }, state.me);
  const { id } = await record.decode(bytes);
  await store.put(`chain:${book}`, { seq, id });
  await outbox.add({ id, book, bytes, kind, ...meta });
  return id;
}

/** The way back to the home screen, at the top of every other screen. */
export function back() {
  return h('a', { class: 'button back', href: '#/', 'data-testid': 'back' }, `← ${t('common.back')}`);
}

export function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, e.code === 'offline' ? t('error.offline') : t('error.node', { detail: e.message }));
}

/** The roles a founding officer may hold. */
export const FOUNDING_ROLES = ['treasurer', 'chair', 'secretary', 'key_holder'];

export function roleSelect(attrs, chosen) {
  return h('select', attrs, FOUNDING_ROLES.map((r) => h('option', { value: r, selected: r === chosen }, t(`role.${r}`))));
}

/** Groups this large get a search box over their member list. */
export const SEARCH_FROM = 30;

/** A search box that shows only the rows whose alias or member id holds what is typed. */
export function memberSearch(rows) {
  const box = h('input', { type: 'search', id: 'member-search', 'aria-label': t('meeting.search'), placeholder: t('meeting.search') });
  box.addEventListener('input', () => {
    const q = box.value.trim().toLocaleLowerCase();
    for (const row of rows) {
      const text = `${row.querySelector('.alias').textContent} ${row.dataset.member}`.toLocaleLowerCase();
      row.hidden = Boolean(q) && !text.includes(q);
    }
  });
  return h('label', { class: 'search' }, t('meeting.search'), box);
}

/** Signs records one after another and sends them; what the node refused, if anything. */
export async function signEach(book, records) {
  const ids = [];
  for (const [kind, body] of records) {
    // What the record is about, so that a screen can tell it is signed and on its way.
    const target = body.key ?? body.record ?? body.peer ?? body.return ?? body.member ?? body.enterprise;
    ids.push(await signAndQueue(book, kind, body, { target }));
  }
  await outbox.flush();
  return refusalOf(ids);
}

/** Why the node refused one of the records `ids`, or null. */
export async function refusalOf(ids) {
  return (await outbox.all()).find((e) => ids.includes(e.id) && e.state === 'refused')?.error ?? null;
}

/** A key field with its Scan button. */
export function keyField(id, label) {
  const input = h('input', { type: 'text', id, autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' });
  return { input, field: [h('label', {}, label, input), scanButton(input)] };
}

/** A Scan button for `input`; the camera's decoder is loaded the first time one is tapped. */
export function scanButton(input) {
  const slot = h('div', {});
  const load = action(t('scan.button'), async () => {
    const scan = await import('./scan.js');
    const real = scan.scanButton(input);
    slot.replaceChildren(real);
    real.querySelector('button').click();
  }, { class: 'scan-button' });
  slot.append(load);
  return slot;
}

/**
 * A QR code of `text`, drawn once the encoder (a chunk of its own) has loaded: a first open
 * fetches only what the key screen needs, and the QR code follows a moment later.
 */
export function qrCode(text, label) {
  const slot = h('div', { class: 'qr-slot' });
  import('./qr.js').then((qr) => slot.replaceChildren(qr.svg(text, label)));
  return slot;
}

/** A labelled text input, and the input itself. */
export function field(label, attrs = {}) {
  const input = h('input', { type: 'text', autocomplete: 'off', ...attrs });
  return { input, label: h('label', {}, label, input) };
}

/** An amount typed in `currency` as money, or null with `note` saying what is wrong (after `name`, if given). */
export function amountOf(input, currency, note, name) {
  const parsed = i18n.parseAmount(input.value, currency);
  if (!parsed.error) return { currency, minor: parsed.minor };
  const why = i18n.amountError(parsed.error, currency);
  note.replaceChildren(name ? `${name}: ${why}` : why);
  return null;
}

/** Signs one record, sends it, and says in `note` what became of it: refused and why, or `awaiting`. */
export async function signAndSay(book, kind, body, note, awaiting) {
  let error;
  try {
    error = await signEach(book, [[kind, body]]);
  } catch (e) {
    error = e.message;
  }
  note.replaceChildren(error ? t('error.node', { detail: error }) : awaiting);
  return !error;
}
