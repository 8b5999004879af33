// Money (SPEC section 4): integer minor units plus an ISO 4217 currency that Kaban knows.

/** The currencies version 1 knows, with their minor-unit exponents. */
export const CURRENCIES = Object.freeze({
  // Host countries.
  HKD: 2, TWD: 2, KRW: 0, SGD: 2, MOP: 2, MYR: 2, JPY: 0,
  // Home countries.
  PHP: 2, IDR: 2, BDT: 2, THB: 2,
  // Remittance channels often quote these.
  USD: 2, EUR: 2,
});

/**
 * Why `value` is not a currency code Kaban knows, or null when it is one.
 * @returns {string | null}
 */
export function currencyFault(value) {
  if (typeof value === 'string' && Object.hasOwn(CURRENCIES, value)) return null;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 16)) : `a ${value === null ? 'null' : typeof value}`;
  return `currency ${shown} is not one Kaban knows; use one of ${Object.keys(CURRENCIES).join(' ')}`;
}

/**
 * Why `value` is not money ({"currency", "minor"}), or null when it is. Members this version does
 * not define are allowed, as in every body.
 * @returns {string | null}
 */
export function moneyFault(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'money must be an object {"currency", "minor"}';
  }
  if (!Object.hasOwn(value, 'currency')) return 'money has no currency';
  if (!Object.hasOwn(value, 'minor')) return 'money has no minor amount';
  const fault = currencyFault(value.currency);
  if (fault) return fault;
  if (!Number.isSafeInteger(value.minor)) return `minor amount ${value.minor} must be an integer number of minor units`;
  return null;
}
