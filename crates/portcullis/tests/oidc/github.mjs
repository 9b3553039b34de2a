#!/usr/bin/env node
// A GitHub stand-in for Portcullis integration tests: GitHub's OAuth web application flow
// (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps) and the
// two REST API calls a sign-in needs, GET /user and GET /user/emails. Test use only: it listens on
// 127.0.0.1 and its admin endpoints (/__test/*) are unauthenticated. See README.md.
//
// Web root:  http://127.0.0.1:PORT          (PORTCULLIS_OAUTH_GITHUB_URL)
// API root:  http://127.0.0.1:PORT/api/v3   (PORTCULLIS_OAUTH_GITHUB_API_URL; GitHub Enterprise
//            style). The API is also served at the server root, so http://127.0.0.1:PORT works too.
import * as http from 'node:http';
import * as crypto from 'node:crypto';

import {
  HOST, options, parseJson, parsePort, readBody, parseBody, lifecycle, logRequest,
} from './common.mjs';

const NAME = 'github';

const opts = options({
  port: { env: 'GITHUB_PORT', default: '0' },
  clients: { env: 'GITHUB_CLIENTS' },
  user: { env: 'GITHUB_USER' },
  'stdin-watch': { env: 'GITHUB_STDIN_WATCH', type: 'boolean', default: false },
  'max-lifetime': { env: 'GITHUB_MAX_LIFETIME', default: '1800' },
  quiet: { env: 'GITHUB_QUIET', type: 'boolean', default: false },
});

const DEFAULT_CLIENTS = [{
  client_id: 'portcullis-github',
  client_secret: 'portcullis-github-secret',
  redirect_uris: ['http://127.0.0.1:8080/api/auth/oauth/github/callback'],
}];

const DEFAULT_USER = {
  login: 'octocat',
  id: 583231,
  name: 'The Octocat',
  email: 'octocat@example.test', // the public profile email (may be null)
  emails: [
    { email: 'octocat@example.test', primary: true, verified: true, visibility: 'public' },
  ],
};

export const MODES = {
  access_denied: 'authorize redirects back with error=access_denied (user cancelled)',
  bad_verification_code: 'token endpoint answers 200 with error=bad_verification_code (GitHub style)',
  incorrect_client_credentials: 'token endpoint answers 200 with error=incorrect_client_credentials',
  user_unauthorized: 'GET /user answers 401 Bad credentials',
  emails_forbidden: 'GET /user/emails answers 404 Not Found (as GitHub does without the user:email scope)',
  emails_empty: 'GET /user/emails answers []',
  user_server_error: 'GET /user answers 502',
};

const DOCS = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';

function normUser(u) {
  if (!u || typeof u !== 'object') throw Object.assign(new Error('user must be an object'), { status: 400 });
  if (typeof u.login !== 'string' || !u.login) throw Object.assign(new Error('user.login (string) is required'), { status: 400 });
  const id = u.id ?? (parseInt(crypto.createHash('sha256').update(u.login).digest('hex').slice(0, 8), 16) % 90000000) + 1000;
  if (!Number.isInteger(id)) throw Object.assign(new Error('user.id must be an integer'), { status: 400 });
  const emails = (u.emails ?? [{ email: `${u.login}@example.test`, primary: true, verified: true, visibility: 'public' }])
    .map((e) => ({ email: e.email, primary: !!e.primary, verified: !!e.verified, visibility: e.visibility === undefined ? 'private' : e.visibility }));
  return { ...u, id, emails };
}

function userJson(u, base) {
  const { emails, ...rest } = u;
  return {
    login: u.login,
    id: u.id,
    node_id: Buffer.from(`04:User${u.id}`).toString('base64'),
    avatar_url: `${base}/avatars/${u.login}`,
    gravatar_id: '',
    url: `${base}/api/v3/users/${u.login}`,
    html_url: `${base}/${u.login}`,
    type: 'User',
    site_admin: false,
    name: null,
    company: null,
    blog: '',
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: '2011-01-25T18:44:36Z',
    updated_at: '2024-01-01T00:00:00Z',
    ...rest,
  };
}

async function main() {
  const clients = new Map();
  const putClient = (c) => {
    if (!c || typeof c !== 'object' || !c.client_id || !c.client_secret) throw Object.assign(new Error('client_id and client_secret are required'), { status: 400 });
    const uris = c.redirect_uris ?? (c.redirect_uri ? [c.redirect_uri] : []);
    if (!Array.isArray(uris) || uris.length === 0) throw Object.assign(new Error('redirect_uris (non-empty array) is required'), { status: 400 });
    for (const u of uris) new URL(u); // eslint-disable-line no-new
    clients.set(c.client_id, { client_id: c.client_id, client_secret: c.client_secret, redirect_uris: uris });
  };
  for (const c of parseJson('clients', opts.clients, DEFAULT_CLIENTS)) putClient(c);

  const initialUser = normUser(parseJson('user', opts.user, DEFAULT_USER));
  let users = new Map([[initialUser.login, initialUser]]);
  let current = initialUser.login;
  let misbehave = null; // { mode, client_id|null }
  const modeFor = (clientId) => (misbehave && (!misbehave.client_id || misbehave.client_id === clientId) ? misbehave.mode : null);
  const codes = new Map(); // code -> {client_id, redirect_uri, scope, login, challenge, exp}
  const tokens = new Map(); // token -> {login, scope, client_id}

  const server = http.createServer(async (req, res) => {
    const started = Date.now();
    const url = new URL(req.url, `http://${req.headers.host ?? HOST}`);
    const base = `http://${HOST}:${server.address().port}`;
    const send = (status, body, headers = {}) => {
      const isStr = typeof body === 'string';
      res.writeHead(status, {
        'content-type': isStr ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        ...headers,
      });
      res.end(isStr ? body : JSON.stringify(body));
    };
    const redirect = (loc) => { res.writeHead(302, { location: loc, 'cache-control': 'no-store' }); res.end(); };
    res.on('finish', () => { if (!opts.quiet) logRequest(NAME, req.method, url.pathname, res.statusCode, Date.now() - started); });

    try {
      const path = url.pathname.replace(/\/+$/, '') || '/';
      const route = `${req.method} ${path}`;

      // ---- admin --------------------------------------------------------------------------
      if (path.startsWith('/__test/')) {
        const body = req.method === 'POST' ? parseBody(req.headers['content-type'] || 'application/json', await readBody(req)) : {};
        switch (route) {
          case 'GET /__test/state':
            return send(200, {
              web_url: base, api_url: `${base}/api/v3`, current, users: Object.fromEntries(users), misbehave, modes: MODES,
              clients: [...clients.values()].map(({ client_secret, ...c }) => c),
            });
          case 'POST /__test/user': { // add or replace a user and make it the one who approves
            const u = normUser(body);
            users.set(u.login, u);
            current = u.login;
            return send(200, u);
          }
          case 'POST /__test/client':
            putClient(body);
            return send(200, { client_id: body.client_id });
          case 'POST /__test/misbehave': {
            const { mode = null, client_id: cid = null } = body;
            if (mode !== null && !MODES[mode]) return send(400, { error: `unknown mode ${mode}`, modes: Object.keys(MODES) });
            misbehave = mode === null ? null : { mode, client_id: cid };
            return send(200, { misbehave });
          }
          case 'POST /__test/reset':
            users = new Map([[initialUser.login, initialUser]]);
            current = initialUser.login;
            misbehave = null;
            return send(200, { ok: true });
          default:
            return send(404, { error: 'no such test endpoint' });
        }
      }

      // ---- OAuth web flow -----------------------------------------------------------------
      if (route === 'GET /login/oauth/authorize') {
        const q = url.searchParams;
        const client = clients.get(q.get('client_id') ?? '');
        if (!client) return send(404, 'Not Found: unknown client_id (GitHub shows a 404 page)');
        const state = q.get('state');
        const registered = client.redirect_uris;
        const back = (target, params) => {
          const u = new URL(target);
          for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) u.searchParams.set(k, v);
          return redirect(u.href);
        };
        let redirectUri = q.get('redirect_uri');
        if (redirectUri === null) {
          redirectUri = registered[0];
        } else if (!registered.includes(redirectUri)) {
          // GitHub allows sub-paths of the registered callback URL; this stand-in asks for an exact
          // match (stricter), and answers like GitHub: back to the registered URL with an error.
          return back(registered[0], {
            error: 'redirect_uri_mismatch',
            error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
            error_uri: DOCS,
            state,
          });
        }
        const challenge = q.get('code_challenge');
        const method = q.get('code_challenge_method') ?? (challenge ? 'plain' : null);
        if (challenge !== null && method !== 'S256') {
          return back(redirectUri, { error: 'invalid_request', error_description: 'code_challenge_method must be S256', state });
        }
        if (challenge !== null && !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
          return back(redirectUri, { error: 'invalid_request', error_description: 'code_challenge must be a base64url SHA-256', state });
        }
        if (modeFor(client.client_id) === 'access_denied') {
          return back(redirectUri, {
            error: 'access_denied', error_description: 'The user has denied your application access.', error_uri: DOCS, state,
          });
        }
        // `login` (GitHub: "suggests a specific account") picks a configured user, else the current one.
        const login = users.has(q.get('login') ?? '') ? q.get('login') : current;
        const code = crypto.randomBytes(10).toString('hex');
        codes.set(code, {
          client_id: client.client_id, redirect_uri: q.get('redirect_uri'), scope: (q.get('scope') ?? '').split(/[ ,]+/).filter(Boolean).join(','), login, challenge, exp: Date.now() + 600_000,
        });
        return back(redirectUri, { code, state });
      }

      if (route === 'POST /login/oauth/access_token') {
        const p = {
          ...Object.fromEntries(url.searchParams),
          ...parseBody(req.headers['content-type'], await readBody(req)),
        };
        const auth = req.headers.authorization;
        if (auth && /^basic /i.test(auth)) {
          const dec = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
          const i = dec.indexOf(':');
          if (i > 0) { p.client_id ??= decodeURIComponent(dec.slice(0, i)); p.client_secret ??= decodeURIComponent(dec.slice(i + 1)); }
        }
        const accept = String(req.headers.accept ?? '');
        const answer = (obj) => {
          if (accept.includes('application/json')) return send(200, obj);
          if (accept.includes('application/xml')) {
            const xml = `<OAuth>${Object.entries(obj).map(([k, v]) => `<${k}>${String(v).replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`)}</${k}>`).join('')}</OAuth>`;
            return send(200, xml, { 'content-type': 'application/xml; charset=utf-8' });
          }
          return send(200, new URLSearchParams(obj).toString(), { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
        };
        const fail = (error, description) => answer({ error, error_description: description, error_uri: DOCS });

        const client = clients.get(p.client_id ?? '');
        if (!client || modeFor(client.client_id) === 'incorrect_client_credentials') return fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
        const a = Buffer.from(String(p.client_secret ?? ''));
        const b = Buffer.from(client.client_secret);
        if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
        const grant = codes.get(p.code ?? '');
        if (grant) codes.delete(p.code); // single use
        if (!grant || grant.exp < Date.now() || grant.client_id !== client.client_id || modeFor(client.client_id) === 'bad_verification_code') {
          return fail('bad_verification_code', 'The code passed is incorrect or expired.');
        }
        if (p.redirect_uri !== undefined && grant.redirect_uri !== null && p.redirect_uri !== grant.redirect_uri) {
          return fail('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
        }
        if (grant.challenge !== null) {
          const v = p.code_verifier;
          if (typeof v !== 'string' || !/^[A-Za-z0-9._~-]{43,128}$/.test(v)
            || crypto.createHash('sha256').update(v).digest('base64url') !== grant.challenge) {
            return fail('bad_verification_code', 'The code_verifier does not match the code_challenge.');
          }
        }
        const token = `gho_${crypto.randomBytes(18).toString('base64url')}`;
        tokens.set(token, { login: grant.login, scope: grant.scope, client_id: client.client_id });
        return answer({ access_token: token, token_type: 'bearer', scope: grant.scope });
      }

      // ---- REST API (at / and at /api/v3) ---------------------------------------------------
      const apiPath = path.startsWith('/api/v3') ? (path.slice('/api/v3'.length) || '/') : path;
      if (req.method === 'GET' && (apiPath === '/user' || apiPath === '/user/emails')) {
        let oauthScopes = '';
        const api = (status, body) => send(status, body, { 'x-github-media-type': 'github.v3; format=json', 'x-oauth-scopes': oauthScopes });
        if (!req.headers['user-agent']) {
          // As api.github.com does: requests without a User-Agent are refused.
          return send(403, 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n');
        }
        const m = /^(?:bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
        if (!m) return api(401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest', status: '401' });
        const t = tokens.get(m[1]);
        const mode = t ? modeFor(t.client_id) : null;
        if (!t || (apiPath === '/user' && mode === 'user_unauthorized')) {
          return api(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
        }
        const user = users.get(t.login);
        const scopes = t.scope.split(',').filter(Boolean);
        oauthScopes = scopes.join(', ');
        if (apiPath === '/user') {
          if (mode === 'user_server_error') return api(502, { message: 'Server Error' });
          return api(200, userJson(user, base));
        }
        if (mode === 'emails_forbidden' || !(scopes.includes('user:email') || scopes.includes('user'))) {
          return api(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user', status: '404' });
        }
        if (mode === 'emails_empty') return api(200, []);
        return api(200, user.emails);
      }

      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    } catch (err) {
      if (!res.headersSent) send(err.status ?? 400, { error: err.message });
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 30000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(parsePort(opts.port), HOST, resolve);
  });
  lifecycle(server, { name: NAME, stdinWatch: opts['stdin-watch'], maxLifetimeSeconds: opts['max-lifetime'] });
  const { port } = server.address();
  process.stdout.write(`listening http://${HOST}:${port}\n`);
  process.stderr.write(`${NAME}: web http://${HOST}:${port}, api http://${HOST}:${port}/api/v3, clients ${[...clients.keys()].join(',')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${NAME}: fatal: ${err.stack ?? err}\n`);
  process.exit(2);
});
