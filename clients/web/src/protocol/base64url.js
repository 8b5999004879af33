// Unpadded base64url (RFC 4648 section 5), in the one spelling SPEC section 2 allows.
//
// A value has exactly one text: no padding, only `A–Z a–z 0–9 - _`, and the last character's
// unused bits are zero. decodeExact() refuses every other spelling by encoding again and
// comparing, the same check the Rust crate makes.

/** @param {Uint8Array} bytes */
export function encode(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Decodes unpadded base64url of any length, in its one spelling.
 * @param {unknown} text
 * @returns {Uint8Array | null} null when the text is not a value's one spelling
 */
export function decode(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  let binary;
  try {
    binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return null; // a length no byte string has
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  // atob ignores non-zero trailing bits; encoding again catches them.
  return encode(bytes) === text ? bytes : null;
}

/**
 * Decodes text that must be the unpadded base64url of exactly `length` bytes.
 * @param {unknown} text
 * @param {number} length the number of bytes the text must hold
 * @returns {Uint8Array | null} null when the text is not that value's one spelling
 */
export function decodeExact(text, length) {
  const bytes = decode(text);
  return bytes?.length === length ? bytes : null;
}
