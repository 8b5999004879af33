// The app shell, cached so that the client opens and works with no connection at all. The API
// is never cached here: the page keeps its own copies of what it read, and its outbox.
const CACHE = 'kaban-c2797ada116fdff7';
const SHELL = ["/","/app.css","/app.js","/chunk-3BCIEX2L.js","/chunk-AJ6GKRBR.js","/chunk-BHGILDUU.js","/chunk-MTB3YQMC.js","/chunk-OOJM4CTU.js","/chunk-SKKNMLTN.js","/chunk-T4X47UKU.js","/chunk-UZ2ZTQNZ.js","/chunk-XHQTD2NR.js","/chunk-YP6D66S5.js","/i18n/bn.json","/i18n/en.json","/i18n/fil.json","/i18n/id.json","/i18n/th.json","/icon.svg","/manifest.webmanifest"];

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
