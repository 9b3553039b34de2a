// Every hosted page, in light and in dark: axe-core's violations printed for each, the run
// failing on any of impact serious or critical, and a full-page screenshot of each into
// docs/screenshots/{page}-{light|dark}.png (E2E_SCREENSHOT_DIR elsewhere, `off` for none).
//
// The contexts here are made with `bypassCSP: true`: the pages' `script-src 'self'` would
// otherwise refuse the inline script that injects axe (see lib/axe.mjs). The flows run with the
// CSP in force.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import {
  ADMIN, PASSWORD, SCREENSHOT_DIR, launch, linkIn, mailTo, open, signIn, submit, visit, where,
} from '../lib/harness.mjs';
import { BLOCKING, audit, describe } from '../lib/axe.mjs';
import { verifiedUser } from '../lib/users.mjs';

const SCHEMES = ['light', 'dark'];
const shots = SCREENSHOT_DIR && SCREENSHOT_DIR !== 'off' ? SCREENSHOT_DIR : null;
if (shots) mkdirSync(shots, { recursive: true });

let chromium;
/** Every page checked: name, scheme, violations. */
const report = [];

before(async () => { chromium = await launch(); });
after(async () => {
  await chromium?.close();
  const width = Math.max(...report.map((r) => r.name.length));
  const lines = ['', 'axe-core summary (violations by page; serious or critical fail the run):'];
  const names = [...new Set(report.map((r) => r.name))];
  for (const name of names) {
    const cells = SCHEMES.map((scheme) => {
      const found = report.find((r) => r.name === name && r.scheme === scheme)?.found ?? [];
      const blocking = found.filter((v) => BLOCKING.has(v.impact)).length;
      return `${scheme} ${found.length}${blocking ? ` (${blocking} blocking)` : ''}`;
    });
    lines.push(`  ${name.padEnd(width)}  ${cells.join(', ')}`);
  }
  console.log(lines.join('\n'));
});

/**
 * The page as it is now, in light then dark: axe's violations printed and kept, a full-page
 * screenshot (its top `maxHeight` pixels for a long list). Returns the blocking ones, for the
 * test to assert on once all its pages are checked.
 */
async function check(page, name, { maxHeight = 2400 } = {}) {
  const blocking = [];
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    const findings = await audit(page);
    const found = findings.violations;
    console.log(describe(`${name} (${scheme}) ${where(page)}`, findings).join('\n'));
    report.push({ name, scheme, found });
    blocking.push(...found.filter((v) => BLOCKING.has(v.impact)).map((v) => `${name} (${scheme}): ${v.id}`));
    if (shots) {
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      await page.screenshot({
        path: join(shots, `${name}-${scheme}.png`),
        fullPage: true,
        clip: { x: 0, y: 0, width: page.viewportSize().width, height: Math.min(height, maxHeight) },
        animations: 'disabled',
        caret: 'hide',
      });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return blocking;
}

const axeContext = () => open(chromium.browser, { bypassCSP: true });
const mary = { email: 'mary.somerville@example.com', name: 'Mary Somerville' };
let maryId;

test('signed-out pages', async () => {
  const v = await axeContext();
  const { page } = v;
  const blocking = [];

  await visit(page, '/login');
  blocking.push(...await check(page, 'login'));

  await page.getByLabel('Email or username').fill(mary.email);
  await page.getByLabel('Password', { exact: true }).fill('not the right password');
  await submit(page, page.getByRole('button', { name: 'Sign in', exact: true }));
  assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
  blocking.push(...await check(page, 'login-error'));

  await visit(page, '/signup');
  blocking.push(...await check(page, 'signup'));

  await page.getByLabel('Email').fill('not an address');
  await page.getByLabel('Password').fill('short');
  await submit(page, page.getByRole('button', { name: 'Create account' }));
  assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
  blocking.push(...await check(page, 'signup-error'));

  await page.getByLabel('Email').fill(mary.email);
  await page.getByLabel('Name (optional)').fill(mary.name);
  await page.getByLabel('Password').fill(PASSWORD);
  await submit(page, page.getByRole('button', { name: 'Create account' }));
  blocking.push(...await check(page, 'check-inbox'));
  const signedUpAt = Date.now();

  await page.goto(linkIn(await mailTo(mary.email, 'Verify your email')));
  blocking.push(...await check(page, 'verify-email'));
  await submit(page, page.getByRole('button', { name: 'Confirm my address' }));
  assert.equal(where(page), '/login?notice=email_verified');
  blocking.push(...await check(page, 'login-notice'));

  await visit(page, '/forgot-password');
  blocking.push(...await check(page, 'forgot-password'));
  // One mail a kind per account per PORTCULLIS_MAIL_COOLDOWN (1 s in run.sh).
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1_200 - (Date.now() - signedUpAt))));
  await page.getByLabel('Email').fill(mary.email);
  await submit(page, page.getByRole('button', { name: 'Send the link' }));
  await page.goto(linkIn(await mailTo(mary.email, 'Reset your')));
  blocking.push(...await check(page, 'reset-password'));

  v.assertClean();
  await v.close();
  assert.deepEqual(blocking, [], 'no serious or critical accessibility violation');
});

test('the account page, and an admin page to a user', async () => {
  // Two sessions, so that the list has a row to end.
  const other = await open(chromium.browser);
  await signIn(other.page, mary.email);
  const u = await axeContext();
  const { page } = u;
  const blocking = [];
  await signIn(page, mary.email);
  assert.equal(where(page), '/account');
  await page.getByLabel('Username').fill('mary');
  await submit(page, page.getByRole('button', { name: 'Save' }));
  assert.equal(where(page), '/account?notice=saved');
  blocking.push(...await check(page, 'account'));

  // A wrong current password: the form's errors.
  await page.getByLabel('Current password').last().fill('not my password at all');
  await page.getByLabel('New password').fill('a brand new and rather long passphrase');
  await submit(page, page.getByRole('button', { name: 'Change password' }));
  assert.equal(where(page), '/account/password');
  blocking.push(...await check(page, 'account-error'));

  assert.equal(await visit(page, '/admin'), 403);
  blocking.push(...await check(page, 'forbidden'));

  for (const browser of [u, other]) {
    browser.assertClean();
    await browser.close();
  }
  assert.deepEqual(blocking, [], 'no serious or critical accessibility violation');
});

test('every admin page', async () => {
  // The list shows each kind of badge: verified, not verified, banned.
  const charles = await verifiedUser('charles.babbage@example.com', 'Charles Babbage');
  const emmy = await fetch(new URL('/api/auth/register', process.env.E2E_BASE_URL), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'emmy.noether@example.com', password: PASSWORD, name: 'Emmy Noether' }),
    signal: AbortSignal.timeout(15_000),
  });
  assert.equal(emmy.status, 201);

  const a = await axeContext();
  const { page } = a;
  const blocking = [];
  await signIn(page, ADMIN.email, ADMIN.password);

  await visit(page, `/admin/users/${charles}`);
  await page.getByLabel('Reason').fill('Automated sign-ups');
  await submit(page, page.getByRole('button', { name: 'Ban', exact: true }));
  assert.equal(await page.getByRole('button', { name: 'Lift the ban' }).count(), 1);
  blocking.push(...await check(page, 'admin-user-banned'));

  await visit(page, '/admin');
  blocking.push(...await check(page, 'admin-users'));

  await submit(page, page.getByRole('link', { name: mary.email }));
  maryId = where(page).split('/').pop();
  blocking.push(...await check(page, 'admin-user'));

  await visit(page, `/admin/users/${maryId}/delete`);
  blocking.push(...await check(page, 'admin-user-delete'));

  await visit(page, '/admin/audit');
  blocking.push(...await check(page, 'admin-audit', { maxHeight: 1400 }));

  await visit(page, '/admin/suspicious?window=24h');
  blocking.push(...await check(page, 'admin-suspicious'));

  await visit(page, '/admin/settings');
  blocking.push(...await check(page, 'admin-settings'));

  a.assertClean();
  await a.close();
  assert.deepEqual(blocking, [], 'no serious or critical accessibility violation');
});

test('error and closed pages', async () => {
  const v = await axeContext();
  const { page } = v;
  const blocking = [];

  assert.equal(await visit(page, '/no-such-page'), 404);
  blocking.push(...await check(page, 'not-found'));

  assert.equal(await visit(page, '/reset-password'), 400);
  blocking.push(...await check(page, 'invalid-link'));

  // Sign-up closed by an admin, then back to the configured default.
  const a = await open(chromium.browser);
  const signUpSwitch = (choice) => a.page.getByRole('group', { name: 'Sign-up open' }).getByLabel(choice, { exact: true });
  await signIn(a.page, ADMIN.email, ADMIN.password);
  await visit(a.page, '/admin/settings');
  await signUpSwitch('Off').check();
  await submit(a.page, a.page.getByRole('button', { name: 'Save' }));
  try {
    assert.equal(await visit(page, '/signup'), 403);
    blocking.push(...await check(page, 'signup-closed'));
  } finally {
    await signUpSwitch('Default').check();
    await submit(a.page, a.page.getByRole('button', { name: 'Save' }));
  }
  assert.equal(await visit(page, '/signup'), 200);

  for (const browser of [v, a]) {
    browser.assertClean();
    await browser.close();
  }
  assert.deepEqual(blocking, [], 'no serious or critical accessibility violation');
});

test('pages reflow at 320 px wide, without scrolling sideways', async () => {
  // WCAG 1.4.10: 320 CSS pixels is a 1280 px window at 400 % zoom. Wide tables scroll inside
  // their own box; the page itself must not.
  const n = await open(chromium.browser, { viewport: { width: 320, height: 640 } });
  const { page } = n;
  const wide = [];
  const measure = async (path) => {
    await visit(page, path);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 320) wide.push(`${path}: ${width} px`);
  };
  for (const path of ['/login', '/signup', '/forgot-password', '/no-such-page']) await measure(path);
  await signIn(page, ADMIN.email, ADMIN.password);
  for (const path of ['/account', '/admin', `/admin/users/${maryId}`, `/admin/users/${maryId}/delete`,
    '/admin/audit', '/admin/suspicious', '/admin/settings']) await measure(path);
  n.assertClean();
  await n.close();
  assert.deepEqual(wide, [], 'no page wider than the screen');
});
