// The hosted pages as people use them, in a real browser (Debian's Chromium): each flow in
// fresh browser contexts, the emailed links read from the SMTP sink, social sign-in through
// the test OpenID provider. The flows run one after the other (node:test runs a file's
// top-level tests in order); each makes the accounts it needs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ADMIN, BASE, PASSWORD, launch, linkIn, mailTo, notice, open, signIn, submit, url, visit, where,
} from '../lib/harness.mjs';
import { verifiedUser } from '../lib/users.mjs';

let chromium;
before(async () => { chromium = await launch(); });
after(async () => { await chromium?.close(); });

const heading = (page) => page.getByRole('heading', { level: 1 }).textContent();

/** Sessions rows' own "Sign out" buttons on /account (not the "every other device" one). */
const sessionRevokeButtons = (page) => page.locator('form[action^="/account/sessions/"][action$="/revoke"] button');

test('(a) sign-up, the emailed verification link, sign-in, a new name, another session ended, sign-out', async () => {
  const email = 'ada.lovelace@example.com';
  const a = await open(chromium.browser);
  const { page } = a;

  await visit(page, '/login');
  await submit(page, page.getByRole('link', { name: 'Create one' }));
  assert.equal(where(page), '/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Name (optional)').fill('Ada Lovelace');
  await page.getByLabel('Password').fill(PASSWORD);
  await submit(page, page.getByRole('button', { name: 'Create account' }));
  assert.equal(where(page), '/login?notice=check_inbox', 'post/redirect/get');
  assert.equal(await notice(page), 'Check your inbox: a message tells you how to go on.');

  // The link in the message opens a page whose form uses it; opening it alone changes nothing.
  const link = linkIn(await mailTo(email, 'Verify your email'));
  assert.ok(link.startsWith(`${BASE}/verify-email?token=`), link);
  await page.goto(link);
  assert.equal(await heading(page), 'Confirm your email address');
  await submit(page, page.getByRole('button', { name: 'Confirm my address' }));
  assert.equal(where(page), '/login?notice=email_verified');
  assert.equal(await notice(page), 'Your address is confirmed.');

  await signIn(page, email);
  assert.equal(where(page), '/account');
  assert.equal(await heading(page), 'Your account');
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Ada Lovelace');

  await page.getByLabel('Name', { exact: true }).fill('Ada King');
  await submit(page, page.getByRole('button', { name: 'Save' }));
  assert.equal(where(page), '/account?notice=saved');
  assert.equal(await notice(page), 'Saved.');
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Ada King');

  // A second browser signed in as Ada: its row on the first one's page ends it.
  const b = await open(chromium.browser);
  await signIn(b.page, email);
  assert.equal(where(b.page), '/account');
  await visit(page, '/account');
  assert.equal(await page.getByText('This device').count(), 1);
  assert.equal(await sessionRevokeButtons(page).count(), 1, 'one other session');
  await submit(page, sessionRevokeButtons(page));
  assert.equal(where(page), '/account?notice=saved');
  assert.equal(await sessionRevokeButtons(page).count(), 0);
  await visit(b.page, '/account');
  assert.equal(where(b.page), '/login?return_to=%2Faccount', 'the ended session is signed out');

  // A third one, ended by "Sign out every other device"; this one lives on.
  const c = await open(chromium.browser);
  await signIn(c.page, email);
  await visit(page, '/account');
  await submit(page, page.getByRole('button', { name: 'Sign out every other device' }));
  assert.equal(await notice(page), 'Saved.');
  await visit(c.page, '/account');
  assert.equal(where(c.page), '/login?return_to=%2Faccount');
  await visit(page, '/account');
  assert.equal(where(page), '/account');

  // Sign-out from the header.
  await submit(page, page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Sign out' }));
  assert.equal(where(page), '/login?notice=signed_out');
  assert.equal(await notice(page), 'You are signed out.');
  await visit(page, '/account');
  assert.equal(where(page), '/login?return_to=%2Faccount');

  for (const browser of [a, b, c]) {
    browser.assertClean();
    await browser.close();
  }
});

test('(b) forgot password, the emailed reset link, sign-in with the new password', async () => {
  const email = 'grace.hopper@example.com';
  await verifiedUser(email, 'Grace Hopper');
  const newPassword = 'a brand new and rather long passphrase';
  const v = await open(chromium.browser);
  const { page } = v;

  await visit(page, '/login');
  await submit(page, page.getByRole('link', { name: 'Forgot your password?' }));
  assert.equal(where(page), '/forgot-password');
  await page.getByLabel('Email').fill(email);
  await submit(page, page.getByRole('button', { name: 'Send the link' }));
  assert.equal(where(page), '/forgot-password?notice=reset_sent');
  assert.match(await notice(page), /a link to choose a new password is on its way/);

  const link = linkIn(await mailTo(email, 'Reset your'));
  assert.ok(link.startsWith(`${BASE}/reset-password?token=`), link);
  await page.goto(link);
  assert.equal(await heading(page), 'Choose a new password');
  await page.getByLabel('New password').fill(newPassword);
  await submit(page, page.getByRole('button', { name: 'Save the new password' }));
  assert.equal(where(page), '/login?notice=password_reset');
  assert.equal(await notice(page), 'Your password is changed. Sign in with it.');

  // The old password no longer works; the new one does.
  await signIn(page, email, PASSWORD);
  assert.equal(where(page), '/login');
  assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#e-password').textContent(), /not right/);
  await signIn(page, email, newPassword);
  assert.equal(where(page), '/account');
  await mailTo(email, 'Your Portcullis password was reset');

  v.assertClean();
  await v.close();
});

test('(c) an admin bans a user whose account page is open elsewhere: that page goes to sign-in', async () => {
  const email = 'alan.turing@example.com';
  await verifiedUser(email, 'Alan Turing');
  const user = await open(chromium.browser);
  await signIn(user.page, email);
  assert.equal(where(user.page), '/account');

  const admin = await open(chromium.browser);
  const { page } = admin;
  await signIn(page, ADMIN.email, ADMIN.password);
  await submit(page, page.getByRole('link', { name: 'Admin', exact: true }));
  assert.equal(where(page), '/admin');
  await page.getByLabel('Search').fill('turing');
  await submit(page, page.getByRole('button', { name: 'Filter' }));
  assert.equal(await page.locator('tbody tr').count(), 1, 'the search finds one user');
  await submit(page, page.getByRole('link', { name: email }));
  assert.match(where(page), /^\/admin\/users\/[0-9a-f-]+$/);
  await page.getByLabel('Reason').fill('Sending spam');
  await submit(page, page.getByRole('button', { name: 'Ban', exact: true }));
  assert.equal(await notice(page), 'Saved.');
  assert.ok(await page.getByRole('button', { name: 'Lift the ban' }).isVisible());

  // The user's open page: its next navigation finds no session.
  await user.page.reload();
  assert.equal(where(user.page), '/login?return_to=%2Faccount');
  await signIn(user.page, email);
  assert.match(await user.page.locator('#e-password, [role=alert]').first().textContent(), /suspended/);

  // Lifted, the user signs in again.
  await submit(page, page.getByRole('button', { name: 'Lift the ban' }));
  assert.equal(await notice(page), 'Saved.');
  await signIn(user.page, email);
  assert.equal(where(user.page), '/account');

  for (const browser of [user, admin]) {
    browser.assertClean();
    await browser.close();
  }
});

test('(d) social sign-in through the OpenID provider, then the linked account on /account', async () => {
  const s = await open(chromium.browser);
  const { page } = s;
  await visit(page, '/login');
  await submit(page, page.getByRole('link', { name: 'Continue with Corp SSO' }));
  // The provider's own (development) sign-in and consent forms.
  assert.notEqual(new URL(page.url()).origin, BASE, 'at the provider');
  await page.locator('input[name=login]').fill('katherine');
  await page.locator('input[name=password]').fill('any password works here');
  await submit(page, page.locator('button[type=submit]'));
  await submit(page, page.locator('button[type=submit]'));

  assert.equal(page.url(), url('/account'));
  assert.equal(await heading(page), 'Your account');
  assert.ok(await page.getByText('katherine.johnson@corp.example.com').first().isVisible());
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Katherine Johnson');
  const methods = page.getByRole('region', { name: 'Sign-in methods' });
  assert.ok(await methods.getByText('Corp SSO', { exact: true }).isVisible(), 'the provider is listed');
  assert.ok(await methods.getByRole('button', { name: 'Unlink Corp SSO' }).isVisible());
  // No password yet: the page offers to set one rather than change it.
  assert.ok(await page.getByRole('heading', { name: 'Set a password' }).isVisible());

  s.assertClean();
  await s.close();
});

test('(e) closing sign-up on /admin/settings hides it from /login and closes /signup', async () => {
  const admin = await open(chromium.browser);
  const visitor = await open(chromium.browser);
  const { page } = admin;
  const signUpSwitch = (choice) => page.getByRole('group', { name: 'Sign-up open' }).getByLabel(choice, { exact: true });

  await visit(visitor.page, '/login');
  assert.equal(await visitor.page.getByRole('link', { name: 'Create one' }).count(), 1);

  await signIn(page, ADMIN.email, ADMIN.password);
  await visit(page, '/admin/settings');
  await signUpSwitch('Off').check();
  await submit(page, page.getByRole('button', { name: 'Save' }));
  assert.equal(where(page), '/admin/settings?notice=saved');
  assert.ok(await signUpSwitch('Off').isChecked());

  await visit(visitor.page, '/login');
  assert.equal(await visitor.page.getByRole('link', { name: 'Create one' }).count(), 0, 'no sign-up link');
  assert.equal(await visit(visitor.page, '/signup'), 403);
  assert.equal(await heading(visitor.page), 'There is a problem');
  assert.ok(await visitor.page.getByText('Sign-up is closed.').isVisible());

  // Back to the configured default (open) for what follows.
  await signUpSwitch('Default').check();
  await submit(page, page.getByRole('button', { name: 'Save' }));
  await visit(visitor.page, '/login');
  assert.equal(await visitor.page.getByRole('link', { name: 'Create one' }).count(), 1);
  assert.equal(await visit(visitor.page, '/signup'), 200);

  for (const browser of [admin, visitor]) {
    browser.assertClean();
    await browser.close();
  }
});

test('the sign-in form works from the keyboard alone', async () => {
  const email = 'hedy.lamarr@example.com';
  await verifiedUser(email, 'Hedy Lamarr');
  const k = await open(chromium.browser);
  const { page } = k;
  await visit(page, '/login');
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return el ? (el.id || el.textContent.trim()) : null;
  });

  // The first stop is the skip link, shown when focused.
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'Skip to content');
  assert.ok(await page.getByRole('link', { name: 'Skip to content' }).isVisible());
  for (let presses = 0; (await focused()) !== 'f-email'; presses += 1) {
    assert.ok(presses < 5, 'Tab reaches the first field within a few presses');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'f-password', 'Tab goes from the identifier to the password');
  await page.keyboard.type(PASSWORD);
  const navigated = page.waitForNavigation({ waitUntil: 'load' });
  await page.keyboard.press('Enter');
  await navigated;
  assert.equal(where(page), '/account');

  k.assertClean();
  await k.close();
});
