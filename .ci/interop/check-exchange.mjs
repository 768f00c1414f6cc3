// check-exchange.mjs checks, at the stand-in exchange, that every message load-send.mjs got AA for
// was delivered exactly once in effect, and that nothing anywhere is duplicated.
//
// Usage: node check-exchange.mjs --control http://127.0.0.1:CPORT --acked FILE [--sent FILE]
//          [--obx K] [--wait-s 240] [--settle-s 5]
// It polls until every acked message's patient (identifier value MRN-<control id>) and its K
// Observations are there and the exchange has seen no request for --settle-s, then asserts:
//   - each acked control id: exactly 1 Patient with that MRN, exactly 1 Observation per OBX code;
//   - no resource type holds two resources with the same identifier (system|value);
//   - no patient holds two Observations with the same code and effective time;
//   - every Observation's subject is a Patient the exchange holds with a load MRN (none dangling).
// Prints a summary line; exit 1 on any violation or when the wait runs out.
import { readFileSync, existsSync } from 'node:fs';

const o = { control: '', acked: '', sent: '', obx: 2, waitS: 240, settleS: 5 };
const a = process.argv.slice(2);
for (let i = 0; i < a.length; i += 2) {
  const v = a[i + 1];
  switch (a[i]) {
    case '--control': o.control = v; break;
    case '--acked': o.acked = v; break;
    case '--sent': o.sent = v; break;
    case '--obx': o.obx = Number(v); break;
    case '--wait-s': o.waitS = Number(v); break;
    case '--settle-s': o.settleS = Number(v); break;
    default: console.error(`unknown argument ${a[i]}`); process.exit(2);
  }
}
const lines = (f) => (f && existsSync(f) ? readFileSync(f, 'utf8').split('\n').map((s) => s.trim()).filter(Boolean) : []);
const acked = [...new Set(lines(o.acked))];
const sent = [...new Set(lines(o.sent))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const getJSON = async (p) => {
  const res = await fetch(o.control + p);
  if (!res.ok) throw new Error(`${p}: HTTP ${res.status}`);
  return res.json();
};

function analyse(resources) {
  const patientsByMRN = new Map(); // MRN value → [patient ids]
  const mrnOfPatient = new Map();
  for (const r of resources) {
    if (r.resourceType !== 'Patient') continue;
    for (const id of r.identifier ?? []) {
      if (!id.value?.startsWith('MRN-')) continue;
      const list = patientsByMRN.get(id.value) ?? [];
      list.push(r.id);
      patientsByMRN.set(id.value, list);
      mrnOfPatient.set(`Patient/${r.id}`, id.value);
    }
  }
  const obsByMRN = new Map(); // MRN → Map(code → count)
  const obsKey = new Map(); // subject|code|effective → count (duplicates regardless of acks)
  const unresolvedSubjects = new Set();
  for (const r of resources) {
    if (r.resourceType !== 'Observation') continue;
    const ref = r.subject?.reference ?? '';
    const code = r.code?.coding?.[0]?.code ?? r.code?.text ?? '';
    const key = `${ref}|${code}|${r.effectiveDateTime ?? r.effectivePeriod?.start ?? ''}`;
    obsKey.set(key, (obsKey.get(key) ?? 0) + 1);
    const mrn = mrnOfPatient.get(ref);
    if (!mrn) { unresolvedSubjects.add(ref); continue; }
    const m = obsByMRN.get(mrn) ?? new Map();
    m.set(code, (m.get(code) ?? 0) + 1);
    obsByMRN.set(mrn, m);
  }
  // identifier duplicates within a resource type
  const idDup = [];
  const seen = new Map();
  for (const r of resources) {
    for (const id of r.identifier ?? []) {
      if (!id.value) continue;
      const k = `${r.resourceType}|${id.system ?? ''}|${id.value}`;
      const prev = seen.get(k);
      if (prev && prev !== r.id) idDup.push(`${k} (${prev}, ${r.id})`);
      else seen.set(k, r.id);
    }
  }
  const missing = [];
  const dupPatients = [];
  const badObs = [];
  for (const ctl of acked) {
    const mrn = `MRN-${ctl}`;
    const pts = patientsByMRN.get(mrn) ?? [];
    if (pts.length === 0) { missing.push(ctl); continue; }
    if (pts.length > 1) dupPatients.push(`${ctl}: ${pts.length} patients`);
    const codes = obsByMRN.get(mrn) ?? new Map();
    const total = [...codes.values()].reduce((x, y) => x + y, 0);
    if (codes.size < o.obx) { missing.push(ctl); continue; }
    if (total !== o.obx || [...codes.values()].some((c) => c !== 1)) badObs.push(`${ctl}: ${JSON.stringify(Object.fromEntries(codes))}`);
  }
  const obsDup = [...obsKey.entries()].filter(([, c]) => c > 1).map(([k, c]) => `${k} x${c}`);
  const unackedDelivered = sent.filter((c) => !acked.includes(c) && patientsByMRN.has(`MRN-${c}`)).length;
  return { missing, dupPatients, badObs, idDup, obsDup, unresolvedSubjects: [...unresolvedSubjects], unackedDelivered, patients: patientsByMRN.size };
}

const until = Date.now() + o.waitS * 1000;
let result;
let lastReq = -1;
let quietSince = Date.now();
for (;;) {
  const stats = await getJSON('/control/stats');
  if (stats.requests !== lastReq) { lastReq = stats.requests; quietSince = Date.now(); }
  const dump = await getJSON('/control/dump');
  result = analyse(dump.resources);
  const quiet = Date.now() - quietSince >= o.settleS * 1000;
  if (result.missing.length === 0 && quiet) break;
  if (Date.now() > until) break;
  await sleep(1000);
}
const show = (name, list) => {
  if (list.length) console.log(`  ${name}: ${list.length}: ${list.slice(0, 10).join('; ')}${list.length > 10 ? ' ...' : ''}`);
};
show('acked but missing', result.missing);
show('duplicate patients', result.dupPatients);
show('wrong observation counts', result.badObs);
show('duplicate identifiers', result.idDup);
show('duplicate observations', result.obsDup);
show('observation subjects not resolved to a load patient', result.unresolvedSubjects);
const ok = !result.missing.length && !result.dupPatients.length && !result.badObs.length && !result.idDup.length && !result.obsDup.length &&
  !result.unresolvedSubjects.length && acked.length > 0;
console.log(`check-exchange: acked=${acked.length} sent=${sent.length} patients=${result.patients} unacked-but-delivered=${result.unackedDelivered} missing=${result.missing.length} duplicates=${result.dupPatients.length + result.idDup.length + result.obsDup.length + result.badObs.length} => ${ok ? 'OK' : 'FAIL'}`);
process.exit(ok ? 0 : 1);
