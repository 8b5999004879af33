// Builds the client into dist/: one minified bundle, the public files, and a service worker
// that caches exactly them. The output is deterministic; dist/ is committed because the node
// embeds it at compile time, and `npm test` checks that it matches a fresh build.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const out = process.argv[2] ?? join(here, 'dist');

export async function buildInto(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(here, 'src/app/main.js')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    // The camera's QR decoder is half the code and only officers adding a key need it: it is
    // a chunk of its own, loaded when Scan is first tapped.
    splitting: true,
    outdir: dir,
    entryNames: 'app',
    chunkNames: 'chunk-[hash]',
    legalComments: 'eof',
    logLevel: 'warning',
  });
  cpSync(join(here, 'public'), dir, { recursive: true });
  // The chunks app.js imports at once are named in the page, so that a phone on a slow link
  // fetches them with app.js rather than one round trip after it.
  const app = readFileSync(join(dir, 'app.js'), 'utf8');
  const eager = [...new Set([...app.matchAll(/(?:from|import)\s*"\.\/(chunk-[A-Z0-9]+\.js)"/g)].map((m) => m[1]))].sort();
  const page = join(dir, 'index.html');
  const links = eager.map((c) => `<link rel="modulepreload" href="/${c}">\n`).join('');
  writeFileSync(page, readFileSync(page, 'utf8').replace('<link rel="stylesheet"', `${links}<link rel="stylesheet"`));
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(`/${relative(dir, p)}`);
    }
  };
  walk(dir);
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(dir, f)));
  const shell = ['/', ...files.filter((f) => f !== '/index.html')];
  const sw = readFileSync(join(here, 'sw.template.js'), 'utf8')
    .replace('__VERSION__', hash.digest('hex').slice(0, 16))
    .replace('__SHELL__', JSON.stringify(shell));
  writeFileSync(join(dir, 'sw.js'), sw);
}

if (import.meta.url === `file://${process.argv[1]}`) await buildInto(out);
