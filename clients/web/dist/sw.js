// The app shell, cached so that the client opens and works with no connection at all. The API
// is never cached here: the page keeps its own copies of what it read, and its outbox.
const CACHE = 'kaban-ee70660b0343aa29';
const SHELL = ["/","/app.css","/app.js","/chunk-337XTVMM.js","/chunk-43LALFBB.js","/chunk-52A2UO3W.js","/chunk-53X7KTCI.js","/chunk-H5WTUA24.js","/chunk-OOJM4CTU.js","/chunk-T4X47UKU.js","/chunk-UZ2ZTQNZ.js","/chunk-XHQTD2NR.js","/chunk-YYYEHTT7.js","/i18n/bn.json","/i18n/en.json","/i18n/fil.json","/i18n/id.json","/i18n/th.json","/icon.svg","/manifest.webmanifest"];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  const key = event.request.mode === 'navigate' ? '/' : url.pathname;
  event.respondWith(caches.open(CACHE).then((c) => c.match(key)).then((hit) => hit ?? fetch(event.request)));
});
