// Shared helpers for the test servers (provider.mjs, github.mjs). Test use only.
import { parseArgs } from 'node:util';

export const HOST = '127.0.0.1';

/** Parse `--name value` options, falling back to environment variables. */
export function options(spec) {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type ?? 'string' }])),
    strict: true,
    allowPositionals: false,
  });
  const out = {};
  for (const [k, v] of Object.entries(spec)) {
    let val = values[k];
    if (val === undefined && v.env && process.env[v.env] !== undefined && process.env[v.env] !== '') {
      val = v.type === 'boolean' ? /^(1|true|yes|on)$/i.test(process.env[v.env]) : process.env[v.env];
    }
    out[k] = val === undefined ? v.default : val;
  }
  return out;
}

export function parseJson(name, text, fallback) {
  if (text === undefined || text === null || text === '') return fallback;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${name}: not valid JSON: ${err.message}`);
  }
}

export function parsePort(value) {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${value}`);
  return port;
}

/** Read a request body (at most `limit` bytes, at most `ms` milliseconds). */
export function readBody(req, { limit = 1024 * 1024, ms = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const timer = setTimeout(() => reject(Object.assign(new Error('body timeout'), { status: 408 })), ms);
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        clearTimeout(timer);
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('utf8')); });
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Parse a JSON or form-encoded body according to Content-Type. */
export function parseBody(contentType, text) {
  const ct = (contentType || '').toLowerCase();
  if (text === '') return {};
  if (ct.includes('application/json')) {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('JSON body must be an object');
    return v;
  }
  return Object.fromEntries(new URLSearchParams(text));
}

/**
 * Install SIGTERM/SIGINT handlers, an optional "exit when stdin closes" watch (so a crashed
 * parent test process does not leave the server behind) and a maximum lifetime.
 */
export function lifecycle(server, { name, stdinWatch, maxLifetimeSeconds }) {
  let closing = false;
  const shutdown = (why, code = 0) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`${name}: shutting down (${why})\n`);
    const hard = setTimeout(() => process.exit(code), 2000);
    hard.unref();
    server.close(() => process.exit(code));
    server.closeAllConnections?.();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (stdinWatch) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }
  const life = Number(maxLifetimeSeconds);
  if (Number.isFinite(life) && life > 0) {
    const t = setTimeout(() => shutdown(`max lifetime ${life}s reached`), life * 1000);
    t.unref();
  }
  return shutdown;
}

export function logRequest(name, method, path, status, ms) {
  process.stderr.write(`${name}: ${method} ${path} -> ${status} (${ms} ms)\n`);
}
