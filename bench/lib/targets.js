// What is measured: the references, and our platform API's hot endpoints on the real built server
// (dist/src/server.js) over a seeded data directory. A row is one target on one server; each cell of
// the run starts that row's server, asks `prepare` for the request to send, measures, and stops it.
'use strict';
const path = require('node:path');
const { IDEAL_CLIENT, OIDC_CLIENT } = require('../servers/clients');

const ROOT = path.join(__dirname, '..', '..');
const serverScript = (name) => path.join(ROOT, 'bench', 'servers', `${name}.js`);
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
// RFC 6749 2.3.1: client_id and client_secret are form-urlencoded before they are joined.
const basic = (user, secret) => 'Basic ' + Buffer.from(`${encodeURIComponent(user)}:${encodeURIComponent(secret)}`).toString('base64');

const REFERENCES = [
  { id: 'raw-noop', label: 'raw `node:http` no-op', server: 'raw-noop', request: (base) => ({ url: `${base}/noop` }) },
  { id: 'express-noop', label: 'Express 5 no-op route', server: 'express-noop', request: (base) => ({ url: `${base}/noop` }) },
  {
    id: 'ideal-token',
    label: 'ideal token endpoint in Express (SHA-256 check + ES256 JWT)',
    server: 'ideal-token',
    request: (base) => ({
      url: `${base}/token`,
      method: 'POST',
      headers: { ...FORM, Authorization: basic(IDEAL_CLIENT.id, IDEAL_CLIENT.secret) },
      body: 'grant_type=client_credentials',
    }),
  },
  {
    id: 'oidc-token',
    label: 'oidc-provider 9 token endpoint (static client, ES256 JWT)',
    server: 'oidc-provider',
    request: (base) => ({
      url: `${base}/token`,
      method: 'POST',
      headers: { ...FORM, Authorization: basic(OIDC_CLIENT.id, OIDC_CLIENT.secret) },
      body: 'grant_type=client_credentials&scope=claims%3Aread',
    }),
  },
];

/** Our endpoints; `caller` holds the seeded credentials and, for Bearer targets, a fresh access token. */
const TARGETS = [
  {
    id: 'token',
    label: 'ours `POST /oauth/token`',
    request: (base, caller) => ({
      url: `${base}/oauth/token`,
      method: 'POST',
      headers: { ...FORM, Authorization: basic(caller.clientId, caller.clientSecret) },
      body: 'grant_type=client_credentials',
    }),
  },
  {
    id: 'me-basic',
    label: 'ours `GET /api/v1/me` Basic',
    request: (base, caller) => ({ url: `${base}/api/v1/me`, headers: { Authorization: basic(caller.username, caller.apiKey) } }),
  },
  {
    id: 'me-bearer',
    label: 'ours `GET /api/v1/me` Bearer',
    bearer: true,
    request: (base, caller) => ({ url: `${base}/api/v1/me`, headers: { Authorization: `Bearer ${caller.accessToken}` } }),
  },
  {
    id: 'verify',
    label: 'ours `GET /auth/verify` Bearer (with `?scope=`)',
    bearer: true,
    request: (base, caller) => ({ url: `${base}/auth/verify?scope=claims%3Aread`, headers: { Authorization: `Bearer ${caller.accessToken}` } }),
  },
];

const ALL_IDS = [...REFERENCES, ...TARGETS].map((t) => t.id);

/** The scrape token of the `+metrics` rows: with it set, the server counts and times every request (issue 16). */
const BENCH_METRICS_TOKEN = 'bench-metrics-token-0123456789abcdef';

/**
 * The real console server built in `checkoutDir`, over `dataDir` (and `databaseUrl` on PostgreSQL), configured as an
 * operator would run it; with `metrics`, METRICS_TOKEN is set too (GET /metrics on, every request counted).
 */
function consoleServer(checkoutDir, dataDir, databaseUrl, metrics = false) {
  return {
    script: path.join(checkoutDir, 'dist', 'src', 'server.js'),
    env: (port) => ({
      DATA_DIR: dataDir,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      ...(metrics ? { METRICS_TOKEN: BENCH_METRICS_TOKEN } : {}),
    }),
  };
}

async function fetchAccessToken(base, caller) {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { ...FORM, Authorization: basic(caller.clientId, caller.clientSecret) },
    body: 'grant_type=client_credentials',
  });
  if (!res.ok) throw new Error(`could not get an access token to measure with: ${res.status} ${await res.text()}`);
  return (await res.json()).access_token;
}

/** A request as both generators take it: { url, method, headers, body }. */
const complete = (request) => ({ method: 'GET', headers: {}, ...request });

function referenceRow(ref) {
  return {
    id: ref.id,
    label: ref.label,
    kind: 'reference',
    server: { script: serverScript(ref.server) },
    prepare: async (base) => complete(ref.request(base)),
  };
}

/**
 * The row id of a target on a data set: `token`, `token@large`, `token@baseline`, `token@postgres`; with metrics on,
 * `+metrics` after it (`token+metrics`, `token@postgres+metrics`).
 */
function rowId(targetId, dataSet, metrics = false) {
  const suffix = metrics ? '+metrics' : '';
  if (dataSet.baseline) return `${targetId}@baseline${suffix}`;
  if (dataSet.engine === 'postgres') return `${targetId}@postgres${suffix}`;
  return (dataSet.size === 'small' ? targetId : `${targetId}@large`) + suffix;
}

/**
 * `dataSet` is { size: 'small' | 'large', dataDir, checkoutDir, caller, credentialCount, baseline? }
 * from the seeding step (lib/seed.js); `baseline` (the baseline's label) marks the baseline build's.
 */
function targetRow(target, dataSet, metrics = false) {
  const label = dataSet.engine === 'postgres' ? `${target.label} on PostgreSQL` : target.label;
  return {
    id: rowId(target.id, dataSet, metrics),
    targetId: target.id,
    label: metrics ? `${label} with metrics on` : label,
    kind: dataSet.baseline ? 'baseline' : 'target',
    engine: dataSet.engine ?? 'sqlite',
    size: dataSet.size,
    baseline: dataSet.baseline,
    metrics,
    credentialCount: dataSet.credentialCount,
    server: consoleServer(dataSet.checkoutDir, dataSet.dataDir, dataSet.databaseUrl, metrics),
    prepare: async (base) => {
      const accessToken = target.bearer ? await fetchAccessToken(base, dataSet.caller) : undefined;
      return complete(target.request(base, { ...dataSet.caller, accessToken }));
    },
  };
}

/** The data sets whose rows are measured twice, metrics off and on: the current build's small tables, on either engine. */
const measuresMetrics = (dataSet) => !dataSet.baseline && dataSet.size === 'small';

/**
 * Rows in schedule order: the references, then for each target one row per data set in the order
 * given (the baseline build's, then the current build's small and large tables), back to back, so
 * that each compared pair meets the machine in the same state; on the current build's small tables
 * the same server with metrics on follows right after (issue 16: metrics cost less than 3% req/s).
 * Rounds alternate direction, so which of a pair runs first alternates too.
 */
function planRows(only, dataSets) {
  const wanted = (id) => only === undefined || only.includes(id);
  const rows = REFERENCES.filter((r) => wanted(r.id)).map(referenceRow);
  for (const target of TARGETS.filter((t) => wanted(t.id))) {
    for (const dataSet of dataSets) {
      rows.push(targetRow(target, dataSet));
      if (measuresMetrics(dataSet)) rows.push(targetRow(target, dataSet, true));
    }
  }
  return rows;
}

const wantsConsole = (only) => only === undefined || TARGETS.some((t) => only.includes(t.id));
const expressNoopRow = () => referenceRow(REFERENCES.find((r) => r.id === 'express-noop'));

module.exports = { ALL_IDS, BENCH_METRICS_TOKEN, planRows, wantsConsole, expressNoopRow };
