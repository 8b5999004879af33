// Records signed on the phone wait here until the node has them durably. A record is signed
// once; a retry sends the same bytes, so the node (which keys records by id) can never count it
// twice, however flaky the connection was.

import * as store from './store.js';
import { NodeError, submit } from './api.js';

const listeners = new Set();
let flushing = null;
let seq = Date.now();

export function onChange(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}
const changed = () => listeners.forEach((f) => f());

/** Queues a signed record ({id, book, bytes, kind, ...meta}) and tries to send it. */
export async function add(entry) {
  await store.enqueue({ ...entry, seq: seq++, time: Date.now() });
  changed();
  flush();
}

/**
 * Sends every pending record in the order it was signed; stops at the first network failure.
 * A phone's records in one book follow one another (SPEC section 5), so a record the node
 * refuses takes the phone's later records in that book with it, and a record that waits for
 * one the node does not hold yet holds back only the later records of its own book.
 */
export function flush() {
  flushing ??= (async () => {
    try {
      const refused = new Map();
      const waiting = new Set();
      for (const entry of await store.outbox()) {
        if (entry.state !== 'pending' || waiting.has(entry.book)) continue;
        if (refused.has(entry.book)) {
          await store.update({ ...entry, state: 'refused', error: `follows a record the node refused (${refused.get(entry.book)}); enter it again` });
          changed();
          continue;
        }
        try {
          await submit(entry.book, entry.bytes);
          await store.update({ ...entry, state: 'confirmed', error: null });
        } catch (e) {
          if (e instanceof NodeError && e.code === 'missing_dependency') {
            waiting.add(entry.book); // it follows a record the node has not received yet
          } else if (e instanceof NodeError && e.status >= 400 && e.status < 500) {
            await store.update({ ...entry, state: 'refused', error: e.message });
            refused.set(entry.book, entry.id);
            // New records start afresh from the node's place.
            await store.remove(`chain:${entry.book}`);
          } else {
            break; // offline or the node is down: keep it pending and try again later
          }
        }
        changed();
      }
    } finally {
      flushing = null;
    }
  })();
  return flushing;
}

export const all = () => store.outbox();

/** Retry when the connection comes back, and every few seconds in case it came back quietly. */
export function start() {
  addEventListener('online', () => flush());
  setInterval(() => flush(), 4000);
  flush();
}
