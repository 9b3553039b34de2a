#!/usr/bin/env node
// Self-test of provider.mjs and github.mjs: starts both on random 127.0.0.1 ports and acts as a
// relying party over plain HTTP with its own cookie jar. It also serves as a reference for what a
// Rust integration test (and Portcullis itself) must do. Exit code 0 only if every check passes.
//
//   node smoke.mjs [--verbose]
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import * as crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import * as jose from 'jose';

const HERE = dirname(fileURLToPath(import.meta.url));
const VERBOSE = process.argv.includes('--verbose');
const REQUEST_TIMEOUT_MS = 5000;
const STARTUP_TIMEOUT_MS = 15000;
const OVERALL_TIMEOUT_MS = 120000;
const LEEWAY = 60; // seconds, for exp / iat

const children = [];
let passed = 0;
let failed = 0;

function killChildren() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
const watchdog = setTimeout(() => {
  console.log(`not ok - overall timeout of ${OVERALL_TIMEOUT_MS} ms reached`);
  killChildren();
  process.exit(1);
}, OVERALL_TIMEOUT_MS);
watchdog.unref();

function ok(name, detail) {
  passed += 1;
  console.log(`ok - ${name}${detail ? `\n    ${detail}` : ''}`);
}
function notOk(name, detail) {
  failed += 1;
  console.log(`not ok - ${name}${detail ? `\n    ${detail}` : ''}`);
}
async function check(name, fn) {
  try {
    const detail = await fn();
    ok(name, detail);
  } catch (err) {
    notOk(name, err.stack?.split('\n').slice(0, 3).join('\n    ') ?? String(err));
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
const short = (v, n = 300) => { const s = typeof v === 'string' ? v : JSON.stringify(v); return s.length > n ? `${s.slice(0, n)}…` : s; };

// ---- child processes ------------------------------------------------------------------------
function start(script, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(HERE, script), ...args, '--stdin-watch'], {
      cwd: HERE, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    const log = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      for (const line of d.split('\n').filter(Boolean)) {
        log.push(line);
        if (log.length > 400) log.shift();
        if (VERBOSE) process.stderr.write(`  [${script}] ${line}\n`);
      }
    });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGTERM'); reject(new Error(`${script}: no "listening" line within ${STARTUP_TIMEOUT_MS} ms\n${log.join('\n')}`)); }, STARTUP_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^listening (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) { clearTimeout(timer); resolve({ url: m[1], child, log }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited early (${code})\n${log.join('\n')}`)); });
  });
}

// ---- HTTP with a cookie jar -----------------------------------------------------------------
class CookieJar {
  constructor() { this.cookies = []; }

  store(url, setCookies) {
    const u = new URL(url);
    for (const sc of setCookies) {
      const [nv, ...attrs] = sc.split(';');
      const eq = nv.indexOf('=');
      if (eq < 1) continue;
      const c = { name: nv.slice(0, eq).trim(), value: nv.slice(eq + 1).trim(), host: u.hostname, path: u.pathname.replace(/\/[^/]*$/, '') || '/', expires: null };
      for (const a of attrs) {
        const [k, ...v] = a.trim().split('=');
        const val = v.join('=');
        if (/^path$/i.test(k) && val.startsWith('/')) c.path = val;
        else if (/^max-age$/i.test(k)) c.expires = Date.now() + Number(val) * 1000;
        else if (/^expires$/i.test(k) && c.expires === null) c.expires = Date.parse(val);
      }
      this.cookies = this.cookies.filter((o) => !(o.name === c.name && o.host === c.host && o.path === c.path));
      if (c.expires === null || c.expires > Date.now()) this.cookies.push(c);
    }
  }

  header(url) {
    const u = new URL(url);
    const pathMatch = (p) => u.pathname === p || (u.pathname.startsWith(p) && (p.endsWith('/') || u.pathname[p.length] === '/'));
    return this.cookies
      .filter((c) => c.host === u.hostname && pathMatch(c.path) && (c.expires === null || c.expires > Date.now()))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

/**
 * The simplest jar that works with the OP: one value per cookie name (the latest Set-Cookie
 * wins), every cookie sent on every request, paths and expiry ignored (except deletion).
 * This is what the README recommends for a Rust test without reqwest's `cookies` feature.
 */
class NaiveJar {
  constructor() { this.map = new Map(); }

  store(url, setCookies) {
    for (const sc of setCookies) {
      const [nv, ...attrs] = sc.split(';');
      const eq = nv.indexOf('=');
      const name = nv.slice(0, eq).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (gone) this.map.delete(name); else this.map.set(name, nv.slice(eq + 1).trim());
    }
  }

  header() { return [...this.map].map(([k, v]) => `${k}=${v}`).join('; '); }
}

async function request(url, {
  method = 'GET', jar, form, json, headers = {}, basic,
} = {}) {
  const h = { 'user-agent': 'portcullis-oidc-smoke', ...headers };
  let body;
  if (form) { body = new URLSearchParams(form).toString(); h['content-type'] = 'application/x-www-form-urlencoded'; }
  if (json !== undefined) { body = JSON.stringify(json); h['content-type'] = 'application/json'; }
  if (basic) h.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
  if (jar) { const c = jar.header(url); if (c) h.cookie = c; }
  const res = await fetch(url, {
    method, headers: h, body, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (jar) jar.store(url, res.headers.getSetCookie());
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, url, location: res.headers.get('location') ? new URL(res.headers.get('location'), url).href : null };
}
const jsonOf = (r) => { try { return JSON.parse(r.text); } catch { throw new Error(`not JSON (${r.status}): ${short(r.text)}`); } };

const rand = (n = 16) => crypto.randomBytes(n).toString('base64url');
const s256 = (v) => crypto.createHash('sha256').update(v).digest('base64url');

// ---- the relying party ----------------------------------------------------------------------
/**
 * Authorization request (PKCE S256, state, nonce), then drive the devInteractions pages:
 * every 3xx is followed; every 200 page with a form is submitted (login form: prompt=login,
 * login=<name>, password=<anything>; consent form: prompt=consent) to its `action`.
 * Stops at the redirect to redirect_uri and returns its URL.
 */
async function oidcAuthorize(op, client, { login = 'alice', jar = new CookieJar(), pkce = true, redirectUri = client.redirect_uris[0] } = {}) {
  const state = rand();
  const nonce = rand();
  const verifier = rand(32);
  const authUrl = new URL(op.discovery.authorization_endpoint);
  const params = {
    client_id: client.client_id, redirect_uri: redirectUri, response_type: 'code', scope: 'openid email profile', state, nonce,
  };
  if (pkce) Object.assign(params, { code_challenge: s256(verifier), code_challenge_method: 'S256' });
  for (const [k, v] of Object.entries(params)) authUrl.searchParams.set(k, v);

  const trail = [];
  let res = await request(authUrl.href, { jar });
  for (let hop = 0; hop < 12; hop += 1) {
    trail.push(`${res.status} ${new URL(res.url).pathname}`);
    if (res.status >= 300 && res.status < 400 && res.location) {
      const loc = new URL(res.location);
      if (loc.origin + loc.pathname === new URL(redirectUri).origin + new URL(redirectUri).pathname) {
        return { callback: loc, state, nonce, verifier, trail, redirectUri };
      }
      res = await request(loc.href, { jar });
      continue;
    }
    const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(res.text);
    if (res.status === 200 && form) {
      const prompt = /name="prompt" value="([^"]+)"/.exec(form[2])?.[1];
      const action = new URL(form[1].replace(/&amp;/g, '&'), res.url).href;
      const fields = prompt === 'login' ? { prompt: 'login', login, password: 'any-password' } : { prompt };
      trail.push(`POST form prompt=${prompt}`);
      res = await request(action, { method: 'POST', jar, form: fields });
      continue;
    }
    throw new Error(`unexpected ${res.status} at ${res.url}: ${short(res.text, 400)}`);
  }
  throw new Error(`too many hops: ${trail.join(' → ')}`);
}

async function exchangeCode(op, client, flow, { auth = 'basic', verifier = flow.verifier } = {}) {
  const form = { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code'), redirect_uri: flow.redirectUri, code_verifier: verifier };
  const opts = { method: 'POST', form, headers: { accept: 'application/json' } };
  if (auth === 'basic') opts.basic = [client.client_id, client.client_secret];
  else Object.assign(form, { client_id: client.client_id, client_secret: client.client_secret });
  const r = await request(op.discovery.token_endpoint, opts);
  return { status: r.status, body: jsonOf(r) };
}

class Refused extends Error {}
const refuse = (msg) => { throw new Refused(msg); };

/** What an RP must check on an id_token (OIDC Core 3.1.3.7 + the rules in docs/api.md). */
async function validateIdToken(op, client, idToken, nonce) {
  const parts = String(idToken).split('.');
  if (parts.length !== 3) refuse('id_token is not a compact JWS');
  let header;
  try { header = JSON.parse(Buffer.from(parts[0], 'base64url')); } catch { refuse('id_token header is not JSON'); }
  if (header.alg !== 'RS256') refuse(`alg ${header.alg} not allowed (expected RS256)`);
  const candidates = op.jwks.keys.filter((k) => k.kty === 'RSA' && (!k.use || k.use === 'sig') && (!k.alg || k.alg === 'RS256'));
  let jwk;
  if (header.kid !== undefined) {
    jwk = candidates.find((k) => k.kid === header.kid);
    if (!jwk) refuse(`kid ${header.kid} not in the JWKS`);
  } else if (candidates.length === 1) {
    [jwk] = candidates;
  } else {
    refuse(`no kid in the header and ${candidates.length} candidate keys in the JWKS`);
  }
  let payload;
  try {
    const { payload: p } = await jose.compactVerify(idToken, await jose.importJWK(jwk, 'RS256'), { algorithms: ['RS256'] });
    payload = JSON.parse(Buffer.from(p));
  } catch (err) {
    refuse(`signature verification failed (${err.code ?? err.message})`);
  }
  const now = Math.floor(Date.now() / 1000);
  if (payload.iss !== op.issuer) refuse(`iss ${payload.iss} is not the issuer ${op.issuer}`);
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!aud.includes(client.client_id)) refuse(`aud ${JSON.stringify(payload.aud)} does not contain ${client.client_id}`);
  if (aud.length > 1 && payload.azp !== client.client_id) refuse(`aud has several audiences ${JSON.stringify(aud)} and azp is ${payload.azp}`);
  if (payload.azp !== undefined && payload.azp !== client.client_id) refuse(`azp ${payload.azp} is not ${client.client_id}`);
  if (typeof payload.exp !== 'number' || payload.exp + LEEWAY < now) refuse(`exp ${payload.exp} is in the past (now ${now})`);
  if (typeof payload.iat !== 'number' || payload.iat - LEEWAY > now) refuse(`iat ${payload.iat} missing or in the future (now ${now})`);
  if (typeof payload.sub !== 'string' || payload.sub === '') refuse('sub missing');
  if (payload.nonce !== nonce) refuse(`nonce ${payload.nonce} does not match the one sent`);
  return { header, payload };
}

/** The whole relying-party side after the redirect back; throws Refused with a reason. */
async function relyingParty(op, client, flow, { auth = 'basic', seen = {} } = {}) {
  seen.callback = flow.callback.href;
  const cb = flow.callback.searchParams;
  if (cb.get('error')) refuse(`authorization error ${cb.get('error')}: ${cb.get('error_description')}`);
  if (cb.get('state') !== flow.state) refuse('state mismatch');
  if (op.discovery.authorization_response_iss_parameter_supported && cb.get('iss') !== op.issuer) {
    refuse(`authorization response iss ${cb.get('iss')} is not the issuer`);
  }
  if (!cb.get('code')) refuse('no code');
  const tok = await exchangeCode(op, client, flow, { auth });
  seen.tokens = tok.body;
  if (tok.status !== 200) refuse(`token endpoint ${tok.status} ${short(tok.body)}`);
  if (!tok.body.id_token) refuse('token response has no id_token');
  if (String(tok.body.token_type).toLowerCase() !== 'bearer') refuse(`token_type ${tok.body.token_type}`);
  const { header, payload } = await validateIdToken(op, client, tok.body.id_token, flow.nonce);
  const ui = await request(op.discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tok.body.access_token}` } });
  if (ui.status !== 200) refuse(`userinfo ${ui.status}`);
  const userinfo = jsonOf(ui);
  seen.userinfo = userinfo;
  if (userinfo.sub !== payload.sub) refuse(`userinfo sub ${userinfo.sub} differs from id_token sub ${payload.sub}`);
  return {
    tokens: tok.body, header, payload, userinfo,
  };
}

function showAltered(mode, seen) {
  if (mode.startsWith('auth_iss')) return `callback ${seen.callback}`;
  if (mode === 'userinfo_sub_mismatch') return `userinfo ${short(seen.userinfo, 200)} (id_token sub ${decodeJwt(seen.tokens.id_token).payload.sub})`;
  if (mode === 'id_token_missing') return `token response keys ${Object.keys(seen.tokens ?? {}).join(',')}`;
  const d = decodeJwt(seen.tokens?.id_token);
  const {
    iss, aud, azp, sub, nonce, iat, exp,
  } = d.payload;
  return `id_token header ${short(d.header)} payload ${short({
    iss, aud, azp, sub, nonce, iat, exp,
  })} signature ${d.signature}`;
}

function decodeJwt(t) {
  const [h, p, s] = String(t).split('.');
  const dec = (x) => { try { return JSON.parse(Buffer.from(x, 'base64url')); } catch { return x; } };
  return { header: dec(h), payload: dec(p), signature: s ? `${s.slice(0, 12)}…(${s.length} chars)` : '(empty)' };
}

// ---- tests ----------------------------------------------------------------------------------
const CLIENT = { client_id: 'smoke-rp', client_secret: 'smoke-secret', redirect_uris: ['http://127.0.0.1:9/api/auth/oauth/corp/callback'] };
const CLIENT2 = { client_id: 'smoke-rp-2', client_secret: 'smoke-secret-2', redirect_uris: ['http://127.0.0.1:9/other/callback'] };

const EXPECT = {
  iss_mismatch: /^iss /,
  aud_mismatch: /^aud /,
  aud_multiple_no_azp: /several audiences/,
  bad_signature: /signature verification failed/,
  alg_none: /alg none not allowed/,
  alg_hs256: /alg HS256 not allowed/,
  kid_unknown: /not in the JWKS/,
  kid_missing: /no kid in the header and 2 candidate keys/,
  nonce_mismatch: /nonce/,
  nonce_missing: /nonce undefined/,
  iat_future: /iat .* in the future/,
  exp_past: /exp .* in the past/,
  sub_missing: /sub missing/,
  id_token_missing: /no id_token/,
  userinfo_sub_mismatch: /userinfo sub/,
  auth_iss_mismatch: /authorization response iss/,
  auth_iss_missing: /authorization response iss null/,
};

async function loadOp(url) {
  const discovery = jsonOf(await request(`${url}/.well-known/openid-configuration`));
  const jwks = jsonOf(await request(discovery.jwks_uri));
  return { issuer: discovery.issuer, discovery, jwks, url };
}

async function oidcTests() {
  const srv = await start('provider.mjs', ['--port', '0', '--clients', JSON.stringify([CLIENT])]);
  const op = await loadOp(srv.url);
  const admin = (path, json) => request(`${srv.url}/__test/${path}`, { method: 'POST', json }).then(jsonOf);

  await check('discovery: issuer, code flow, S256, RFC 9207 iss, both client auth methods', () => {
    const d = op.discovery;
    assert(d.issuer === srv.url, `issuer ${d.issuer}`);
    assert(d.authorization_response_iss_parameter_supported === true, 'iss parameter not advertised');
    assert(JSON.stringify(d.code_challenge_methods_supported) === '["S256"]', 'S256 only');
    assert(JSON.stringify(d.response_types_supported) === '["code"]', 'code only');
    assert(['client_secret_basic', 'client_secret_post'].every((m) => d.token_endpoint_auth_methods_supported.includes(m)), 'auth methods');
    return `issuer ${d.issuer}`;
  });
  await check('JWKS publishes at least two RS256 signing keys', () => {
    assert(op.jwks.keys.length >= 2 && op.jwks.keys.every((k) => k.kty === 'RSA' && k.kid && !k.d), short(op.jwks));
    return `kids ${op.jwks.keys.map((k) => k.kid).join(', ')}`;
  });

  await check('full code flow (client_secret_basic): login + consent forms, code, verified id_token, email claims, userinfo', async () => {
    const flow = await oidcAuthorize(op, CLIENT, { login: 'alice' });
    const cb = flow.callback.searchParams;
    assert(cb.get('code') && cb.get('state') === flow.state && cb.get('iss') === op.issuer, `callback ${flow.callback}`);
    const rp = await relyingParty(op, CLIENT, flow);
    assert(rp.payload.sub === 'alice' && rp.payload.email === 'alice@example.test' && rp.payload.email_verified === true, short(rp.payload));
    assert(rp.header.kid === op.jwks.keys[0].kid, 'signed with the first key');
    return `trail: ${flow.trail.join(' → ')}\n    id_token payload: ${short(rp.payload)}`;
  });

  await check('per-test account: email and email_verified=false in id_token and userinfo (client_secret_post)', async () => {
    const r = await admin('account', {
      login: 'bob', sub: 'bob-sub-42', email: 'bob@corp.test', email_verified: false, name: 'Bob B',
    });
    assert(r.claims?.email === 'bob@corp.test', short(r));
    const flow = await oidcAuthorize(op, CLIENT, { login: 'bob' });
    const rp = await relyingParty(op, CLIENT, flow, { auth: 'post' });
    assert(rp.payload.sub === 'bob-sub-42' && rp.payload.email === 'bob@corp.test' && rp.payload.email_verified === false && rp.payload.name === 'Bob B', short(rp.payload));
    assert(rp.userinfo.email_verified === false && rp.userinfo.sub === 'bob-sub-42', short(rp.userinfo));
    return `id_token: sub=${rp.payload.sub} email=${rp.payload.email} email_verified=${rp.payload.email_verified}`;
  });

  await check('a claim set to null is left out (account without email)', async () => {
    await admin('account', { login: 'noemail', email: null, email_verified: null });
    const flow = await oidcAuthorize(op, CLIENT, { login: 'noemail' });
    const rp = await relyingParty(op, CLIENT, flow);
    assert(!('email' in rp.payload) && !('email_verified' in rp.payload), short(rp.payload));
  });

  await check('naive cookie jar (name → latest value, sent everywhere) drives the flow too', async () => {
    const flow = await oidcAuthorize(op, CLIENT, { login: 'erin', jar: new NaiveJar() });
    const rp = await relyingParty(op, CLIENT, flow);
    assert(rp.payload.sub === 'erin', short(rp.payload));
  });

  await check('minimal fixed sequence without reading the pages (the README recipe)', async () => {
    const jar = new NaiveJar();
    const verifier = rand(32);
    const u = new URL(op.discovery.authorization_endpoint);
    Object.entries({
      client_id: CLIENT.client_id, redirect_uri: CLIENT.redirect_uris[0], response_type: 'code', scope: 'openid email profile', state: 'st', nonce: 'no', code_challenge: s256(verifier), code_challenge_method: 'S256',
    }).forEach(([k, v]) => u.searchParams.set(k, v));
    const steps = [];
    const step = async (expect, url, opts) => {
      const r = await request(url, { jar, ...opts });
      steps.push(`${opts?.method ?? 'GET'} ${new URL(url).pathname} → ${r.status} ${r.location ? new URL(r.location).pathname : ''}`);
      assert(r.status === expect && r.location, `${url}: ${r.status} ${short(r.text)}`);
      return r.location;
    };
    const i1 = await step(303, u.href); // → /interaction/U1
    const a1 = await step(303, i1, { method: 'POST', form: { prompt: 'login', login: 'frank', password: 'x' } }); // → /auth/U1
    const i2 = await step(303, a1); // → /interaction/U2
    const a2 = await step(303, i2, { method: 'POST', form: { prompt: 'consent' } }); // → /auth/U2
    const cb = new URL(await step(303, a2)); // → redirect_uri?code&state&iss
    assert(cb.href.startsWith(CLIENT.redirect_uris[0]) && cb.searchParams.get('code') && cb.searchParams.get('state') === 'st' && cb.searchParams.get('iss') === op.issuer, cb.href);
    const rp = await relyingParty(op, CLIENT, {
      callback: cb, state: 'st', nonce: 'no', verifier, redirectUri: CLIENT.redirect_uris[0],
    });
    assert(rp.payload.sub === 'frank', short(rp.payload));
    return steps.join('\n    ');
  });

  await check('PKCE is required: no code_challenge → error=invalid_request at redirect_uri', async () => {
    const flow = await oidcAuthorize(op, CLIENT, { pkce: false });
    assert(flow.callback.searchParams.get('error') === 'invalid_request', String(flow.callback));
    return `${flow.callback.searchParams.get('error')}: ${flow.callback.searchParams.get('error_description')}`;
  });

  await check('wrong code_verifier → invalid_grant; code is single use', async () => {
    const flow = await oidcAuthorize(op, CLIENT);
    const bad = await exchangeCode(op, CLIENT, flow, { verifier: rand(32) });
    assert(bad.status === 400 && bad.body.error === 'invalid_grant', short(bad));
    const flow2 = await oidcAuthorize(op, CLIENT);
    const first = await exchangeCode(op, CLIENT, flow2);
    const again = await exchangeCode(op, CLIENT, flow2);
    assert(first.status === 200 && again.status === 400 && again.body.error === 'invalid_grant', short(again));
  });

  await check('wrong client_secret → 401 invalid_client', async () => {
    const flow = await oidcAuthorize(op, CLIENT);
    const r = await exchangeCode(op, { ...CLIENT, client_secret: 'nope' }, flow);
    assert(r.status === 401 && r.body.error === 'invalid_client', short(r));
  });

  await check('unregistered redirect_uri is refused without redirecting', async () => {
    const u = new URL(op.discovery.authorization_endpoint);
    Object.entries({
      client_id: CLIENT.client_id, redirect_uri: 'http://127.0.0.1:9/evil', response_type: 'code', scope: 'openid', state: 's', nonce: 'n', code_challenge: s256(rand(32)), code_challenge_method: 'S256',
    }).forEach(([k, v]) => u.searchParams.set(k, v));
    const r = await request(u.href);
    assert(r.status === 400 && !r.location && /redirect_uri/.test(r.text), `${r.status} ${r.location}`);
  });

  await check('runtime client registration (POST /__test/client) and a flow with it', async () => {
    const r = await admin('client', CLIENT2);
    assert(r.client_id === CLIENT2.client_id, short(r));
    const flow = await oidcAuthorize(op, CLIENT2, { login: 'carol' });
    const rp = await relyingParty(op, CLIENT2, flow);
    assert(rp.payload.aud === CLIENT2.client_id, short(rp.payload));
  });

  // Misbehaviour modes: each must be refused by the RP for the expected reason.
  for (const mode of Object.keys(EXPECT)) {
    await check(`misbehave ${mode}: RP refuses`, async () => {
      const set = await admin('misbehave', { mode });
      assert(set.misbehave?.mode === mode, short(set));
      try {
        const flow = await oidcAuthorize(op, CLIENT, { login: `m-${mode}` });
        const seen = {};
        try {
          await relyingParty(op, CLIENT, flow, { seen });
          throw new Error('RP accepted the misbehaving response');
        } catch (err) {
          if (!(err instanceof Refused)) throw err;
          assert(EXPECT[mode].test(err.message), `refused for another reason: ${err.message}`);
          return `refused: ${err.message}\n    what the OP sent: ${showAltered(mode, seen)}`;
        }
      } finally {
        await admin('misbehave', { mode: null });
      }
    });
  }

  await check('POST /__test/id-token mints a valid id_token (and a broken one with mode)', async () => {
    const good = await admin('id-token', { client_id: CLIENT.client_id, login: 'bob', nonce: 'n-1' });
    const { payload } = await validateIdToken(op, CLIENT, good.id_token, 'n-1');
    assert(payload.sub === 'bob-sub-42' && payload.email === 'bob@corp.test' && payload.email_verified === false, short(payload));
    const bad = await admin('id-token', { client_id: CLIENT.client_id, login: 'bob', nonce: 'n-1', mode: 'exp_past' });
    let reason = '';
    try { await validateIdToken(op, CLIENT, bad.id_token, 'n-1'); } catch (err) { reason = err.message; }
    assert(/exp .* in the past/.test(reason), `expected an exp refusal, got ${reason || 'acceptance'}`);
    return `minted sub=${payload.sub}; with mode exp_past: ${reason}`;
  });

  await check('misbehave with count:1 applies once, then the OP behaves again', async () => {
    await admin('misbehave', { mode: 'bad_signature', count: 1 });
    let refused = false;
    try { await relyingParty(op, CLIENT, await oidcAuthorize(op, CLIENT)); } catch (err) { refused = err instanceof Refused; }
    assert(refused, 'first flow should be refused');
    await relyingParty(op, CLIENT, await oidcAuthorize(op, CLIENT));
    const st = jsonOf(await request(`${srv.url}/__test/state`));
    assert(st.misbehave === null, `mode should be reset, got ${short(st.misbehave)}`);
  });

  await check('misbehave scoped to one client_id leaves other clients alone', async () => {
    await admin('misbehave', { mode: 'bad_signature', client_id: CLIENT2.client_id });
    try {
      await relyingParty(op, CLIENT, await oidcAuthorize(op, CLIENT));
      let refused = false;
      try { await relyingParty(op, CLIENT2, await oidcAuthorize(op, CLIENT2)); } catch (err) { refused = err instanceof Refused; }
      assert(refused, 'scoped client not affected');
    } finally {
      await admin('misbehave', { mode: null });
    }
  });

  await check('second login in the same cookie jar reuses the OP session (no forms)', async () => {
    const jar = new CookieJar();
    await relyingParty(op, CLIENT, await oidcAuthorize(op, CLIENT, { jar, login: 'dave' }));
    const again = await oidcAuthorize(op, CLIENT, { jar, login: 'ignored' });
    const rp = await relyingParty(op, CLIENT, again);
    assert(rp.payload.sub === 'dave' && !again.trail.some((t) => t.startsWith('POST')), again.trail.join(' → '));
    return `trail: ${again.trail.join(' → ')}`;
  });

  srv.child.kill('SIGTERM');

  // Single-key OP: the positive certification case rp-id_token-kid-absent-single-jwks.
  const one = await start('provider.mjs', ['--port', '0', '--keys', '1', '--clients', JSON.stringify([CLIENT]), '--misbehave', 'kid_missing']);
  const op1 = await loadOp(one.url);
  await check('--keys 1 with kid_missing: a kid-less id_token with a single-key JWKS is accepted', async () => {
    assert(op1.jwks.keys.length === 1, 'one key');
    const flow = await oidcAuthorize(op1, CLIENT);
    const rp = await relyingParty(op1, CLIENT, flow);
    assert(rp.header.kid === undefined, short(rp.header));
    return `header ${short(rp.header)}`;
  });
  one.child.kill('SIGTERM');
}

async function githubTests() {
  const GH = { client_id: 'gh-smoke', client_secret: 'gh-smoke-secret', redirect_uris: ['http://127.0.0.1:9/api/auth/oauth/github/callback'] };
  const srv = await start('github.mjs', ['--port', '0', '--clients', JSON.stringify([GH])]);
  const web = srv.url;
  const api = `${srv.url}/api/v3`;
  const admin = (path, json) => request(`${web}/__test/${path}`, { method: 'POST', json }).then(jsonOf);

  async function authorize({ pkce = true, scope = 'read:user user:email', redirectUri = GH.redirect_uris[0] } = {}) {
    const state = rand();
    const verifier = rand(32);
    const u = new URL(`${web}/login/oauth/authorize`);
    const p = { client_id: GH.client_id, redirect_uri: redirectUri, scope, state };
    if (pkce) Object.assign(p, { code_challenge: s256(verifier), code_challenge_method: 'S256' });
    Object.entries(p).forEach(([k, v]) => u.searchParams.set(k, v));
    const r = await request(u.href);
    assert(r.status === 302 && r.location, `authorize ${r.status} ${short(r.text)}`);
    return { cb: new URL(r.location), state, verifier };
  }
  async function token(flow, { accept = 'application/json', verifier = flow.verifier } = {}) {
    return request(`${web}/login/oauth/access_token`, {
      method: 'POST',
      headers: accept ? { accept } : {},
      form: {
        client_id: GH.client_id, client_secret: GH.client_secret, code: flow.cb.searchParams.get('code'), redirect_uri: GH.redirect_uris[0], code_verifier: verifier,
      },
    });
  }
  const apiGet = (path, tok, headers = {}) => request(`${api}${path}`, { headers: { accept: 'application/vnd.github+json', ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...headers } });

  await check('github: authorize → code+state, token (JSON), /user, /user/emails → primary verified email', async () => {
    const flow = await authorize();
    assert(flow.cb.searchParams.get('state') === flow.state && flow.cb.searchParams.get('code'), String(flow.cb));
    const t = jsonOf(await token(flow));
    assert(t.access_token?.startsWith('gho_') && t.token_type === 'bearer' && t.scope === 'read:user,user:email', short(t));
    const user = jsonOf(await apiGet('/user', t.access_token));
    assert(user.login === 'octocat' && Number.isInteger(user.id), short(user));
    const emails = jsonOf(await apiGet('/user/emails', t.access_token));
    const primary = emails.find((e) => e.primary && e.verified);
    assert(primary?.email === 'octocat@example.test', short(emails));
    return `user id=${user.id} login=${user.login}; primary verified email ${primary.email}`;
  });

  await check('github: token endpoint answers form-encoded without Accept: application/json', async () => {
    const r = await token(await authorize(), { accept: null });
    assert(/application\/x-www-form-urlencoded/.test(r.headers.get('content-type')), r.headers.get('content-type'));
    const p = new URLSearchParams(r.text);
    assert(p.get('access_token') && p.get('token_type') === 'bearer', r.text);
    return short(r.text.replace(/gho_[^&]+/, 'gho_…'));
  });

  await check('github: API also served at the root (no /api/v3)', async () => {
    const t = jsonOf(await token(await authorize()));
    const r = await request(`${web}/user`, { headers: { authorization: `token ${t.access_token}` } });
    assert(r.status === 200 && jsonOf(r).login === 'octocat', `${r.status}`);
  });

  await check('github: errors as GitHub sends them (200 + error), wrong verifier, reused code, no PKCE allowed', async () => {
    const flow = await authorize();
    const bad = jsonOf(await token(flow, { verifier: rand(32) }));
    assert(bad.error === 'bad_verification_code', short(bad));
    const again = jsonOf(await token(flow));
    assert(again.error === 'bad_verification_code', `code must be single use: ${short(again)}`);
    const nopkce = await authorize({ pkce: false });
    const t = jsonOf(await token(nopkce, { verifier: undefined }));
    assert(t.access_token, short(t));
    const wrongSecret = jsonOf(await request(`${web}/login/oauth/access_token`, {
      method: 'POST', headers: { accept: 'application/json' }, form: { client_id: GH.client_id, client_secret: 'x', code: 'y' },
    }));
    assert(wrongSecret.error === 'incorrect_client_credentials', short(wrongSecret));
  });

  await check('github: API needs a token (401) and a User-Agent (403)', async () => {
    const t = jsonOf(await token(await authorize()));
    assert((await apiGet('/user', null)).status === 401, 'no token');
    assert((await apiGet('/user', 'gho_wrong')).status === 401, 'bad token');
    // node:http sends no User-Agent unless told to (fetch always sends one).
    const status = await new Promise((resolve, reject) => {
      const rq = httpRequest(`${api}/user`, { headers: { authorization: `Bearer ${t.access_token}` }, timeout: REQUEST_TIMEOUT_MS }, (res) => { res.resume(); resolve(res.statusCode); });
      rq.on('timeout', () => rq.destroy(new Error('timeout')));
      rq.on('error', reject);
      rq.end();
    });
    assert(status === 403, `without User-Agent: ${status}`);
  });

  await check('github: scope without user:email → /user/emails 404', async () => {
    const t = jsonOf(await token(await authorize({ scope: 'read:user' })));
    assert((await apiGet('/user/emails', t.access_token)).status === 404, 'expected 404');
  });

  await check('github: per-test user with unverified primary and a verified secondary', async () => {
    await admin('user', {
      login: 'mona', id: 4242, name: 'Mona', email: null,
      emails: [
        { email: 'mona@primary.test', primary: true, verified: false, visibility: 'private' },
        { email: 'mona@secondary.test', primary: false, verified: true, visibility: null },
      ],
    });
    const t = jsonOf(await token(await authorize()));
    const user = jsonOf(await apiGet('/user', t.access_token));
    const emails = jsonOf(await apiGet('/user/emails', t.access_token));
    assert(user.id === 4242 && user.email === null && emails.length === 2 && !emails.some((e) => e.primary && e.verified), short(emails));
    await admin('reset', {});
    return `emails ${short(emails)}`;
  });

  await check('github: `login` on the authorize URL picks a configured user (for shared servers)', async () => {
    await admin('user', { login: 'hubot', id: 7, emails: [{ email: 'hubot@example.test', primary: true, verified: true }] });
    await admin('user', { login: 'octocat', id: 583231 }); // octocat approves by default again
    const verifier = rand(32);
    const url = new URL(`${web}/login/oauth/authorize`);
    Object.entries({
      client_id: GH.client_id, scope: 'user:email', state: 'x', login: 'hubot', code_challenge: s256(verifier), code_challenge_method: 'S256',
    }).forEach(([k, v]) => url.searchParams.set(k, v));
    const r = await request(url.href);
    assert(r.status === 302 && r.location.startsWith(GH.redirect_uris[0]), `${r.status} ${r.location}`);
    const t = jsonOf(await token({ cb: new URL(r.location), verifier }));
    const user = jsonOf(await apiGet('/user', t.access_token));
    assert(user.login === 'hubot' && user.id === 7, short(user));
    const def = jsonOf(await apiGet('/user', jsonOf(await token(await authorize())).access_token));
    assert(def.login === 'octocat', short(def));
    await admin('reset', {});
  });

  await check('github: redirect_uri mismatch → back to the registered callback with error', async () => {
    const flow = await authorize({ redirectUri: 'http://127.0.0.1:9/evil' });
    assert(flow.cb.pathname === new URL(GH.redirect_uris[0]).pathname && flow.cb.searchParams.get('error') === 'redirect_uri_mismatch', String(flow.cb));
  });

  await check('github: misbehave access_denied and emails_forbidden', async () => {
    await admin('misbehave', { mode: 'access_denied' });
    const d = await authorize();
    assert(d.cb.searchParams.get('error') === 'access_denied' && d.cb.searchParams.get('state') === d.state, String(d.cb));
    await admin('misbehave', { mode: 'emails_forbidden' });
    const t = jsonOf(await token(await authorize()));
    assert((await apiGet('/user/emails', t.access_token)).status === 404, 'emails_forbidden');
    await admin('misbehave', { mode: null });
  });

  srv.child.kill('SIGTERM');
}

async function main() {
  try {
    await oidcTests();
    await githubTests();
  } catch (err) {
    notOk('harness', err.stack);
  } finally {
    killChildren();
  }
  const exits = children.map((c) => new Promise((r) => { if (c.exitCode !== null || c.signalCode !== null) r(); else c.once('exit', r); }));
  await Promise.race([Promise.all(exits), new Promise((r) => { setTimeout(r, 3000).unref(); })]);
  const unclean = children.filter((c) => c.exitCode !== 0);
  if (unclean.length) notOk('servers exit cleanly on SIGTERM', unclean.map((c) => `pid ${c.pid}: exit ${c.exitCode} signal ${c.signalCode}`).join(', '));
  else ok('servers exit cleanly on SIGTERM (exit code 0)');
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
