// The phone's own storage: IndexedDB, which survives reloads and closed browsers.
//
// - `kv`: small values by name: the identity (signer key), the language, open meetings.
// - `outbox`: every record this phone signed, by record id, with where it stands: `pending`
//   until the node confirms it durable, then `confirmed`, or `refused` with the node's reason.

const DB_NAME = 'kaban';
const DB_VERSION = 1;

let opening = null;

function open() {
  opening ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('kv')) db.createObjectStore('kv');
      if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return opening;
}

async function run(store, mode, f) {
  const db = await open();
  return new Promise((resolve, reject) => {
    // Strict: a write counts as done only once it is on disk, not merely handed to the OS. The
    // screen says "waiting to send" for a record only after this.
    const tx = db.transaction(store, mode, { durability: 'strict' });
    const result = f(tx.objectStore(store));
    // Resolve once the transaction is durable, not when the request succeeds.
    tx.oncomplete = () => resolve(result?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const get = (name) => run('kv', 'readonly', (s) => s.get(name));
export const put = (name, value) => run('kv', 'readwrite', (s) => s.put(value, name));
export const remove = (name) => run('kv', 'readwrite', (s) => s.delete(name));

/** Adds a signed record to the outbox unless it is there already (same id, same bytes). */
export async function enqueue(entry) {
  const existing = await run('outbox', 'readonly', (s) => s.get(entry.id));
  if (existing) return existing;
  await run('outbox', 'readwrite', (s) => s.put({ state: 'pending', error: null, ...entry }));
  return entry;
}

export const update = (entry) => run('outbox', 'readwrite', (s) => s.put(entry));

export async function outbox() {
  const all = await run('outbox', 'readonly', (s) => s.getAll());
  return all.sort((a, b) => a.seq - b.seq);
}
