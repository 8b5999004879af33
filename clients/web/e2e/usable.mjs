// Checks every phone test runs on each screen it visits: every visible control is at least
// 44×44 px and has a name a screen reader can say, and axe-core finds no critical or serious
// violation. The browser contexts that use it set `bypassCSP`, so that axe can be injected: the
// node's CSP allows only the node's own scripts.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** The screens checked so far. */
export const screens = new Set();

/** Every visible control is at least 44×44 px and has a name a screen reader can say. */
export async function controlsAreUsable(page, screen) {
  const problems = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('button, a[href], input, select, textarea')) {
      const box = el.getBoundingClientRect();
      if (!box.width || !box.height || el.closest('[hidden]')) continue;
      const name = el.getAttribute('aria-label') || el.closest('label')?.textContent.trim() || el.textContent.trim();
      const what = `${el.tagName.toLowerCase()} "${(name || el.id || '').slice(0, 30)}"`;
      if (box.height < 44 || box.width < 44) out.push(`${what} is ${Math.round(box.width)}×${Math.round(box.height)} px`);
      if (!name) out.push(`${what} has no accessible name`);
    }
    return out;
  });
  assert.deepEqual(problems, [], `on the ${screen} screen`);
  // axe-core, injected for the test (the contexts bypass the node's CSP for it alone).
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const { violations } = await window.axe.run(document, { resultTypes: ['violations'] });
    return violations.filter((v) => ['critical', 'serious'].includes(v.impact)).map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `axe on the ${screen} screen`);
  screens.add(screen);
}
