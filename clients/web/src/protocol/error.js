// Refusals: every way the protocol core says no carries a stable reason code.
//
// The codes are the ones SPEC.md and the Rust crate use (`bad_signature`, `non_canonical`, ...),
// so that a phone and a node name the same fault the same way. The message says, for a person,
// what exactly is wrong.

export class KabanError extends Error {
  /**
   * @param {string} code the SPEC's reason code, e.g. "bad_signature"
   * @param {string} message what is wrong, for a person
   */
  constructor(code, message) {
    super(message);
    this.name = 'KabanError';
    this.code = code;
  }
}
