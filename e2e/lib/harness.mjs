// What every browser test shares: the servers e2e/run.sh started (through the environment),
// Debian's Chromium driven by playwright-core, fresh browser contexts that watch for trouble,
// the SMTP sink's messages, and small page helpers. Every wait is bounded.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through e2e/run.sh`);
  return value;
}

export const BASE = required('E2E_BASE_URL');
export const MAIL_DIR = required('E2E_MAIL_DIR');
export const ADMIN = { email: required('E2E_ADMIN_EMAIL'), password: required('E2E_ADMIN_PASSWORD') };
export const SCREENSHOT_DIR = process.env.E2E_SCREENSHOT_DIR ?? '';
export const PASSWORD = 'correct horse battery staple';

/** Pages are ~1200×800, as the screenshots are. */
export const VIEWPORT = { width: 1200, height: 800 };

// Without the networking switches Chromium's own background connections (component updates,
// sync, QUIC probes) are refused on this closed network and slow or break the run.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches Debian's Chromium (never a downloaded one) on a fresh profile directory. Contexts
 * made with `newContext` are isolated from each other (cookies, storage), like separate
 * browsers.
 */
export async function launch() {
  // Inside run.sh's work directory, which it removes whatever happens to this process.
  const profile = mkdtempSync(join(process.env.E2E_WORK ?? tmpdir(), 'chromium-profile-'));
  const persistent = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    timeout: 30_000,
  });
  const browser = persistent.browser();
  return {
    browser,
    async close() {
      await persistent.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh browser context (a browser of its own: its own cookies) and its first page. Every
 * page of it records trouble in `problems`: a response of 500 or more, a script error, or a
 * Content Security Policy violation reported on the console (our pages must not need any
 * exception to the CSP). `assertClean()` fails the test on any of them.
 */
export async function open(browser, options = {}) {
  const context = await browser.newContext({
    viewport: VIEWPORT,
    locale: 'en-GB',
    colorScheme: 'light',
    reducedMotion: 'reduce',
    ...options,
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const problems = [];
  const watch = (page) => {
    page.on('response', (response) => {
      if (response.status() >= 500) problems.push(`${response.status()} from ${response.request().method()} ${response.url()}`);
    });
    page.on('pageerror', (error) => problems.push(`script error on ${page.url()}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content.Security.Policy/i.test(message.text())) {
        problems.push(`CSP violation on ${page.url()}: ${message.text()}`);
      }
    });
  };
  context.on('page', watch);
  const page = await context.newPage();
  return {
    context,
    page,
    problems,
    assertClean() {
      assert.deepEqual(problems, [], 'no server error, script error or CSP violation');
    },
    close: () => context.close(),
  };
}

export const url = (path) => new URL(path, BASE).href;

/** The path and query of a page's URL. */
export function where(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/** Goes to `path` and returns the main response's status. */
export async function visit(page, path) {
  const response = await page.goto(url(path), { waitUntil: 'load' });
  return response?.status();
}

/**
 * Clicks `button` (a locator) of a form and waits for the navigation the post causes (303
 * then GET, or the page again with its errors).
 */
export async function submit(page, button) {
  const navigated = page.waitForNavigation({ waitUntil: 'load' });
  await button.click();
  await navigated;
}

/** Signs in through /login's form. */
export async function signIn(page, email, password = PASSWORD) {
  await visit(page, '/login');
  await page.getByLabel('Email or username').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await submit(page, page.getByRole('button', { name: 'Sign in', exact: true }));
}

/** The text of the page's `role=status` notice (after a post/redirect/get). */
export async function notice(page) {
  return (await page.getByRole('status').first().textContent()).trim();
}

// ---- mail -------------------------------------------------------------------------------------

function messages() {
  return readdirSync(MAIL_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({ name, ...JSON.parse(readFileSync(join(MAIL_DIR, name), 'utf8')) }));
}

/**
 * The first message to `to` whose subject starts with `subject` and which is not among
 * `seen` (names of messages already used), waiting for it at most `ms`.
 */
export async function mailTo(to, subject, { ms = 15_000, seen = new Set() } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = messages().find(
      (m) => !seen.has(m.name) && m.rcpt_tos.includes(to) && m.subject.startsWith(subject),
    );
    if (found) {
      seen.add(found.name);
      return found;
    }
    if (Date.now() > deadline) {
      const all = messages().map((m) => `${m.rcpt_tos.join(',')}: ${m.subject}`);
      throw new Error(`no message "${subject}…" to ${to} within ${ms} ms; the sink has ${JSON.stringify(all)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The first link of a message's text part. */
export function linkIn(message) {
  const match = message.text.match(/https?:\/\/\S+/);
  assert.ok(match, `a link in ${JSON.stringify(message.text)}`);
  return match[0];
}
