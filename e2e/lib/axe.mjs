// axe-core in the page: the rules of WCAG 2.0, 2.1 and 2.2 at levels A and AA and axe's best
// practices (its default set, plus target-size, which is off by default), in light and in dark. The pages send `Content-Security-Policy: script-src
// 'self'`, which refuses the inline script that page.addScriptTag({content}) inserts: the
// contexts that run axe are made with `bypassCSP: true` (see pages.test.mjs). That switch
// only lets the test's own script in; the flows (flows.test.mjs) run without it and fail on
// any CSP violation the pages themselves cause.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Impacts that fail the run. */
export const BLOCKING = new Set(['serious', 'critical']);

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa', 'best-practice'];

const brief = (rules) => rules.map((v) => ({
  id: v.id,
  impact: v.impact,
  help: v.help,
  nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
}));

/**
 * axe's findings on the page as it is now (axe injected once per document): `violations`, and
 * `review`, what axe could not decide alone (e.g. a contrast over an image), printed, not failed.
 */
export async function audit(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.addScriptTag({ content: AXE_SOURCE });
  }
  const results = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations', 'incomplete'] }),
    TAGS,
  );
  return { violations: brief(results.violations), review: brief(results.incomplete) };
}

/** The findings as lines for the log. */
export function describe(name, { violations, review }) {
  const lines = [violations.length === 0
    ? `axe ${name}: no violations`
    : `axe ${name}: ${violations.length} violation(s)`];
  for (const v of violations) {
    lines.push(`  [${v.impact}] ${v.id}: ${v.help} (${v.nodes.length} element(s))`);
    for (const n of v.nodes.slice(0, 5)) {
      lines.push(`      ${n.target}`);
      if (n.summary) lines.push(...n.summary.split('\n').map((s) => `        ${s}`));
    }
  }
  for (const v of review) {
    lines.push(`  (to review by hand) ${v.id}: ${v.help}: ${v.nodes.map((n) => n.target).join(', ')}`);
  }
  return lines;
}
