// Words and formats. Every string the person reads comes from public/i18n/<lang>.json; amounts
// and dates are formatted for the language's locale, from integer minor units (never floats).

import { CURRENCIES } from '../protocol/money.js';

export const LANGUAGES = { en: 'en', fil: 'fil-PH', id: 'id-ID', bn: 'bn-BD' };
let words = {};
let lang = 'en';

export async function load(next) {
  const chosen = Object.hasOwn(LANGUAGES, next) ? next : 'en';
  const response = await fetch(`/i18n/${chosen}.json`);
  words = await response.json();
  lang = chosen;
  document.documentElement.lang = chosen;
  document.title = t('app.title');
  return chosen;
}

export const current = () => lang;

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

/** Parses what a person typed ("1,250.50", "1250,5") into minor units, or null. */
export function parseAmount(text, currency) {
  const exponent = CURRENCIES[currency] ?? 2;
  const clean = String(text).trim().replace(/[\s,](?=\d{3}(\D|$))/g, '').replace(',', '.');
  const m = /^(\d{1,13})(?:\.(\d*))?$/.exec(clean);
  if (!m) return null;
  const frac = m[2] ?? '';
  if (frac.length > exponent) return null;
  const minor = Number(m[1]) * 10 ** exponent + Number(frac.padEnd(exponent, '0') || 0);
  return Number.isSafeInteger(minor) && minor > 0 ? minor : null;
}
