// Accounts made for a test without going through the pages it is not about: sign-up by the
// JSON API, then the emailed verification link used by the API too.
import assert from 'node:assert/strict';

import { PASSWORD, mailTo, url } from './harness.mjs';

async function post(path, body) {
  const response = await fetch(url(path), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** A verified account with the test password; its id. */
export async function verifiedUser(email, name) {
  const registered = await post('/api/auth/register', { email, password: PASSWORD, name });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const message = await mailTo(email, 'Verify your email');
  const token = message.text.match(/token=([A-Za-z0-9_-]+)/)[1];
  const verified = await post('/api/auth/email/verify', { token });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  return registered.body.user.id;
}
