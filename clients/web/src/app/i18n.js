// Words and formats. Every string the person reads comes from public/i18n/<lang>.json; amounts
// and dates are formatted for the language's locale, from integer minor units (never floats).

import ENGLISH from '../../public/i18n/en.json' with { type: 'json' };
import { CURRENCIES } from '../protocol/money.js';

export const LANGUAGES = { en: 'en', fil: 'fil-PH', id: 'id-ID', bn: 'bn-BD', th: 'th-TH' };
let words = {};
let lang = 'en';

export async function load(next) {
  const chosen = Object.hasOwn(LANGUAGES, next) ? next : 'en';
  // English comes with the app, so a first open needs no round trip for it; the others are
  // fetched (and kept offline by the service worker).
  words = chosen === 'en' ? ENGLISH : await (await fetch(`/i18n/${chosen}.json`)).json();
  lang = chosen;
  document.documentElement.lang = chosen;
  document.title = t('app.title');
  return chosen;
}

export const current = () => lang;

/** The first of the phone's languages that Kaban speaks, else English. */
export function fromPhone(languages = navigator.languages ?? [navigator.language]) {
  for (const tag of languages) {
    const code = String(tag).toLowerCase().split('-')[0];
    if (code === 'tl') return 'fil';
    if (code === 'in') return 'id';
    if (Object.hasOwn(LANGUAGES, code)) return code;
  }
  return 'en';
}

/** The words for `key`, with `{name}` filled from `vars`. A missing key shows as itself. */
export function t(key, vars = {}) {
  const template = words[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : `{${name}}`));
}

/** Money {currency, minor} in the locale's format, exact: the decimal is built as text. */
export function money(m) {
  if (!m || !Object.hasOwn(CURRENCIES, m.currency)) return '';
  const exponent = CURRENCIES[m.currency];
  const negative = m.minor < 0;
  const digits = String(Math.abs(m.minor)).padStart(exponent + 1, '0');
  const text = exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  const nf = new Intl.NumberFormat(LANGUAGES[lang], { style: 'currency', currency: m.currency, minimumFractionDigits: exponent });
  // Intl formats a decimal string exactly (no float in between).
  return nf.format(`${negative ? '-' : ''}${text}`);
}

export function date(ms) {
  return new Intl.DateTimeFormat(LANGUAGES[lang], { dateStyle: 'medium' }).format(new Date(ms));
}

/** Digits other than ASCII that phones' keyboards type: Bengali and Thai. */
const DIGITS = [
  ['০', '৯'],
  ['๐', '๙'],
];

function asciiDigits(text) {
  return [...text]
    .map((c) => {
      for (const [zero, nine] of DIGITS) {
        if (c >= zero && c <= nine) return String(c.codePointAt(0) - zero.codePointAt(0));
      }
      return c;
    })
    .join('');
}

/** The language's decimal mark and thousands separator, as its locale writes numbers. */
export function marks() {
  const parts = new Intl.NumberFormat(LANGUAGES[lang]).formatToParts(1234567.5);
  const decimal = parts.find((p) => p.type === 'decimal')?.value ?? '.';
  const group = parts.find((p) => p.type === 'group')?.value ?? ',';
  // A no-break space, as some locales group with, is typed as a plain space.
  return { decimal, group: /\s/.test(group) ? ' ' : group };
}

/**
 * Parses what a person typed into minor units, by the language's marks: in Bahasa Indonesia
 * "1.250,50" is 1250.50 and "1.000" is one thousand; in English "1,250.50". Returns {minor}, or
 * {error} naming what is wrong: empty, not_a_number, marks (a separator where the language does
 * not put one), negative, not_positive (zero), too_many_decimals or too_large.
 */
export function parseAmount(text, currency) {
  const exponent = CURRENCIES[currency] ?? 2;
  const typed = asciiDigits(String(text ?? '').trim().replace(/\s+/g, ' '));
  if (!typed) return { error: 'empty' };
  if (/^[-−]/.test(typed)) return /\d/.test(typed) ? { error: 'negative' } : { error: 'not_a_number' };
  const { decimal, group } = marks();
  if (!/^[\d.,' ]+$/.test(typed) || !/\d/.test(typed)) return { error: 'not_a_number' };
  const at = typed.lastIndexOf(decimal);
  const whole = at < 0 ? typed : typed.slice(0, at);
  const frac = at < 0 ? '' : typed.slice(at + 1);
  // Groups of three (or the lakh's groups of two before the last three), only between digits.
  const g = group === '.' ? '\\.' : group;
  const grouped = new RegExp(`^\\d{1,3}(${g}\\d{3})*$|^\\d{1,2}(${g}\\d{2})*${g}\\d{3}$`);
  if (!/^\d+$/.test(whole) && !grouped.test(whole)) return { error: 'marks' };
  if (!/^\d*$/.test(frac)) return { error: 'marks' };
  if (frac.length > exponent) return { error: 'too_many_decimals' };
  const digits = whole.replace(/\D/g, '');
  if (digits.length > 13) return { error: 'too_large' };
  const minor = Number(digits) * 10 ** exponent + Number(frac.padEnd(exponent, '0') || 0);
  if (!Number.isSafeInteger(minor)) return { error: 'too_large' };
  return minor > 0 ? { minor } : { error: 'not_positive' };
}

/** What is wrong with an amount, in words: `error` from parseAmount. */
export function amountError(error, currency) {
  const exponent = CURRENCIES[currency] ?? 2;
  const { decimal, group } = marks();
  const example = money({ currency, minor: exponent ? 125050 : 1250 });
  if (error === 'too_many_decimals') {
    return exponent ? t('amount.too_many_decimals', { currency, n: exponent, example }) : t('amount.no_decimals', { currency, example });
  }
  if (error === 'marks') return t('amount.marks', { decimal, group: group === ' ' ? t('amount.space') : group, example });
  return t(`amount.${error}`, { example });
}

/** Today's date on this phone's calendar, as YYYY-MM-DD (not UTC's, which may be a day off). */
export function today(now = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
