// Canonical JSON: the encoding, round trips, and refusal of every second spelling, with the
// reason code the Rust crate gives for each.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_DEPTH, decode, encode } from '../src/protocol/canonical.js';

const text = (value) => new TextDecoder().decode(encode(value));
const bytes = (s) => new TextEncoder().encode(s);
// Decoded objects have a null prototype; compare their contents.
const plain = (value) => JSON.parse(JSON.stringify(value));
const refusedWith = (code, input) => {
  const raw = typeof input === 'string' ? bytes(input) : Uint8Array.from(input);
  assert.throws(() => decode(raw), (err) => err.code === code, `${JSON.stringify(String.fromCharCode(...raw))} should be ${code}`);
};

test('sorts names and drops whitespace', () => {
  const value = { b: 1, a: [true, null, 'x'], c: { z: -5, y: 'é' } };
  assert.equal(text(value), '{"a":[true,null,"x"],"b":1,"c":{"y":"é","z":-5}}');
  assert.deepEqual(plain(decode(encode(value))), value);
});

test('escapes exactly as RFC 8785', () => {
  assert.equal(text('q"b\\n\n\u0001\u007f/é😀\u2028'), '"q\\"b\\\\n\\n\\u0001\u007f/é😀\u2028"');
  assert.equal(text('\b\t\n\f\r\u000b\u001f'), '"\\b\\t\\n\\f\\r\\u000b\\u001f"');
});

test('sorts names by UTF-16 code units, not by UTF-8 bytes', () => {
  // U+1F600 is the surrogate pair D83D DE00, below U+FF61 in UTF-16 but above it in UTF-8.
  assert.equal(text({ '\uff61': 1, '😀': 2 }), '{"😀":2,"\uff61":1}');
});

test('integers up to ±(2^53−1) and nesting up to 16 levels', () => {
  assert.equal(decode(bytes('9007199254740991')), 9007199254740991);
  assert.equal(decode(bytes('-9007199254740991')), -9007199254740991);
  const deep = (n) => '['.repeat(n) + ']'.repeat(n);
  assert.deepEqual(decode(bytes(deep(MAX_DEPTH))).flat(Infinity), []);
  refusedWith('non_canonical', deep(MAX_DEPTH + 1));
  assert.throws(() => encode(JSON.parse(deep(MAX_DEPTH + 1))), { code: 'non_canonical' });
  assert.equal(text(-0), '0');
});

test('a member named __proto__ is an ordinary member', () => {
  const value = decode(bytes('{"__proto__":1,"a":2}'));
  assert.deepEqual(Object.keys(value), ['__proto__', 'a']);
  assert.equal(text(value), '{"__proto__":1,"a":2}');
});

/** A small seeded generator, so a failure names a case that can be run again. */
function random(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s % n;
  };
}
const ALPHABET = ['a', 'Z', '"', '\\', '/', '\n', '\u0000', '\u001f', '\u007f', 'é', '\u2028', 'র', '😀', '\uff61', ' ', '\ud7ff', '\ue000'];
function randomValue(next, depth = 0) {
  const str = () => Array.from({ length: next(6) }, () => ALPHABET[next(ALPHABET.length)]).join('');
  switch (next(depth >= 4 ? 4 : 6)) {
    case 0: return [null, true, false][next(3)];
    case 1: return [0, 1, -1, 9007199254740991, -9007199254740991, next(1e9) - 5e8][next(6)];
    case 2: return str();
    case 3: return str();
    case 4: return Array.from({ length: next(5) }, () => randomValue(next, depth + 1));
    default: return Object.fromEntries(Array.from({ length: next(5) }, () => [str(), randomValue(next, depth + 1)]));
  }
}
function sortedStringify(value) {
  if (Array.isArray(value)) return `[${value.map(sortedStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${sortedStringify(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

test('random values round-trip, and equal sorted-key JSON.stringify as SPEC section 1 says', () => {
  for (let seed = 1; seed <= 500; seed++) {
    const value = randomValue(random(seed));
    const encoded = encode(value);
    assert.equal(new TextDecoder().decode(encoded), sortedStringify(value), `seed ${seed}`);
    assert.deepEqual(encode(decode(encoded)), encoded, `seed ${seed}`);
    assert.equal(JSON.stringify(decode(encoded)), JSON.stringify(JSON.parse(new TextDecoder().decode(encoded))), `seed ${seed}`);
  }
});

test('refuses every second spelling as non_canonical', () => {
  for (const input of [
    '{"a":1, "b":2}', ' 1', '1 ', '[1 ]', '{"a" :1}', '\n{}', '{"b":2,"a":1}', '{"a":1,"a":1}', '{"a":1,"a":2}',
    '{"a":1.0}', '{"a":1e3}', '{"a":1E3}', '{"a":-0}', '0.5', '-0.0', '1e-400',
    '9007199254740992', '-9007199254740992', '18446744073709551615', '99999999999999999999999',
    '"\\u0041"', '"\\/"', '"\\u000a"', '"\\u001F"', '"\\u00e9"', '"\\ud83d\\ude00"', '"\\u007f"',
    '{"\\u0061":1}',
  ]) {
    refusedWith('non_canonical', input);
  }
});

test('refuses what is not JSON at all as malformed_json', () => {
  for (const input of [
    '', '{', '[1,]', '{"a":1,}', '01', '+1', '.5', '1.', '-', '1e', 'NaN', 'Infinity', "'a'", 'nul', '{a:1}',
    '{"a":1}x', '{"a":1}{}', '"\\x"', '"abc', '1e400', '-1e400', '"\u0001"', '\u000c1',
    '"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"', '"\\ud800x"',
    '['.repeat(128) + ']'.repeat(128),
  ]) {
    refusedWith('malformed_json', input);
  }
  for (const raw of [[0xff], [0x22, 0xc0, 0x80, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xe2, 0x82, 0x22], [0xef, 0xbb, 0xbf, 0x31]]) {
    refusedWith('malformed_json', raw);
  }
});

test('encode refuses values that have no canonical form, naming them', () => {
  for (const [value, words] of [
    [1.5, /1\.5 is not an integer/],
    [NaN, /NaN is not an integer/],
    [2 ** 53, /outside the safe range/],
    ['a\ud800', /lone surrogate/],
    [{ a: undefined }, /"a" is undefined/],
    [new Map(), /Map object/],
    [new Date(0), /Date object/],
    [10n, /bigint has no JSON form/],
  ]) {
    assert.throws(() => encode(value), (err) => err.code === 'non_canonical' && words.test(err.message), String(words));
  }
});
