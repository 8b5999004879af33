// Kaban on a phone: pairing, meeting mode, approvals, a member's own book, the cooperative's
// view, and offline receipt checks. Plain DOM, no framework; every word from the translations.

import * as base64url from '../protocol/base64url.js';
import * as record from '../protocol/record.js';
import * as api from './api.js';
import * as i18n from './i18n.js';
import * as identity from './identity.js';
import * as outbox from './outbox.js';
import * as qr from './qr.js';
import * as receipt from './receipt.js';
import * as store from './store.js';
import { action, h, show } from './ui.js';

const { t } = i18n;
const root = document.getElementById('app');
let me = null;
/** Updates the screen in place when the outbox changes, where a screen wants that. */
let refreshScreen = null;

// ---------------------------------------------------------------------------------------------
// Reading from the node, with the last answer kept for when there is no connection.

async function read(path) {
  try {
    const value = await api.read(me, path);
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
async function placeFor(book, { wait = true } = {}) {
  let place = wait ? undefined : await store.get(`place:${book}`);
  if (place !== undefined) {
    // Signed at once at the last place known, as offline; the next record learns the new one.
    api
      .place(me, book, me.publicText)
      .then((p) => store.put(`place:${book}`, p))
      .catch(() => {});
  } else {
    try {
      place = await api.place(me, book, me.publicText);
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
async function signAndQueue(book, kind, body, meta = {}, { wait = true } = {}) {
  const { seq, after } = await placeFor(book, { wait });
  const bytes = await record.sign({ after, kind, book, seq, time: Date.now(), body }, me);
  const { id } = await record.decode(bytes);
  await store.put(`chain:${book}`, { seq, id });
  await outbox.add({ id, book, bytes, kind, ...meta });
  return id;
}

/** The way back to the home screen, at the top of every other screen. */
function back() {
  return h('a', { class: 'button back', href: '#/', 'data-testid': 'back' }, `← ${t('common.back')}`);
}

function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, e.code === 'offline' ? t('error.offline') : t('error.node', { detail: e.message }));
}

// ---------------------------------------------------------------------------------------------
// Frame: header with language choice, and the outbox status.

/** Records the status line leaves out of its counts: they record no entry of their own. */
const NOT_COUNTED = new Set(['meeting', 'approval']);

async function statusLine() {
  // What the person recorded: money and decisions, not the meeting's opening or her approvals.
  const everything = await outbox.all();
  const all = everything.filter((e) => !NOT_COUNTED.has(e.kind));
  const pending = all.filter((e) => e.state === 'pending').length;
  const confirmed = all.filter((e) => e.state === 'confirmed').length;
  // A refusal is always worth knowing, whatever the record was.
  const refused = everything.filter((e) => e.state === 'refused').length;
  const line = document.getElementById('status');
  line.replaceChildren(
    h('span', { class: navigator.onLine ? 'online' : 'offline' }, navigator.onLine ? t('status.online') : t('status.offline')),
    ' · ',
    h('span', { 'data-testid': 'pending-count' }, t('status.pending', { n: pending })),
    ' · ',
    h('span', { 'data-testid': 'confirmed-count' }, t('status.confirmed', { n: confirmed })),
    ...(refused ? [h('span', { class: 'error' }, ` · ${t('status.refused', { n: refused })}`)] : []),
  );
}

function header() {
  const select = h(
    'select',
    { id: 'language', 'aria-label': t('language.choose') },
    Object.keys(i18n.LANGUAGES).map((code) => h('option', { value: code, selected: code === i18n.current() }, t(`language.${code}`))),
  );
  select.addEventListener('change', async () => {
    await i18n.load(select.value);
    await store.put('language', select.value);
    render();
  });
  document.getElementById('top').replaceChildren(h('a', { href: '#/', class: 'brand' }, t('app.title')), select);
  statusLine();
}

// ---------------------------------------------------------------------------------------------
// Screens.

function setup() {
  const pass = h('input', { type: 'password', id: 'passphrase', autocomplete: 'new-password', minlength: identity.MIN_PASSPHRASE });
  const again = h('input', { type: 'password', id: 'passphrase-again', autocomplete: 'new-password' });
  const message = h('p', { role: 'status' });
  const create = action(t('setup.create'), async () => {
    if (pass.value.length < identity.MIN_PASSPHRASE) return message.replaceChildren(t('setup.too_short', { n: identity.MIN_PASSPHRASE }));
    if (pass.value !== again.value) return message.replaceChildren(t('setup.mismatch'));
    message.replaceChildren(t('setup.working'));
    me = await identity.create(pass.value);
    location.hash = '#/';
    render();
  }, { id: 'create-key', class: 'primary' });
  const backupText = h('textarea', { id: 'backup-text', rows: 3 });
  const backupFile = h('input', { type: 'file', id: 'backup-file', accept: '.txt,text/plain' });
  backupFile.addEventListener('change', async () => {
    backupText.value = (await backupFile.files[0]?.text()) ?? '';
  });
  const restorePass = h('input', { type: 'password', id: 'restore-passphrase', autocomplete: 'current-password' });
  const restore = action(t('setup.restore'), async () => {
    try {
      me = await identity.restore(backupText.value, restorePass.value);
      location.hash = '#/';
      render();
    } catch (e) {
      message.replaceChildren(t(e.message === 'backup_passphrase' ? 'setup.wrong_passphrase' : 'setup.bad_backup'));
    }
  }, { id: 'restore-key' });
  show(
    root,
    h('h1', {}, t('setup.title')),
    h('p', {}, t('setup.explain')),
    h('label', {}, t('setup.passphrase'), pass),
    h('label', {}, t('setup.passphrase_again'), again),
    create,
    message,
    h('h2', {}, t('setup.restore_title')),
    h('label', {}, t('setup.backup_text'), backupText),
    h('label', {}, t('setup.backup_file'), backupFile),
    h('label', {}, t('setup.passphrase'), restorePass),
    restore,
  );
}

/** The phone's key, as text and QR code, for an officer to add it to a book. */
function keyCard() {
  return [
    h('p', {}, t('home.your_key')),
    h('p', { class: 'key', id: 'public-key' }, me.publicText),
    qr.svg(me.publicText, t('home.key_qr')),
    h('p', {}, t('home.pair_help')),
    h('a', { class: 'button', href: '#/key' }, t('home.backup_link')),
  ];
}

async function home() {
  const books = h('div', { id: 'books' }, h('p', {}, t('common.loading')));
  // Until the phone holds a role or membership, its key is what the person needs: it leads.
  // Afterwards the books lead, and the key waits behind a link.
  const key = h('div', { id: 'key-card' }, ...keyCard());
  show(root, h('h1', {}, t('home.title')), key, h('h2', {}, t('home.books')), books);
  const list = async (known) => {
    let value = known;
    if (value === undefined) {
      try {
        value = await read('/books');
      } catch (e) {
        // The node opens sessions only for keys in one of its books: until an officer adds this
        // one, there is nothing to read yet, and the phone keeps asking.
        if (e.code !== 'unknown_key') return show(books, errorBox(e));
        value = { books: [] };
      }
    }
    if (!value.books.length) {
      show(key, ...keyCard());
      return show(
        books,
        h('p', { id: 'no-books' }, t('home.no_books')),
        h('p', {}, t('home.found_help')),
        h('a', { class: 'button', href: '#/found', id: 'start-group' }, t('home.found')),
      );
    }
    show(key);
    show(
      books,
      value.books.map((b) =>
        h(
          'section',
          { class: 'card', dataset: { book: b.book } },
          h('h3', {}, b.name),
          h('p', { class: 'role' }, b.member ? t('home.role_member') : t('home.role_officer', { roles: (b.roles ?? []).map((r) => t(`role.${r}`)).join(', ') })),
          h(
            'nav',
            { class: 'actions' },
            b.member ? h('a', { class: 'button', href: `#/member/${b.book}/${b.member}` }, t('home.my_book')) : null,
            !b.member && !b.enterprise && b.roles.some((r) => ['treasurer', 'chair', 'secretary'].includes(r))
              ? h('a', { class: 'button primary', href: `#/meeting/${b.book}` }, t('home.meeting'))
              : null,
            !b.member && !b.enterprise ? h('a', { class: 'button', href: `#/members/${b.book}` }, t('home.members')) : null,
            !b.member && !b.enterprise ? h('a', { class: 'button', href: `#/portfolio/${b.book}` }, t('home.portfolio')) : null,
            !b.member ? h('a', { class: 'button', href: `#/officers/${b.book}` }, t('home.officers')) : null,
            !b.member ? h('a', { class: 'button', href: `#/share/${b.book}` }, t('home.share')) : null,
            !b.member ? h('a', { class: 'button', href: `#/approvals/${b.book}` }, t('home.approvals')) : null,
            !b.member && b.enterprise ? h('a', { class: 'button', href: `#/coop/${b.book}` }, t('home.coop')) : null,
          ),
        ),
      ),
      h('a', { class: 'button', href: '#/mykey', id: 'show-key' }, t('home.show_key')),
    );
  };
  // A returning officer sees her books at once, as last read, while the node is asked afresh.
  const cached = await store.get('cache:/books');
  if (cached?.books?.length) await list(cached);
  await list();
  // Until an officer adds this key, look again every few seconds.
  const timer = setInterval(() => {
    if (!document.getElementById('no-books')) return clearInterval(timer);
    list();
  }, 3000);
}

function myKey() {
  show(root, back(), h('h1', {}, t('home.my_key')), ...keyCard());
}

/** The roles a founding officer may hold. */
const FOUNDING_ROLES = ['treasurer', 'chair', 'secretary', 'key_holder'];

function roleSelect(attrs, chosen) {
  return h('select', attrs, FOUNDING_ROLES.map((r) => h('option', { value: r, selected: r === chosen }, t(`role.${r}`))));
}

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
function found() {
  const name = h('input', { type: 'text', id: 'found-name', maxlength: 100 });
  const currency = h('select', { id: 'found-currency' }, FOUNDING_CURRENCIES.map((c) => h('option', { value: c }, c)));
  const myRole = roleSelect({ id: 'found-role' }, 'treasurer');
  const officers = h('ul', { id: 'found-officers' }, officerRow(1));
  const code = h('input', { type: 'text', id: 'found-code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' });
  const note = h('p', { id: 'found-note', role: 'status' });
  const submit = action(t('found.submit'), async () => {
    const others = [...officers.querySelectorAll('li.officer')]
      .map((li) => ({ key: li.querySelector('.officer-key').value.trim(), role: li.querySelector('.officer-role').value }))
      .filter((o) => o.key);
    if (!name.value.trim()) return show(note, t('found.no_name'));
    if (!others.length) return show(note, t('found.no_officers'));
    if (!code.value.trim()) return show(note, t('found.no_code'));
    const byKey = new Map([[me.publicText, new Set([myRole.value])]]);
    for (const o of others) byKey.set(o.key, new Set([...(byKey.get(o.key) ?? []), o.role]));
    const body = {
      currency: currency.value,
      name: name.value.trim(),
      officers: [...byKey].map(([k, roles]) => ({ key: k, roles: FOUNDING_ROLES.filter((r) => roles.has(r)) })),
      rules: {},
    };
    if (!body.officers.some((o) => o.roles.includes('treasurer'))) return show(note, t('found.no_treasurer'));
    let bytes;
    try {
      bytes = await record.sign({ body, kind: 'genesis', seq: 1, time: Date.now() }, me);
    } catch (e) {
      return show(note, t('found.invalid', { detail: e.message }));
    }
    show(note, t('found.working'));
    try {
      const { value } = await api.found(bytes, code.value);
      location.hash = '#/';
      await render();
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

/** Host countries' currencies first, then home countries'. */
const FOUNDING_CURRENCIES = ['HKD', 'TWD', 'KRW', 'SGD', 'MOP', 'MYR', 'JPY', 'PHP', 'IDR', 'BDT', 'THB'];
/** The refusals a founding phone explains in its own words. */
const FOUND_REFUSALS = ['needs_setup_code', 'malformed_setup_code', 'unknown_setup_code', 'too_many_guesses'];

function keyBackup() {
  const download = action(t('backup.download'), async () => {
    const blob = new Blob([`${me.backup}\n`], { type: 'text/plain' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `kaban-key-${me.publicText.slice(0, 8)}.txt` });
    a.click();
    URL.revokeObjectURL(a.href);
  }, { id: 'download-backup' });
  show(
    root,
    back(),
    h('h1', {}, t('backup.title')),
    h('p', {}, t('backup.explain')),
    qr.svg(me.backup, t('backup.qr')),
    h('label', {}, t('backup.text'), h('textarea', { id: 'backup-out', readonly: true, rows: 4 }, me.backup)),
    download,
  );
}

async function meeting(book) {
  let summary;
  let roster;
  try {
    [summary, roster] = await Promise.all([read(`/books/${book}`), read(`/books/${book}/roster`)]);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const currency = summary.currency;
  const open = await store.get(`meeting:${book}`);
  if (!open) {
    const date = h('input', { type: 'date', id: 'meeting-date', value: i18n.today() });
    const place = h('input', { type: 'text', id: 'meeting-place' });
    return show(
      root,
      back(),
      h('h1', {}, t('meeting.title', { group: summary.name })),
      h('label', {}, t('meeting.date'), date),
      h('label', {}, t('meeting.place'), place),
      action(t('meeting.open'), async () => {
        const body = { date: date.value };
        if (place.value.trim()) body.place = place.value.trim();
        const id = await signAndQueue(book, 'meeting', body);
        await store.put(`meeting:${book}`, { id, date: date.value });
        render();
      }, { id: 'open-meeting', class: 'primary' }),
    );
  }
  const mine = (all, id) => all.filter((e) => e.kind === 'contribution' && e.meeting === open.id && (!id || e.member === id));
  const lists = new Map();
  const totalLine = h('p', { id: 'meeting-total' });
  // Rows are drawn once; as records are confirmed only their entries change, so a person typing
  // the next amount is never interrupted.
  const refresh = async () => {
    const all = await outbox.all();
    for (const [id, list] of lists) {
      list.replaceChildren(
        ...mine(all, id).map((e) =>
          h('li', { class: `entry ${e.state}`, dataset: { state: e.state } }, `${i18n.money({ currency, minor: e.minor })} · ${t(`state.${e.state}`)}`, e.error ? ` · ${e.error}` : ''),
        ),
      );
    }
    const counted = mine(all).filter((e) => e.state !== 'refused');
    totalLine.replaceChildren(t('meeting.so_far', { n: counted.length, total: i18n.money({ currency, minor: counted.reduce((n, e) => n + e.minor, 0) }) }));
    return counted;
  };
  const members = [...roster.members].sort((x, y) => x.alias.localeCompare(y.alias, i18n.current()) || x.member.localeCompare(y.member));
  const rows = members.map((m) => {
    const amount = h('input', { type: 'text', inputmode: 'decimal', 'aria-label': t('meeting.amount_for', { alias: m.alias }), class: 'amount' });
    const note = h('p', { class: 'field-error', role: 'alert' });
    const list = h('ul', { class: 'entries' });
    lists.set(m.member, list);
    return h(
      'li',
      { class: 'member', dataset: { member: m.member } },
      h('span', { class: 'alias' }, m.alias),
      h('span', { class: 'member-id' }, m.member),
      amount,
      action(t('meeting.record'), async () => {
        const parsed = i18n.parseAmount(amount.value, currency);
        if (parsed.error === 'empty' && mine(await outbox.all(), m.member).length) {
          // A second tap after a record went in lands on the emptied field: nothing to say.
          return note.replaceChildren();
        }
        if (parsed.error) return note.replaceChildren(i18n.amountError(parsed.error, currency));
        const { minor } = parsed;
        note.replaceChildren();
        amount.value = '';
        await signAndQueue(book, 'contribution', { amount: { currency, minor }, meeting: open.id, member: m.member }, { member: m.member, minor, currency, meeting: open.id }, { wait: false });
        await refresh();
      }, { class: 'record' }),
      note,
      list,
    );
  });
  refreshScreen = refresh;
  await refresh();
  show(
    root,
    back(),
    h('h1', {}, t('meeting.title', { group: summary.name })),
    h('p', {}, t('meeting.open_since', { date: open.date })),
    members.length >= SEARCH_FROM ? memberSearch(rows) : null,
    h('ul', { class: 'members' }, rows),
    totalLine,
    action(t('meeting.close'), async () => {
      await store.remove(`meeting:${book}`);
      refreshScreen = null;
      const entries = await refresh();
      const total = entries.reduce((n, e) => n + e.minor, 0);
      const pending = entries.filter((e) => e.state === 'pending').length;
      show(
        root,
        h('h1', {}, t('meeting.closed')),
        h('p', { id: 'closing-totals' }, t('meeting.totals', { n: entries.length, total: i18n.money({ currency, minor: total }) })),
        pending ? h('p', {}, t('meeting.still_pending', { n: pending })) : null,
        h('a', { class: 'button', href: '#/' }, t('common.back')),
      );
    }, { id: 'close-meeting' }),
  );
}

/** Groups this large get a search box over their member list. */
const SEARCH_FROM = 30;

/** A search box that shows only the rows whose alias or member id holds what is typed. */
function memberSearch(rows) {
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
      await api.write(me, 'PUT', `/books/${book}/members/${member}/personal`, details);
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
      await render();
    }, { id: 'add-member-submit', class: 'primary' }),
    note,
  );
}

/** One member's line: her balance, a withdrawal, and the erasure of her personal details. */
function memberRow(book, m, balance, currency) {
  const amount = h('input', { type: 'text', inputmode: 'decimal', class: 'amount', 'aria-label': t('members.withdraw_amount', { alias: m.alias }) });
  const reason = h('input', { type: 'text', class: 'reason', maxlength: 200, 'aria-label': t('members.withdraw_reason') });
  const note = h('p', { class: 'field-error', role: 'alert' });
  const done = h('p', { class: 'done', role: 'status' });
  const entries = h('ul', { class: 'statement' });
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
      await signAndQueue(book, 'withdrawal', { amount: { currency, minor: parsed.minor }, member: m.member, reason: reason.value.trim() }, { member: m.member, minor: parsed.minor });
      await outbox.flush();
      const entry = (await outbox.all()).at(-1);
      if (entry?.state === 'refused') return note.replaceChildren(t('error.node', { detail: entry.error }));
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
        const r = await api.write(me, 'GET', `/books/${book}/members/${m.member}/personal`);
        const p = r.personal;
        done.replaceChildren(p ? [p.full_name, p.phone, p.notes].filter(Boolean).join(' · ') || t('members.no_details') : t('members.no_details'));
      } catch (e) {
        done.replaceChildren(errorBox(e));
      }
    }, { class: 'details' }),
    action(t('members.erase'), async () => {
      if (!confirm(t('members.erase_confirm', { alias: m.alias }))) return;
      try {
        const r = await api.write(me, 'DELETE', `/books/${book}/members/${m.member}/personal`);
        done.replaceChildren(r.erased ? t('members.erased', { alias: m.alias }) : t('members.nothing_to_erase', { alias: m.alias }));
      } catch (e) {
        done.replaceChildren(errorBox(e));
      }
    }, { class: 'erase' }),
    form,
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
      const error = await signRoleChanges(book, [['reversal', { reason: reason.value.trim(), record: e.record }]]);
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
async function members(book) {
  let summary;
  let roster;
  let balances;
  try {
    await sendPersonal(book);
    [summary, roster, balances] = await Promise.all([read(`/books/${book}`), read(`/books/${book}/roster`), read(`/books/${book}/balances`)]);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const sorted = [...roster.members].sort((x, y) => x.alias.localeCompare(y.alias, i18n.current()) || x.member.localeCompare(y.member));
  const rows = sorted.map((m) => memberRow(book, m, balances.members[m.member]?.[0], summary.currency));
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

/** Signs role changes one after another; what the node refused, if anything. */
async function signRoleChanges(book, changes) {
  for (const [kind, body] of changes) await signAndQueue(book, kind, body, { target: body.key });
  await outbox.flush();
  const refused = (await outbox.all()).slice(-changes.length).find((e) => e.state === 'refused');
  return refused?.error ?? null;
}

/** A key field with its Scan button. */
function keyField(id, label) {
  const input = h('input', { type: 'text', id, autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' });
  return { input, field: [h('label', {}, label, input), scanButton(input)] };
}

/** One officer: her roles, taking one away, and replacing her lost phone. */
function officerLine(book, o, summary) {
  const done = h('p', { class: 'done', role: 'status' });
  const after = (error) => done.replaceChildren(error ? t('error.node', { detail: error }) : t('officers.awaiting', { n: quorumOf(summary, 'role_grant') }));
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
      after(await signRoleChanges(book, changes));
    }, { class: 'primary replace-sign' }),
  );
  return h(
    'li',
    { class: 'card officer-line', dataset: { key: o.key } },
    h('p', {}, h('strong', {}, o.roles.map((r) => t(`role.${r}`)).join(', ')), o.key === me.publicText ? ` · ${t('officers.this_phone')}` : ''),
    h('p', { class: 'key' }, `${o.key.slice(0, 8)}…`),
    o.roles.map((role) =>
      action(t('officers.revoke', { role: t(`role.${role}`) }), async () => {
        if (!confirm(t('officers.revoke_confirm', { role: t(`role.${role}`), key: o.key.slice(0, 8) }))) return;
        after(await signRoleChanges(book, [['role_revoke', { key: o.key, role }]]));
      }, { class: 'revoke', dataset: { role } }),
    ),
    o.key === me.publicText
      ? null
      : action(t('officers.replace'), () => {
          replace.hidden = !replace.hidden;
        }, { class: 'replace-open' }),
    replace,
    done,
  );
}

/** How many officers' signatures a kind needs in this book. */
function quorumOf(summary, kind) {
  return summary.rules?.quorum?.[kind] ?? 2;
}

/** An officer's officers screen: who holds which role, adding one, and replacing a lost phone. */
async function officersScreen(book) {
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
    h('ul', { class: 'officer-lines' }, summary.officers.map((o) => officerLine(book, o, summary))),
    h(
      'section',
      { class: 'card', id: 'add-officer-form' },
      h('h2', {}, t('officers.add_title')),
      ...added.field,
      h('label', {}, t('found.officer_role'), role),
      h('p', { class: 'what-it-does' }, t('officers.add_does', { n: quorumOf(summary, 'role_grant') })),
      action(t('officers.add'), async () => {
        const key = added.input.value.trim();
        if (!key) return show(note, t('officers.no_key'));
        const error = await signRoleChanges(book, [['role_grant', { key, role: role.value }]]);
        show(note, error ? t('error.node', { detail: error }) : t('officers.awaiting', { n: quorumOf(summary, 'role_grant') }));
      }, { id: 'add-officer-submit', class: 'primary' }),
      note,
    ),
  );
}

/** A Scan button for `input`; the camera's decoder is loaded the first time one is tapped. */
function scanButton(input) {
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

/** The invite a partner's operator accepts: this node's id and addresses, and the book. */
async function inviteCode(book) {
  const node = await api.node();
  const json = new TextEncoder().encode(JSON.stringify({ addrs: node.listen, book, peer: node.node_id }));
  return `kaban-invite:${base64url.encode(json)}`;
}

/** Sharing a book with a partner's node: the share record, and the invite for its operator. */
async function shareScreen(book) {
  let summary;
  try {
    summary = await read(`/books/${book}`);
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
    summary.shared_with.length
      ? h('ul', { id: 'shared-with' }, summary.shared_with.map((p) => h('li', { class: 'key' }, p)))
      : h('p', { id: 'shared-with-none' }, t('share.none')),
    h('h2', {}, t('share.add')),
    ...peer.field,
    h('p', { class: 'what-it-does' }, t('share.does', { n: quorumOf(summary, 'share') })),
    action(t('share.sign'), async () => {
      const id = peer.input.value.trim();
      if (!/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(id)) return show(note, t('share.bad_peer'));
      const error = await signRoleChanges(book, [['share', { peer: id }]]);
      if (error) return show(note, t('error.node', { detail: error }));
      const code = await inviteCode(book);
      show(
        note,
        h('p', {}, t('share.signed', { n: quorumOf(summary, 'share') })),
        h('p', {}, t('share.invite_help')),
        qr.svg(code, t('share.invite_qr')),
        h('label', {}, t('share.invite'), h('textarea', { id: 'invite-code', readonly: true, rows: 4 }, code)),
      );
    }, { id: 'share-submit', class: 'primary' }),
    note,
  );
}

/** The group's portfolio: money in the box, out in enterprises, and back, in words. */
async function portfolioScreen(book) {
  let p;
  try {
    p = await read(`/books/${book}/portfolio`);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const figure = (label, money, id) => [h('dt', {}, t(label)), h('dd', id ? { id } : {}, i18n.money(money))];
  show(
    root,
    back(),
    h('h1', {}, t('portfolio.title', { group: p.name })),
    h('p', {}, t('portfolio.explain')),
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
    p.holdings.length
      ? h(
          'ul',
          { class: 'holdings' },
          p.holdings.map((x) =>
            h(
              'li',
              { class: 'card holding', dataset: { enterprise: x.enterprise } },
              h('h3', {}, x.name),
              h('p', {}, `${x.country} · ${x.sector}`),
              h('p', { class: 'holding-line' }, t('portfolio.holding', { invested: i18n.money(x.invested), in_transit: i18n.money(x.in_transit), back: i18n.money(x.received_back), outstanding: i18n.money(x.outstanding) })),
            ),
          ),
        )
      : h('p', {}, t('portfolio.none')),
    p.unaccepted.length
      ? [
          h('h2', {}, t('portfolio.unaccepted_title')),
          h('ul', {}, p.unaccepted.map((u) => h('li', { class: 'card unaccepted', dataset: { enterprise: u.enterprise } }, h('h3', {}, u.name), h('p', {}, t('portfolio.unaccepted', { reason: u.reason }))))),
        ]
      : null,
    p.anomalies.length ? [h('h2', {}, t('portfolio.anomalies')), h('ul', {}, p.anomalies.map((a) => h('li', { class: 'error' }, a.detail)))] : null,
  );
}

/** A record awaiting signatures, in plain words. */
function describe(r, members) {
  const alias = (id) => members.find((m) => m.member === id)?.alias ?? id;
  const b = r.body;
  switch (r.kind) {
    case 'withdrawal':
      return t('approve.withdrawal', { amount: i18n.money(b.amount), member: alias(b.member), reason: b.reason });
    case 'role_grant':
      return t('approve.role_grant', { key: b.key.slice(0, 8), role: t(`role.${b.role}`) });
    case 'role_revoke':
      return t('approve.role_revoke', { key: b.key.slice(0, 8), role: t(`role.${b.role}`) });
    case 'transfer':
      return t('approve.transfer', { amount: i18n.money(b.amount), fee: i18n.money(b.fee), expected: i18n.money(b.expected), channel: b.channel });
    case 'reversal':
      return t('approve.reversal', { reason: b.reason });
    case 'distribution':
      return t('approve.distribution', { amount: i18n.money(b.amount) });
    case 'departure':
      return t(b.settlement === 'payout' ? 'approve.payout' : 'approve.conversion', { member: alias(b.member), amount: i18n.money(b.amount) });
    case 'share':
      return t('approve.share', { peer: b.peer.slice(0, 12) });
    default:
      return t('approve.other', { kind: r.kind });
  }
}

async function approvals(book) {
  let pending;
  let roster;
  try {
    [pending, roster] = await Promise.all([read(`/books/${book}/pending`), read(`/books/${book}/roster`)]);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const queued = new Set((await outbox.all()).filter((e) => e.kind === 'approval' && e.state !== 'refused').map((e) => e.target));
  const items = [];
  for (const p of pending.pending) {
    const r = await read(`/books/${book}/records/${p.record}`);
    const signed = p.signed_by.includes(me.publicText) || queued.has(p.record);
    items.push(
      h(
        'li',
        { class: 'card approval', dataset: { record: p.record, kind: p.kind } },
        h('p', { class: 'what' }, describe(r, roster.members)),
        h('p', { class: 'signatures' }, t('approve.signatures', { have: p.signed_by.length, need: p.need })),
        signed
          ? h('p', { class: 'done' }, t('approve.signed'))
          : action(t('approve.button'), async () => {
              await signAndQueue(book, 'approval', { record: p.record }, { target: p.record });
              await outbox.flush();
              render();
            }, { class: 'primary approve' }),
      ),
    );
  }
  show(root, back(), h('h1', {}, t('approve.title')), items.length ? h('ul', { class: 'approvals' }, items) : h('p', { id: 'inbox-empty' }, t('approve.empty')));
}

async function member(book, memberId) {
  let s;
  try {
    s = await read(`/books/${book}/members/${memberId}/statement`);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const p = s.position;
  const receiptBox = h('div', { id: 'receipt' });
  show(
    root,
    back(),
    h('h1', {}, t('member.title', { alias: s.alias })),
    h('p', {}, s.group),
    h(
      'dl',
      { class: 'figures' },
      h('dt', {}, t('member.balance')),
      h('dd', { id: 'balance' }, i18n.money(p.balance)),
      h('dt', {}, t('member.stake')),
      h('dd', {}, t('member.stake_of', { stake: i18n.money(p.stake), total: i18n.money(p.group_stake) })),
      h('dt', {}, t('member.returns')),
      h('dd', {}, i18n.money(p.returns_received)),
      p.enterprises.map((e) => [h('dt', {}, t('member.share_of', { name: e.name })), h('dd', {}, i18n.money(e.share))]),
      h('dt', {}, t('member.group_totals')),
      h('dd', { id: 'group-totals' }, (s.group_totals ?? []).map((m) => i18n.money(m)).join(', ')),
    ),
    h('h2', {}, t('member.entries')),
    h(
      'ul',
      { class: 'statement' },
      s.entries.map((e) =>
        h(
          'li',
          { class: 'entry', dataset: { record: e.record } },
          `${i18n.date(e.time_ms)} · ${t(`kind.${e.kind}`)} · ${i18n.money(e.amount)} · ${t(`status.${e.status.state}`)}`,
          e.kind === 'contribution'
            ? action(t('member.receipt'), async () => {
                try {
                  const r = await read(`/books/${book}/members/${memberId}/receipts/${e.record}`);
                  const url = await receipt.link(r.record, r.genesis, r.proof);
                  show(receiptBox, h('h2', {}, t('member.receipt_title')), qr.svg(url, t('member.receipt_qr')), h('a', { class: 'button', href: url, id: 'receipt-link' }, t('member.receipt_open')));
                } catch (err) {
                  show(receiptBox, errorBox(err));
                }
              }, { class: 'receipt-button' })
            : null,
        ),
      ),
    ),
    receiptBox,
  );
}

async function checkReceipt(payload) {
  const result = await receipt.check(payload);
  const r = result.record;
  const facts = r
    ? h('p', {}, t('receipt.facts', { amount: i18n.money(r.body.amount), member: r.body.member, date: i18n.date(r.time) }))
    : null;
  show(
    root,
    back(),
    h('h1', {}, t('receipt.title')),
    result.valid
      ? h(
          'div',
          { id: 'verdict', class: 'valid', dataset: { valid: 'true' } },
          h('p', {}, t('receipt.valid', { role: result.roles.map((x) => t(`role.${x}`)).join(', '), group: result.groupName })),
          result.roles.map((x) => h('p', { class: 'role-words' }, t(`receipt.role.${x}`, { group: result.groupName }))),
          h('p', { class: 'key' }, t('receipt.key', { key: r.signer.slice(0, 8) })),
        )
      : h('p', { id: 'verdict', class: 'invalid', dataset: { valid: 'false', reason: result.reason } }, t(`receipt.invalid.${result.reason}`, { group: result.groupName ?? '' })),
    facts,
  );
}

async function coop(book) {
  let d;
  try {
    d = await read(`/books/${book}/dashboard`);
  } catch (e) {
    return show(root, back(), errorBox(e));
  }
  const cur = d.enterprise.currency;
  const awaiting = d.transfers.filter((x) => ['sent', 'overdue'].includes(x.status.state));
  const queuedReceipts = new Set((await outbox.all()).filter((e) => e.kind === 'receipt').map((e) => e.target));
  const field = (name, type = 'text', attrs = {}) => h('label', {}, t(`report.${name}`), h('input', { type, name, id: `report-${name}`, ...attrs }));
  const form = h(
    'form',
    { id: 'report-form' },
    field('from', 'date'),
    field('to', 'date'),
    field('revenue', 'text', { inputmode: 'decimal' }),
    field('costs', 'text', { inputmode: 'decimal' }),
    field('jobs_women', 'number', { min: 0 }),
    field('jobs_men', 'number', { min: 0 }),
    field('members', 'number', { min: 0 }),
    field('returnees', 'number', { min: 0 }),
    field('language'),
    h('label', {}, t('report.narrative'), h('textarea', { name: 'narrative', id: 'report-narrative', rows: 3 })),
  );
  const note = h('p', { role: 'status', id: 'report-note' });
  show(
    root,
    back(),
    h('h1', {}, d.enterprise.name),
    h('p', {}, `${d.enterprise.country} · ${d.enterprise.sector}`),
    h('dl', { class: 'figures' }, h('dt', {}, t('coop.capital')), h('dd', {}, i18n.money(d.capital_received)), h('dt', {}, t('coop.returns')), h('dd', {}, i18n.money(d.returns_paid))),
    h('h2', {}, t('coop.investors')),
    h('ul', {}, d.investors.map((i) => h('li', {}, t('coop.investor', { name: i.name, sent: i18n.money(i.sent), received: i18n.money(i.received) })))),
    h('h2', {}, t('coop.to_acknowledge')),
    awaiting.length
      ? h(
          'ul',
          {},
          awaiting.map((x) => {
            const amount = h('input', { type: 'text', inputmode: 'decimal', class: 'amount', 'aria-label': t('coop.received') });
            const note = h('p', { class: 'field-error', role: 'alert' });
            return h(
              'li',
              { class: 'card', dataset: { transfer: x.record } },
              h('p', {}, t('coop.transfer', { group: x.group_name, amount: i18n.money(x.amount), expected: i18n.money(x.expected), reference: x.reference })),
              queuedReceipts.has(x.record)
                ? h('p', {}, t('state.pending'))
                : [
                    amount,
                    note,
                    action(t('coop.acknowledge'), async () => {
                      const parsed = i18n.parseAmount(amount.value, cur);
                      if (parsed.error) return note.replaceChildren(i18n.amountError(parsed.error, cur));
                      const { minor } = parsed;
                      await signAndQueue(book, 'receipt', { received: { currency: cur, minor }, transfer: x.record }, { target: x.record });
                      await outbox.flush();
                      render();
                    }, { class: 'primary' }),
                  ],
            );
          }),
        )
      : h('p', {}, t('coop.nothing_to_acknowledge')),
    h('h2', {}, t('coop.reports')),
    h('ul', {}, d.reports.map((r) => h('li', {}, t('coop.report_line', { from: r.period.from, to: r.period.to, surplus: i18n.money(r.surplus), women: r.jobs.women, men: r.jobs.men })))),
    h('h2', {}, t('report.title')),
    form,
    action(t('report.submit'), async () => {
      const v = Object.fromEntries(new FormData(form));
      const parsed = { revenue: i18n.parseAmount(v.revenue, cur), costs: i18n.parseAmount(v.costs, cur) };
      for (const [name, p] of Object.entries(parsed)) {
        if (p.error) return note.replaceChildren(`${t(`report.${name}`)}: ${i18n.amountError(p.error, cur)}`);
      }
      const [revenue, costs] = [parsed.revenue.minor, parsed.costs.minor];
      if (!v.from || !v.to || !v.narrative?.trim() || !v.language?.trim()) {
        return note.replaceChildren(t('report.incomplete'));
      }
      const n = (x) => Number.parseInt(x || '0', 10);
      await signAndQueue(book, 'report', {
        costs: { currency: cur, minor: costs },
        jobs: { men: n(v.jobs_men), women: n(v.jobs_women) },
        members: { returnees: n(v.returnees), total: n(v.members) },
        narrative: { language: v.language.trim(), text: v.narrative.trim() },
        period: { from: v.from, to: v.to },
        revenue: { currency: cur, minor: revenue },
      });
      note.replaceChildren(t('report.signed'));
    }, { class: 'primary', id: 'submit-report' }),
    note,
  );
}

// ---------------------------------------------------------------------------------------------

// One render at a time: a change that arrives while a screen is being drawn draws it again
// afterwards, so the screen always ends up showing the latest state of the outbox.
let rendering = null;
let again = false;
function render() {
  if (rendering) {
    again = true;
    return rendering;
  }
  rendering = (async () => {
    try {
      do {
        again = false;
        await renderNow();
      } while (again);
    } finally {
      rendering = null;
    }
  })();
  return rendering;
}

async function renderNow() {
  refreshScreen = null;
  header();
  const hash = location.hash;
  if (hash.startsWith('#receipt=')) return checkReceipt(hash.slice('#receipt='.length));
  if (!me) return setup();
  const [, screen, a, b] = hash.replace(/^#\/?/, '').match(/^([a-z]*)\/?([0-9a-f]*)\/?([a-z0-9-]*)/) ?? [];
  switch (screen) {
    case 'key':
      return keyBackup();
    case 'mykey':
      return myKey();
    case 'found':
      return found();
    case 'members':
      return members(a);
    case 'officers':
      return officersScreen(a);
    case 'share':
      return shareScreen(a);
    case 'portfolio':
      return portfolioScreen(a);
    case 'meeting':
      return meeting(a);
    case 'approvals':
      return approvals(a);
    case 'member':
      return member(a, b);
    case 'coop':
      return coop(a);
    default:
      return home();
  }
}

async function main() {
  if (!window.isSecureContext) {
    // Browsers give keys, hashing and offline storage of the app only to secure pages.
    await i18n.load(navigator.language?.split('-')[0] ?? 'en');
    return show(root, h('h1', {}, t('app.title')), h('p', { class: 'error', role: 'alert' }, t('error.insecure', { origin: location.origin })));
  }
  // On first open, the phone's own language, when Kaban speaks it.
  await i18n.load((await store.get('language')) ?? i18n.fromPhone());
  me = (await identity.load()) ?? null;
  outbox.onChange(async () => {
    await statusLine();
    await refreshScreen?.();
  });
  addEventListener('online', statusLine);
  addEventListener('offline', statusLine);
  addEventListener('hashchange', render);
  outbox.start();
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js');
  render();
}

main();
