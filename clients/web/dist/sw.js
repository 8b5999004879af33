// The app shell, cached so that the client opens and works with no connection at all. The API
// is never cached here: the page keeps its own copies of what it read, and its outbox.
const CACHE = 'kaban-4cd7bd3a0e1cd7c2';
const SHELL = ["/","/app.css","/app.js","/chunk-3YKHFYB3.js","/chunk-A6T3WGWX.js","/chunk-B4D63VC5.js","/chunk-BRRDW44I.js","/chunk-MGMGH2SR.js","/chunk-OOJM4CTU.js","/chunk-P4UWYLKW.js","/chunk-T4X47UKU.js","/chunk-WEVTIEUS.js","/chunk-WHF5ZXX2.js","/i18n/bn.json","/i18n/en.json","/i18n/fil.json","/i18n/id.json","/i18n/th.json","/icon.svg","/manifest.webmanifest"];

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
