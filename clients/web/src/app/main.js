// Kaban on a phone: pairing, meeting mode, approvals, a member's own book, the cooperative's
// view, and offline receipt checks. Plain DOM, no framework; every word from the translations.

import * as record from '../protocol/record.js';
import * as api from './api.js';
import * as i18n from './i18n.js';
import * as identity from './identity.js';
import * as outbox from './outbox.js';
import * as receipt from './receipt.js';
import * as store from './store.js';
import { SEARCH_FROM, back, errorBox, hooks, memberSearch, qrCode, read, root, signAndQueue, state } from './screen.js';
import { action, h, show } from './ui.js';

const { t } = i18n;

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
    state.me = await identity.create(pass.value);
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
      state.me = await identity.restore(backupText.value, restorePass.value);
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
    h('p', { class: 'key', id: 'public-key' }, state.me.publicText),
    qrCode(state.me.publicText, t('home.key_qr')),
    h('p', {}, t('home.pair_help')),
    h('a', { class: 'button', href: '#/key' }, t('home.backup_link')),
  ];
}

/**
 * An investor group's officer in an enterprise book: she signs her group's transfers and
 * approves them there (from her group's Portfolio), and runs nothing of the cooperative's.
 */
const investorOnly = (b) => b.enterprise && (b.roles ?? []).every((r) => r === 'investor');

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
            !b.member && !investorOnly(b) ? h('a', { class: 'button', href: `#/officers/${b.book}` }, t('home.officers')) : null,
            !b.member && !investorOnly(b) ? h('a', { class: 'button', href: `#/share/${b.book}` }, t('home.share')) : null,
            !b.member ? h('a', { class: 'button', href: `#/approvals/${b.book}` }, t('home.approvals')) : null,
            !b.member && b.enterprise && !investorOnly(b) ? h('a', { class: 'button', href: `#/coop/${b.book}` }, t('home.coop')) : null,
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

function keyBackup() {
  const download = action(t('backup.download'), async () => {
    const blob = new Blob([`${state.me.backup}\n`], { type: 'text/plain' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `kaban-key-${state.me.publicText.slice(0, 8)}.txt` });
    a.click();
    URL.revokeObjectURL(a.href);
  }, { id: 'download-backup' });
  show(
    root,
    back(),
    h('h1', {}, t('backup.title')),
    h('p', {}, t('backup.explain')),
    qrCode(state.me.backup, t('backup.qr')),
    h('label', {}, t('backup.text'), h('textarea', { id: 'backup-out', readonly: true, rows: 4 }, state.me.backup)),
    download,
  );
}

/** Opening a meeting: its date (the phone's own) and place. */
function meetingForm(book, summary) {
  const date = h('input', { type: 'date', id: 'meeting-date', value: i18n.today() });
  const place = h('input', { type: 'text', id: 'meeting-place' });
  show(
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
  if (!open) return meetingForm(book, summary);
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
  state.refreshScreen = refresh;
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
      state.refreshScreen = null;
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
    case 'investment':
      return t('approve.investment', { enterprise: b.enterprise.slice(0, 8) });
    case 'investor':
      return t('approve.investor', { name: b.name, n: b.officers.length, quorum: b.quorum });
    case 'return':
      return t('approve.return', { amount: i18n.money(b.amount), channel: b.channel, reference: b.reference });
    case 'membership':
      return t('approve.membership', { member: b.member, stake: i18n.money(b.stake), capital: i18n.money(b.capital) });
    case 'report':
      return t('approve.report', { from: b.period.from, to: b.period.to });
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
    const signed = p.signed_by.includes(state.me.publicText) || queued.has(p.record);
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
                  show(receiptBox, h('h2', {}, t('member.receipt_title')), qrCode(url, t('member.receipt_qr')), h('a', { class: 'button', href: url, id: 'receipt-link' }, t('member.receipt_open')));
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

// ---------------------------------------------------------------------------------------------

// One render at a time: a change that arrives while a screen is being drawn draws it again
// afterwards, so the screen always ends up showing the latest state of the outbox.
let rendering = null;
let again = false;
function render() {
  // `data-drawn` names the screen once it is drawn for the latest address, and is absent while
  // a draw is due: a test waits for it rather than typing into a screen about to be replaced.
  delete root.dataset.drawn;
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
      root.dataset.drawn = location.hash || '#/';
    } finally {
      rendering = null;
    }
  })();
  return rendering;
}

hooks.render = render;

// The officers' screens beyond the meeting and approvals are chunks of their own, fetched the
// first time one opens (the service worker keeps them for offline use), so that a first open
// fetches only what the home screen needs.
async function renderNow() {
  state.refreshScreen = null;
  header();
  const hash = location.hash;
  if (hash.startsWith('#receipt=')) return checkReceipt(hash.slice('#receipt='.length));
  if (!state.me) return setup();
  const [, screen, a, b] = hash.replace(/^#\/?/, '').match(/^([a-z]*)\/?([0-9a-f]*)\/?([a-z0-9-]*)/) ?? [];
  switch (screen) {
    case 'key':
      return keyBackup();
    case 'mykey':
      return myKey();
    case 'found':
      return (await import('./officers.js')).found();
    case 'members':
      return (await import('./members.js')).members(a);
    case 'officers':
      return (await import('./officers.js')).officersScreen(a);
    case 'share':
      return (await import('./officers.js')).shareScreen(a);
    case 'portfolio':
      return (await import('./invest.js')).portfolioScreen(a);
    case 'meeting':
      return meeting(a);
    case 'approvals':
      return approvals(a);
    case 'member':
      return member(a, b);
    case 'coop':
      return (await import('./coop.js')).coop(a);
    case 'impact':
      return (await import('./coop.js')).impact();
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
  state.me = (await identity.load()) ?? null;
  outbox.onChange(async () => {
    await statusLine();
    await state.refreshScreen?.();
  });
  addEventListener('online', statusLine);
  addEventListener('offline', statusLine);
  addEventListener('hashchange', render);
  outbox.start();
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js');
  render();
}

main();
