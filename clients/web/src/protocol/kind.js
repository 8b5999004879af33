// Record kinds and their bodies (SPEC section 4), checked as far as one record can be.
//
// A body of a known kind must be an object whose members have the types and limits SPEC gives;
// members this version does not define are allowed and kept, but no top-level member may be
// null (an optional member is left out instead, so one body has one spelling). A kind this
// version does not know may carry any JSON value, so that a newer node can federate with this
// client. Rules that need the book (who may sign, quorums reached) are not checked here.

import { KabanError } from './error.js';
import { parsePublicKey } from './key.js';
import { currencyFault, moneyFault } from './money.js';

export const MAX_NAME_CHARS = 80;
export const MAX_TEXT_CHARS = 500;
export const MAX_LIST_ITEMS = 100;
export const MAX_QUORUM = 9;
export const ROLES = Object.freeze(['treasurer', 'chair', 'secretary', 'key_holder', 'investor']);

/** The default quorum of a kind: distinct officer signatures, its own signer's included. */
export function defaultQuorum(kind) {
  return [
    'withdrawal', 'role_grant', 'role_revoke', 'reversal', 'share', 'investor', 'transfer', 'report', 'return',
    'distribution', 'departure', 'membership', 'investment',
  ].includes(kind) ? 2 : 1;
}

/** Thrown by the field checks below and turned into `invalid_body` by checkBody(). */
class BodyFault extends Error {}
const fault = (message) => {
  throw new BodyFault(message);
};

const show = (v) => JSON.stringify(typeof v === 'string' ? v.slice(0, 80) : v)?.slice(0, 120) ?? String(v);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// Each check takes the value and the member's name, and throws a BodyFault naming what is wrong.
const string = (v, name) => {
  if (typeof v !== 'string') fault(`${name} must be a string`);
};
/** Trimmed non-empty, at most `max` Unicode scalar values. White_Space is what Rust's trim() removes. */
const text = (max) => (v, name) => {
  string(v, name);
  if (/^\p{White_Space}*$/u.test(v)) fault(`${name} must not be empty`);
  if ([...v].length > max) fault(`${name} is longer than ${max} characters`);
};
const member = (v, name) => {
  if (typeof v !== 'string' || !/^[a-z0-9-]{3,32}$/.test(v)) {
    fault(`${name}: member id ${show(v)} must be 3 to 32 characters of a-z, 0-9 and -`);
  }
};
const key = (v, name) => {
  try {
    parsePublicKey(v);
  } catch (e) {
    fault(`${name}: ${e.message}`);
  }
};
const recordId = (v, name) => {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) fault(`${name} ${show(v)} is not a record id of 64 lowercase hex digits`);
};
const role = (v, name) => {
  if (!ROLES.includes(v)) fault(`${name}: role ${show(v)} is not one of ${ROLES.join(', ')}`);
};
const currency = (v, name) => {
  const why = currencyFault(v);
  if (why) fault(`${name}: ${why}`);
};
const positiveMoney = (v, name) => {
  const why = moneyFault(v);
  if (why) fault(`${name}: ${why}`);
  if (v.minor <= 0) fault(`${name} must be positive, got ${v.minor}`);
};
// A real calendar date (proleptic Gregorian): 2027-02-29 is refused, 2028-02-29 is not.
const date = (v, name) => {
  const m = typeof v === 'string' && /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(v);
  const [year, month, day] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if (!m || day < 1 || day > days) fault(`${name} ${show(v)} is not a calendar date YYYY-MM-DD`);
};
const peer = (v, name) => {
  if (typeof v !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{40,128}$/.test(v)) {
    fault(`${name} ${show(v)} is not a libp2p PeerId in base58`);
  }
};
/** A positive decimal written plainly, as a transfer's or a membership's rate (SPEC section 4). */
export const MAX_RATE_DECIMALS = 8;
export function rateFault(v) {
  const m = typeof v === 'string' && /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,8})?$/.exec(v);
  if (!m || /^[0.]*$/.test(v)) return `rate ${show(v)} is not a positive decimal like 7.185 (at most ${MAX_RATE_DECIMALS} decimals)`;
  return null;
}
const rate = (v, name) => {
  const why = rateFault(v);
  if (why) fault(`${name}: ${why}`);
};
const count = (v, name) => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fault(`${name} must be a whole number from 0`);
};
const money = (v, name) => {
  const why = moneyFault(v);
  if (why) fault(`${name}: ${why}`);
};
const nonNegativeMoney = (v, name) => {
  money(v, name);
  if (v.minor < 0) fault(`${name} must not be negative, got ${v.minor}`);
};
const oneOf = (values) => (v, name) => {
  if (!values.includes(v)) fault(`${name} ${show(v)} is not one of ${values.join(', ')}`);
};
const country = (v, name) => {
  if (typeof v !== 'string' || !/^[A-Z]{2}$/.test(v)) fault(`${name} ${show(v)} is not an ISO 3166 code like PH`);
};
const list = (item) => (v, name) => {
  if (!Array.isArray(v)) fault(`${name} must be a list`);
  if (v.length > MAX_LIST_ITEMS) fault(`${name} has more than ${MAX_LIST_ITEMS} items`);
  v.forEach((x, i) => item(x, `${name}[${i}]`));
};
/** An object with these members; a name ending in `?` is optional. Other members are allowed. */
const shape = (members) => (v, name) => {
  if (!isObject(v)) fault(`${name} must be an object`);
  for (const [spec, check] of Object.entries(members)) {
    const optional = spec.endsWith('?');
    const memberName = optional ? spec.slice(0, -1) : spec;
    if (Object.hasOwn(v, memberName)) check(v[memberName], name === 'body' ? memberName : `${name}.${memberName}`);
    else if (!optional) fault(`${name} has no ${memberName}`);
  }
};

const quorumMap = (v, name) => {
  if (!isObject(v)) fault(`${name} must be an object of kind names to quorums`);
  for (const [kind, n] of Object.entries(v)) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_QUORUM) {
      fault(`quorum for ${kind} is ${JSON.stringify(n)}; it must be between 1 and ${MAX_QUORUM}`);
    }
  }
};
const officer = shape({ key, roles: list(role) });

const BODIES = {
  genesis: shape({
    currency,
    'enterprise?': shape({ country, sector: text(MAX_NAME_CHARS) }),
    name: text(MAX_NAME_CHARS),
    officers: list(officer),
    rules: shape({ 'quorum?': quorumMap, 'stake?': oneOf(['balance', 'contributions']) }),
  }),
  member_join: shape({ alias: text(MAX_NAME_CHARS), 'key?': key, member }),
  // The investor role is granted by an investor record, which names the group.
  role_grant: shape({
    key,
    role: (v, name) => {
      role(v, name);
      if (v === 'investor') fault('the investor role is granted by an investor record, which names the group');
    },
  }),
  role_revoke: shape({ key, role }),
  meeting: shape({ 'attendance?': list(member), date, 'place?': text(MAX_NAME_CHARS) }),
  contribution: shape({ amount: positiveMoney, 'meeting?': recordId, member }),
  withdrawal: shape({ amount: positiveMoney, member, reason: text(MAX_TEXT_CHARS) }),
  approval: shape({ record: recordId }),
  reversal: shape({ reason: text(MAX_TEXT_CHARS), record: recordId }),
  share: shape({ peer }),
  unshare: shape({ peer }),
  // The group accepts an enterprise book (its id) and the investor record registering it.
  investment: shape({ enterprise: recordId, registration: recordId }),
  distribution: shape({ amount: positiveMoney, enterprise: recordId, return: recordId }),
  departure: shape({ amount: nonNegativeMoney, 'enterprise?': recordId, member, settlement: oneOf(['payout', 'conversion']) }),
  // An enterprise book's records (SPEC section 4).
  investor: shape({ currency, group: recordId, name: text(MAX_NAME_CHARS), officers: list(key), quorum: count }),
  transfer: shape({
    amount: positiveMoney,
    channel: text(MAX_NAME_CHARS),
    expected: positiveMoney,
    fee: nonNegativeMoney,
    group: recordId,
    rate,
    rate_source: text(MAX_NAME_CHARS),
    reference: text(MAX_NAME_CHARS),
  }),
  receipt: shape({ received: positiveMoney, transfer: recordId }),
  return: shape({ amount: positiveMoney, channel: text(MAX_NAME_CHARS), group: recordId, reference: text(MAX_NAME_CHARS) }),
  return_receipt: shape({ received: positiveMoney, return: recordId }),
  membership: shape({ capital: positiveMoney, departure: recordId, group: recordId, member, rate, stake: positiveMoney }),
};

export const KNOWN_KINDS = Object.freeze(Object.keys(BODIES));

/** Kinds whose quorum a genesis may not set, and why (SPEC section 4). */
const FIXED_QUORUM = {
  genesis: 'a genesis founds the book and takes effect alone',
  approval: 'an approval is one signature',
  transfer: 'a transfer takes the quorum its investor group registered',
};

/** The genesis rules beyond member types: officers, a treasurer, and reachable quorums. */
function checkGenesis(body) {
  const { officers } = body;
  if (officers.length === 0) fault('officers must not be empty');
  if (!officers.some((o) => o.roles.includes('treasurer'))) fault('genesis names no treasurer');
  const distinctKeys = new Set(officers.map((o) => o.key)).size;
  const named = body.rules.quorum ?? {};
  for (const kind of Object.keys(named)) {
    if (Object.hasOwn(FIXED_QUORUM, kind)) fault(`rules.quorum cannot name ${kind}: ${FIXED_QUORUM[kind]}`);
  }
  const quorum = (kind) => (Object.hasOwn(named, kind) ? named[kind] : defaultQuorum(kind));
  // Adding officers needs the role_grant quorum itself, so a quorum above the founding officers
  // could never be reached. Every kind this book may hold whose quorum is above 1 counts.
  const bookKinds = body.enterprise === undefined ? ['distribution', 'departure', 'investment'] : ['investor', 'report', 'return', 'membership'];
  for (const kind of ['role_grant', 'withdrawal', 'role_revoke', 'reversal', 'share', ...bookKinds, ...Object.keys(named)]) {
    if (quorum(kind) > distinctKeys) {
      fault(`quorum for ${kind} is ${quorum(kind)} but the genesis names only ${distinctKeys} officers, so it could never be reached`);
    }
  }
}

/** What a body of these kinds must satisfy beyond its members' types (SPEC section 4). */
const RULES = {
  investor(body) {
    const distinct = new Set(body.officers).size;
    if (body.officers.length === 0) fault('officers must not be empty');
    if (body.quorum < 1 || body.quorum > MAX_QUORUM) fault(`quorum for transfer is ${body.quorum}; it must be between 1 and ${MAX_QUORUM}`);
    if (body.quorum > distinct) fault(`quorum for transfer is ${body.quorum} but the registration names only ${distinct} officers, so it could never be reached`);
  },
  transfer(body) {
    if (body.fee.currency !== body.amount.currency) {
      fault(`fee is in ${body.fee.currency} but the amount is in ${body.amount.currency}; both are in the group's currency`);
    }
  },
  departure(body) {
    if (body.settlement === 'conversion' && body.enterprise === undefined) fault('a conversion names the enterprise book whose cooperative she joins');
    if (body.settlement === 'payout' && body.enterprise !== undefined) fault('a payout names no enterprise; a conversion does');
  },
};

/**
 * Where a null sits in `value`, or null when none does. A body of a known kind holds no null at
 * any depth: optional members are left out, and members this version does not define are
 * never null either (SPEC section 4).
 */
function findNull(value, at) {
  if (value === null) return at;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNull(value[i], `${at}[${i}]`);
      if (found !== null) return found;
    }
  } else if (typeof value === 'object') {
    for (const [name, member] of Object.entries(value)) {
      const found = findNull(member, `${at}.${name}`);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * Checks a record body for its kind.
 * @param {string} kind
 * @param {unknown} body
 * @throws {KabanError} `invalid_body`
 */
export function checkBody(kind, body) {
  const check = Object.hasOwn(BODIES, kind) ? BODIES[kind] : null;
  if (!check) return; // a kind this version does not know: any JSON value
  try {
    const nullAt = findNull(body, 'body');
    if (nullAt !== null) fault(`${nullAt} is null; leave an optional member out instead`);
    check(body, 'body');
    if (kind === 'genesis') checkGenesis(body);
    if (Object.hasOwn(RULES, kind)) RULES[kind](body);
  } catch (e) {
    if (!(e instanceof BodyFault)) throw e;
    throw new KabanError('invalid_body', `${kind} record body is invalid: ${e.message}`);
  }
}
