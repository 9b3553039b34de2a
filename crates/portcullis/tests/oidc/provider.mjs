#!/usr/bin/env node
// A real OpenID Provider (panva/oidc-provider 8.x, OpenID certified) for Portcullis integration
// tests, with development login/consent forms, per-test accounts and misbehaviour modes that
// reproduce the OpenID Foundation RP certification negative cases. Test use only: it listens on
// 127.0.0.1 and its admin endpoints (/__test/*) are unauthenticated. See README.md.
import * as http from 'node:http';
import * as crypto from 'node:crypto';

import Provider from 'oidc-provider';
import * as jose from 'jose';

import {
  HOST, options, parseJson, parsePort, readBody, parseBody, lifecycle, logRequest,
} from './common.mjs';

const NAME = 'oidc-provider';

const opts = options({
  port: { env: 'OIDC_PORT', default: '0' },
  clients: { env: 'OIDC_CLIENTS' },
  accounts: { env: 'OIDC_ACCOUNTS' },
  keys: { env: 'OIDC_SIGNING_KEYS', default: '2' },
  misbehave: { env: 'OIDC_MISBEHAVE' },
  'stdin-watch': { env: 'OIDC_STDIN_WATCH', type: 'boolean', default: false },
  'max-lifetime': { env: 'OIDC_MAX_LIFETIME', default: '1800' },
  quiet: { env: 'OIDC_QUIET', type: 'boolean', default: false },
});

const DEFAULT_CLIENTS = [{
  client_id: 'portcullis',
  client_secret: 'portcullis-secret',
  redirect_uris: ['http://127.0.0.1:8080/api/auth/oauth/corp/callback'],
}];

// ---------------------------------------------------------------------------------------------
// Misbehaviour modes: each post-processes one response so that exactly one thing is wrong.
// ---------------------------------------------------------------------------------------------
export const MODES = {
  iss_mismatch: 'id_token `iss` differs from the issuer (re-signed with the OP key)',
  aud_mismatch: 'id_token `aud` is another client (re-signed)',
  aud_multiple_no_azp: 'id_token `aud` is [client, other] without `azp` (re-signed)',
  bad_signature: 'id_token signature bytes altered (header and payload untouched)',
  alg_none: 'unsigned id_token: header {"alg":"none"}, empty signature',
  alg_hs256: 'id_token signed HS256 with the client_secret as key (client registered RS256)',
  kid_unknown: 'id_token signed RS256 by a key that is not in the JWKS (kid not published)',
  kid_missing: 'id_token header has no `kid`; the JWKS publishes several RS256 keys (re-signed)',
  nonce_mismatch: 'id_token `nonce` differs from the one sent (re-signed)',
  nonce_missing: 'id_token has no `nonce` although one was sent (re-signed)',
  iat_future: 'id_token `iat` one day in the future (`exp` after it) (re-signed)',
  exp_past: 'id_token `exp` one hour in the past (`iat` two hours ago) (re-signed)',
  sub_missing: 'id_token has no `sub` (re-signed)',
  id_token_missing: 'token response has no `id_token`',
  userinfo_sub_mismatch: 'userinfo `sub` differs from the id_token `sub`',
  auth_iss_mismatch: 'authorization response `iss` (RFC 9207) differs from the issuer',
  auth_iss_missing: 'authorization response has no `iss` parameter',
};

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const b64uJson = (obj) => b64u(JSON.stringify(obj));
const unb64uJson = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

async function main() {
  const nKeys = Number(opts.keys);
  if (!Number.isInteger(nKeys) || nKeys < 1 || nKeys > 5) throw new Error('--keys must be 1..5');
  const initialClients = parseJson('clients', opts.clients, DEFAULT_CLIENTS);
  const initialAccounts = parseJson('accounts', opts.accounts, {});
  if (!Array.isArray(initialClients)) throw new Error('clients must be a JSON array');
  if (typeof initialAccounts !== 'object' || Array.isArray(initialAccounts)) throw new Error('accounts must be a JSON object keyed by login');
  if (opts.misbehave && !MODES[opts.misbehave]) throw new Error(`unknown misbehave mode ${opts.misbehave}`);

  // Signing keys: all RS256 so an RP cannot pick one by alg/kty when `kid` is absent.
  const signing = [];
  for (let i = 0; i < nKeys; i += 1) {
    const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    const jwk = { ...(await jose.exportJWK(privateKey)), kid: `test-rs256-${i + 1}-${crypto.randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
    signing.push({ jwk, key: privateKey });
  }
  let strayKey; // for kid_unknown, generated on first use

  // ---- state ------------------------------------------------------------------------------
  const clients = new Map(); // client_id -> metadata
  let accounts = new Map(Object.entries(initialAccounts));
  let misbehave = opts.misbehave ? { mode: opts.misbehave, client_id: null, count: null } : null;

  // ---- listen first so the issuer carries the real port -------------------------------------
  let handler = (req, res) => { res.statusCode = 503; res.end(); };
  const server = http.createServer((req, res) => handler(req, res));
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 30000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(parsePort(opts.port), HOST, resolve);
  });
  const { port } = server.address();
  const issuer = `http://${HOST}:${port}`;

  // ---- adapter: in-memory, with clients kept apart (never evicted) ---------------------------
  const store = new Map(); // key -> { payload, exp }
  const alive = (e) => e && (!e.exp || e.exp > Date.now());
  class Adapter {
    constructor(model) { this.model = model; }

    key(id) { return `${this.model}:${id}`; }

    async upsert(id, payload, expiresIn) {
      if (this.model === 'Client') { clients.set(id, payload); return; }
      store.set(this.key(id), { payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : 0 });
      if (this.model === 'Session' && payload.uid) store.set(`sessionUid:${payload.uid}`, { payload: id, exp: expiresIn ? Date.now() + expiresIn * 1000 : 0 });
      if (payload.grantId) {
        const gk = `grant:${payload.grantId}`;
        const g = store.get(gk) ?? { payload: [], exp: 0 };
        g.payload.push(this.key(id));
        store.set(gk, g);
      }
      if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: id, exp: 0 });
    }

    async find(id) {
      if (this.model === 'Client') return clients.get(id);
      const e = store.get(this.key(id));
      return alive(e) ? e.payload : undefined;
    }

    async findByUid(uid) {
      const e = store.get(`sessionUid:${uid}`);
      return alive(e) ? this.find(e.payload) : undefined;
    }

    async findByUserCode(userCode) {
      const e = store.get(`userCode:${userCode}`);
      return alive(e) ? this.find(e.payload) : undefined;
    }

    async consume(id) {
      const e = store.get(this.key(id));
      if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      if (this.model === 'Client') { clients.delete(id); return; }
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const g = store.get(`grant:${grantId}`);
      if (g) for (const k of g.payload) store.delete(k);
      store.delete(`grant:${grantId}`);
    }
  }

  // Claims of a login: the configured ones over defaults. A claim set to null is left out.
  function accountClaims(login) {
    const a = accounts.get(login) ?? {};
    const merged = {
      sub: login,
      email: `${login}@example.test`,
      email_verified: true,
      name: login,
      preferred_username: login,
      ...a,
    };
    delete merged.login;
    for (const [k, v] of Object.entries(merged)) if (v === null || v === undefined) delete merged[k];
    return merged;
  }

  const provider = new Provider(issuer, {
    adapter: Adapter,
    jwks: { keys: signing.map((s) => s.jwk) },
    cookies: {
      keys: [crypto.randomBytes(32).toString('hex')],
      // Distinct names: cookies ignore ports, so the OP's cookies must not collide with the
      // RP's (Portcullis) cookies on 127.0.0.1.
      names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale'],
    },
    conformIdTokenClaims: false, // scope-requested claims (email, email_verified) go in the id_token too
    findAccount: async (ctx, id) => ({
      accountId: id,
      async claims() { return accountClaims(id); },
    }),
    features: {
      devInteractions: { enabled: true },
      claimsParameter: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      userinfo: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: true },
    },
    pkce: { methods: ['S256'], required: () => true },
    responseTypes: ['code'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    ttl: {
      AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      ctx.body = `<!DOCTYPE html><html><head><title>oops</title></head><body><h1>oops! something went wrong</h1><pre id="error">${Object.entries(out).map(([k, v]) => `${esc(k)}: ${esc(v)}`).join('\n')}</pre></body></html>`;
    },
  });
  provider.on('server_error', (ctx, err) => process.stderr.write(`${NAME}: server_error ${err.stack}\n`));

  async function putClient(md) {
    if (!md || typeof md !== 'object' || !md.client_id) throw Object.assign(new Error('client_id is required'), { status: 400 });
    const metadata = {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...md,
    };
    const previous = clients.get(metadata.client_id);
    clients.set(metadata.client_id, metadata);
    try {
      await provider.Client.find(metadata.client_id); // validates the metadata
    } catch (err) {
      if (previous) clients.set(metadata.client_id, previous); else clients.delete(metadata.client_id);
      throw Object.assign(new Error(`invalid client metadata: ${err.error_description ?? err.message}`), { status: 400 });
    }
    return metadata;
  }
  for (const c of initialClients) await putClient(c);

  // ---- misbehaviour ---------------------------------------------------------------------------
  function activeMode(clientId) {
    if (!misbehave) return null;
    if (misbehave.client_id && misbehave.client_id !== clientId) return null;
    return misbehave.mode;
  }
  function consumeMode() {
    if (misbehave && misbehave.count !== null) {
      misbehave.count -= 1;
      if (misbehave.count <= 0) misbehave = null;
    }
  }

  async function resign(header, payload, key) {
    return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader(header).sign(key);
  }

  async function alterIdToken(mode, idToken, clientId) {
    const [h, p, s] = idToken.split('.');
    const header = unb64uJson(h);
    const payload = unb64uJson(p);
    const key = signing[0].key;
    const now = Math.floor(Date.now() / 1000);
    switch (mode) {
      case 'iss_mismatch': return resign(header, { ...payload, iss: `${issuer}/not-the-issuer` }, key);
      case 'aud_mismatch': return resign(header, { ...payload, aud: 'some-other-client' }, key);
      case 'aud_multiple_no_azp': {
        const { azp, ...rest } = payload;
        return resign(header, { ...rest, aud: [clientId, 'some-other-client'] }, key);
      }
      case 'bad_signature': {
        const sig = Buffer.from(s, 'base64url');
        sig[Math.floor(sig.length / 2)] ^= 0x5a;
        return `${h}.${p}.${b64u(sig)}`;
      }
      case 'alg_none': return `${b64uJson({ alg: 'none' })}.${p}.`;
      case 'alg_hs256': {
        const secret = clients.get(clientId)?.client_secret ?? 'unknown';
        return resign({ alg: 'HS256' }, payload, new TextEncoder().encode(secret));
      }
      case 'kid_unknown': {
        if (!strayKey) strayKey = (await jose.generateKeyPair('RS256', { modulusLength: 2048 })).privateKey;
        return resign({ ...header, kid: 'not-in-the-jwks' }, payload, strayKey);
      }
      case 'kid_missing': {
        const { kid, ...rest } = header;
        return resign(rest, payload, key);
      }
      case 'nonce_mismatch': return resign(header, { ...payload, nonce: `${payload.nonce ?? ''}-tampered` }, key);
      case 'nonce_missing': {
        const { nonce, ...rest } = payload;
        return resign(header, rest, key);
      }
      case 'iat_future': return resign(header, { ...payload, iat: now + 86400, exp: now + 86400 + 3600 }, key);
      case 'exp_past': return resign(header, { ...payload, iat: now - 7200, exp: now - 3600 }, key);
      case 'sub_missing': {
        const { sub, ...rest } = payload;
        return resign(header, rest, key);
      }
      default: return idToken;
    }
  }

  // ---- middleware ---------------------------------------------------------------------------
  provider.use(async (ctx, next) => {
    const started = Date.now();
    try {
      await next();
    } finally {
      if (!opts.quiet) logRequest(NAME, ctx.method, ctx.path, ctx.status, Date.now() - started);
    }
  });

  // admin endpoints
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/__test/')) return next();
    const send = (status, body) => { ctx.status = status; ctx.body = body; };
    try {
      const body = ctx.method === 'POST' ? parseBody(ctx.get('content-type') || 'application/json', await readBody(ctx.req)) : {};
      const route = `${ctx.method} ${ctx.path}`;
      switch (route) {
        case 'GET /__test/state':
          return send(200, {
            issuer,
            clients: [...clients.values()].map(({ client_secret, ...c }) => c),
            accounts: Object.fromEntries(accounts),
            misbehave,
            modes: MODES,
            kids: signing.map((k) => k.jwk.kid),
          });
        case 'GET /__test/modes': return send(200, MODES);
        case 'POST /__test/account': {
          const { login, ...claims } = body;
          if (typeof login !== 'string' || !login) return send(400, { error: 'login (string) is required' });
          accounts.set(login, claims);
          return send(200, { login, claims: accountClaims(login) });
        }
        case 'POST /__test/accounts': {
          for (const [login, claims] of Object.entries(body)) accounts.set(login, claims);
          return send(200, Object.fromEntries(accounts));
        }
        case 'POST /__test/client': {
          const md = await putClient(body);
          return send(200, { client_id: md.client_id, redirect_uris: md.redirect_uris });
        }
        case 'POST /__test/misbehave': {
          const { mode = null, client_id: cid = null, count = null } = body;
          if (mode === null) { misbehave = null; return send(200, { misbehave }); }
          if (!MODES[mode]) return send(400, { error: `unknown mode ${mode}`, modes: Object.keys(MODES) });
          if (count !== null && !(Number.isInteger(count) && count > 0)) return send(400, { error: 'count must be a positive integer or null' });
          misbehave = { mode, client_id: cid, count };
          return send(200, { misbehave });
        }
        case 'POST /__test/id-token': {
          // Mint an id_token directly (as Google One Tap / a native app would hold one), signed by
          // the OP's first key; `mode` applies an id_token misbehaviour mode to it.
          const {
            client_id: cid, login = 'alice', nonce, claims: extra = {}, mode, ttl = 3600,
          } = body;
          if (!clients.has(cid)) return send(400, { error: 'client_id of a registered client is required' });
          if (mode !== undefined && mode !== null && (!MODES[mode] || mode === 'id_token_missing' || mode === 'userinfo_sub_mismatch' || mode.startsWith('auth_iss'))) {
            return send(400, { error: `mode must be one of the id_token modes, not ${mode}` });
          }
          const now = Math.floor(Date.now() / 1000);
          const payload = {
            ...accountClaims(login), iss: issuer, aud: cid, iat: now, exp: now + Number(ttl), auth_time: now, ...(nonce ? { nonce } : {}), ...extra,
          };
          for (const [k, v] of Object.entries(payload)) if (v === null) delete payload[k];
          let idToken = await resign({ alg: 'RS256', typ: 'JWT', kid: signing[0].jwk.kid }, payload, signing[0].key);
          if (mode) idToken = await alterIdToken(mode, idToken, cid);
          return send(200, { id_token: idToken });
        }
        case 'POST /__test/reset':
          misbehave = null;
          accounts = new Map(Object.entries(initialAccounts));
          return send(200, { ok: true });
        default: return send(404, { error: 'no such test endpoint' });
      }
    } catch (err) {
      return send(err.status ?? 400, { error: err.message });
    }
  });

  // response post-processing for the misbehaviour modes
  provider.use(async (ctx, next) => {
    await next();
    if (!misbehave) return;
    const clientId = ctx.oidc?.client?.clientId;
    const mode = activeMode(clientId);
    if (!mode) return;

    if (ctx.method === 'POST' && ctx.path === '/token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object' && ctx.body.id_token) {
      if (mode === 'id_token_missing') {
        const { id_token, ...rest } = ctx.body;
        ctx.body = rest;
        consumeMode();
      } else if (mode !== 'userinfo_sub_mismatch' && !mode.startsWith('auth_iss')) {
        ctx.body = { ...ctx.body, id_token: await alterIdToken(mode, ctx.body.id_token, clientId) };
        consumeMode();
      }
      return;
    }
    if (ctx.path === '/me' && mode === 'userinfo_sub_mismatch' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...ctx.body, sub: `${ctx.body.sub}-someone-else` };
      consumeMode();
      return;
    }
    if ((mode === 'auth_iss_mismatch' || mode === 'auth_iss_missing') && ctx.status >= 300 && ctx.status < 400 && ctx.path.startsWith('/auth')) {
      const loc = ctx.response.get('location');
      if (!loc) return;
      let url;
      try { url = new URL(loc, issuer); } catch { return; }
      if (!url.searchParams.has('iss') || !(url.searchParams.has('code') || url.searchParams.has('error'))) return;
      if (mode === 'auth_iss_missing') url.searchParams.delete('iss');
      else url.searchParams.set('iss', `${issuer}/not-the-issuer`);
      ctx.response.set('location', url.href);
      consumeMode();
    }
  });

  handler = provider.callback();
  lifecycle(server, { name: NAME, stdinWatch: opts['stdin-watch'], maxLifetimeSeconds: opts['max-lifetime'] });

  process.stdout.write(`listening ${issuer}\n`);
  process.stderr.write(`${NAME}: issuer ${issuer}, clients ${[...clients.keys()].join(',')}, signing keys ${signing.map((k) => k.jwk.kid).join(',')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${NAME}: fatal: ${err.stack ?? err}\n`);
  process.exit(2);
});
