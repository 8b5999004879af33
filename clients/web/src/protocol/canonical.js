// Canonical JSON (SPEC section 1): the one byte encoding of every record.
//
// RFC 8785 restricted to null, booleans, integers within ±(2^53−1), strings, arrays and objects,
// nested at most 16 deep. Decoding parses, encodes again, and refuses the input unless the bytes
// are identical; that one comparison refuses whitespace, unsorted or duplicate names, needless
// escapes, `-0`, `1.0`, `1e3` and every other second spelling.
//
// Decoding works on bytes: they must be valid UTF-8 first, so a record can never hold a lone
// surrogate or an overlong sequence. Where SPEC leaves the choice between `malformed_json` and
// `non_canonical` open, this module gives the code the Rust crate gives (it parses with
// serde_json, then encodes): see parse() below.

import { KabanError } from './error.js';

/** The largest integer magnitude a record may carry, the largest a double holds exactly. */
export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

/** How deeply arrays and objects may nest. */
export const MAX_DEPTH = 16;

/**
 * serde_json refuses to parse containers nested 128 deep as a syntax error. Mirroring it keeps
 * our reason code equal to the Rust crate's for absurdly deep input, and bounds our recursion.
 */
const PARSER_DEPTH_LIMIT = 128;

// RFC 8259's number grammar; sticky, so it matches exactly at the parser's position.
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Encodes a value canonically.
 * @param {unknown} value
 * @returns {Uint8Array}
 * @throws {KabanError} `non_canonical` when the value has no canonical form (a float, an unsafe
 *   integer, a lone surrogate, nesting deeper than 16, or a type JSON does not have)
 */
export function encode(value) {
  return encoder.encode(encodeText(value, 0));
}

/**
 * Decodes canonical JSON bytes.
 * @param {Uint8Array} bytes
 * @returns {unknown} the value; objects have a null prototype
 * @throws {KabanError} `malformed_json` when the bytes are not JSON, `non_canonical` when they
 *   are JSON but not the canonical spelling of their value
 */
export function decode(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('canonical.decode takes a Uint8Array');
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new KabanError('malformed_json', 'not valid JSON: the bytes are not valid UTF-8');
  }
  const { value, flaw } = parse(text);
  if (flaw) throw new KabanError('non_canonical', flaw);
  const again = encode(value);
  const n = Math.min(again.length, bytes.length);
  let offset = 0;
  while (offset < n && again[offset] === bytes[offset]) offset++;
  if (offset < n || again.length !== bytes.length) {
    throw new KabanError(
      'non_canonical',
      'JSON is not in canonical form (RFC 8785: sorted names, no whitespace, minimal escapes); ' +
        `first difference at byte ${offset}`,
    );
  }
  return value;
}

/**
 * Parses JSON text (RFC 8259, as strictly as serde_json) without judging its spelling.
 *
 * Returns the value and, when the text holds a number that is valid JSON but can never be
 * canonical (a fraction, an exponent, `-0`, an integer beyond ±(2^53−1)), a `flaw` naming it.
 * Duplicate names keep the last value, as serde_json does; `duplicates` reports them for
 * readers of non-canonical JSON such as key files. Syntax errors, lone surrogate escapes and
 * numbers too large for a double throw `malformed_json`, because serde_json refuses those too.
 *
 * @param {string} text
 * @returns {{value: unknown, flaw: string | null, duplicates: boolean}}
 */
export function parse(text) {
  let i = 0;
  let depth = 0;
  let flaw = null;
  let duplicates = false;

  const fail = (what) => {
    throw new KabanError('malformed_json', `not valid JSON: ${what} at character ${i}`);
  };
  const skipWhitespace = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  const literal = (word, value) => {
    if (!text.startsWith(word, i)) fail('expected a value');
    i += word.length;
    return value;
  };

  const parseValue = () => {
    skipWhitespace();
    const c = text[i];
    if (c === '{') return parseObject();
    if (c === '[') return parseArray();
    if (c === '"') return parseString();
    if (c === '-' || (c >= '0' && c <= '9')) return parseNumber();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    return fail(c === undefined ? 'unexpected end of input' : 'expected a value');
  };

  const enter = () => {
    if (++depth >= PARSER_DEPTH_LIMIT) fail(`nesting ${PARSER_DEPTH_LIMIT} levels deep`);
    i++;
    skipWhitespace();
  };

  const parseArray = () => {
    enter();
    const items = [];
    if (text[i] === ']') {
      i++;
    } else {
      for (;;) {
        items.push(parseValue());
        skipWhitespace();
        if (text[i] === ',') i++;
        else if (text[i] === ']') { i++; break; }
        else fail('expected , or ] in an array');
      }
    }
    depth--;
    return items;
  };

  const parseObject = () => {
    enter();
    const object = Object.create(null);
    if (text[i] === '}') {
      i++;
    } else {
      for (;;) {
        skipWhitespace();
        if (text[i] !== '"') fail('expected a member name');
        const name = parseString();
        skipWhitespace();
        if (text[i] !== ':') fail('expected : after a member name');
        i++;
        if (Object.hasOwn(object, name)) duplicates = true;
        object[name] = parseValue();
        skipWhitespace();
        if (text[i] === ',') i++;
        else if (text[i] === '}') { i++; break; }
        else fail('expected , or } in an object');
      }
    }
    depth--;
    return object;
  };

  const ESCAPES = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
  const hex4 = () => {
    const digits = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) fail('expected 4 hex digits after \\u');
    i += 4;
    return parseInt(digits, 16);
  };

  const parseString = () => {
    i++; // the opening quote
    let out = '';
    let start = i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x22) break;
      if (c < 0x20) fail('raw control character in a string');
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(start, i);
      i++; // the backslash
      const e = text[i++];
      if (e === 'u') {
        const unit = hex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) fail('lone trailing surrogate in a \\u escape');
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (text[i] !== '\\' || text[i + 1] !== 'u') fail('lone leading surrogate in a \\u escape');
          i += 2;
          const low = hex4();
          if (low < 0xdc00 || low > 0xdfff) fail('lone leading surrogate in a \\u escape');
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
      } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e];
      } else {
        fail('invalid escape in a string');
      }
      start = i;
    }
    out += text.slice(start, i);
    i++; // the closing quote
    return out;
  };

  const parseNumber = () => {
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (!match || /[0-9.eE+-]/.test(text[i + match[0].length] ?? '')) fail('invalid number');
    const lexeme = match[0];
    i += lexeme.length;
    const approx = Number(lexeme);
    // serde_json refuses a number whose double is infinite as out of range: not JSON to it.
    if (!Number.isFinite(approx)) fail(`number ${lexeme} out of range`);
    const isInteger = match[1] === undefined && match[2] === undefined;
    if (!isInteger) {
      flaw ??= `number ${lexeme} is not an integer; money is integer minor units and records carry no floats`;
      return approx;
    }
    if (lexeme === '-0') {
      flaw ??= 'number -0 is not canonical; zero is written 0';
      return 0;
    }
    const exact = BigInt(lexeme);
    if (exact > BigInt(MAX_SAFE_INTEGER) || exact < -BigInt(MAX_SAFE_INTEGER)) {
      flaw ??= `integer ${lexeme} is outside the safe range of plus or minus 2^53 - 1`;
    }
    return approx;
  };

  const value = parseValue();
  skipWhitespace();
  if (i < text.length) fail('trailing characters after the value');
  return { value, flaw, duplicates };
}

// Below U+0020 JSON must escape; these have short forms, the rest are \u00xx in lowercase hex.
const SHORT_ESCAPES = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };
const LONE_SURROGATE = /\p{Surrogate}/u;

function encodeString(s) {
  if (LONE_SURROGATE.test(s)) {
    throw new KabanError('non_canonical', `string ${JSON.stringify(s.slice(0, 40))} holds a lone surrogate, which UTF-8 cannot carry`);
  }
  const escaped = s.replace(/["\\\u0000-\u001f]/g, (ch) =>
    SHORT_ESCAPES[ch] ?? `\\u00${ch.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return `"${escaped}"`;
}

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function encodeText(value, depth) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isInteger(value)) {
        throw new KabanError('non_canonical', `number ${value} is not an integer; money is integer minor units and records carry no floats`);
      }
      if (!Number.isSafeInteger(value)) {
        throw new KabanError('non_canonical', `integer ${value} is outside the safe range of plus or minus 2^53 - 1`);
      }
      return String(value); // -0 prints as 0, the integer it is
    case 'string':
      return encodeString(value);
    case 'object': {
      if (depth >= MAX_DEPTH) throw new KabanError('non_canonical', `JSON nests deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(value)) {
        return `[${value.map((item) => encodeText(item, depth + 1)).join(',')}]`;
      }
      if (!isPlainObject(value)) {
        throw new KabanError('non_canonical', `a ${value.constructor?.name ?? 'special'} object has no JSON form; use a plain object`);
      }
      // The default sort compares UTF-16 code units, exactly RFC 8785's member order.
      const names = Object.keys(value).sort();
      const members = names.map((name) => {
        if (value[name] === undefined) {
          throw new KabanError('non_canonical', `member ${JSON.stringify(name)} is undefined; leave it out instead`);
        }
        return `${encodeString(name)}:${encodeText(value[name], depth + 1)}`;
      });
      return `{${members.join(',')}}`;
    }
    default:
      throw new KabanError('non_canonical', `a ${typeof value} has no JSON form`);
  }
}
