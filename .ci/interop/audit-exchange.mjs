// audit-exchange.mjs: a data-quality audit of what the stand-in exchange holds, as the exchange's
// own engineer would run it after a realistic feed (HL7 v2 over MLLP, C-CDA from an export folder).
//
// Usage: node audit-exchange.mjs (--control http://127.0.0.1:CPORT | --dump FILE) [--before FILE]
//          [--history FHIR_BASE --pki DIR] [--strict CLASS,CLASS...] [--show N] [--save FILE]
// --dump reads a saved /control/dump answer instead of asking the control port; --save writes the
// dump read; --before FILE compares with an earlier dump (a second round of the same inputs under new
// MSH-10s): only MessageHeader, Binary and Provenance may be new, and nothing else may change.
// Every finding is printed under its class; the exit code is 1 when a class named in --strict (or
// "all") has one. Classes:
//   dangling-reference     a literal reference (Type/id) to nothing, a leftover urn:uuid or conditional
//                          reference, a '#id' to no contained resource (Provenance targets included)
//   empty-identifier       an identifier without system or value
//   no-subject             a clinical resource without its patient (subject, patient, beneficiary)
//   no-subject-document    an IHE MHD Minimal DocumentReference without a patient (an unmatched fax)
//   identifier-rewritten   a urn:ietf:rfc:3986 identifier whose value became 'Type/id': it equalled an
//                          entry's fullUrl, and the stand-in (Medplum) rewrites every such string
//   two-patients           two Patients with one identifier system|value
//   mrn-systems            one MR value on Patients under different systems (may be two clinics)
//   replaced-patient-active  a Patient another one 'replaces' (A40 merge, A47 change of number) is
//                          active again without its replaced-by link
//   shared-identifier      two resources of one type and one patient with one identifier
//   repeated-identifier    one resource holding one identifier system|value twice
//   patient-mismatch       a result, visit or order a message's Provenance names whose patient has
//                          none of the identifiers of that message's PID, nor does a record merged
//                          into it (a later message may have moved it: A45, or a sender reusing ids
//                          across patients), unless it was filed before its patient was retired
//                          into one that has (a merge turned round)
//   duplicate-fact         two resources for one fact (type, patient, code, time, value)
//   encounters-per-visit   more than one Encounter of a patient with one identifier
//   document-binary        a DocumentReference whose Binary is missing, or differs in type, size, hash
//   document-url           a DocumentReference attachment url that is not a FHIR reference (kept as sent)
//   orphan-binary          a Binary no DocumentReference or Provenance points at
//   resend-new             (--before) a resource other than MessageHeader/Binary/Provenance appeared
//   resend-changed         (--before) a stored resource changed content (meta aside)
//   id-reused              (--history: reads every clinical resource's _history over mutual TLS with
//                          DIR's client.pem/client.key/ca.pem) one id whose versions name different
//                          patients or different codes: two messages' different facts under one id
import { readFileSync, writeFileSync } from 'node:fs';
import crypto from 'node:crypto';

const o = { control: '', dump: '', before: '', strict: [], show: 10, save: '', history: '', pki: '' };
const a = process.argv.slice(2);
for (let i = 0; i < a.length; i += 2) {
  const v = a[i + 1];
  switch (a[i]) {
    case '--control': o.control = v; break;
    case '--dump': o.dump = v; break;
    case '--before': o.before = v; break;
    case '--strict': o.strict = v.split(',').filter(Boolean); break;
    case '--show': o.show = Number(v); break;
    case '--save': o.save = v; break;
    case '--history': o.history = v.replace(/\/$/, ''); break;
    case '--pki': o.pki = v; break;
    default: console.error(`audit-exchange: unknown argument ${a[i]}`); process.exit(2);
  }
}
if (!o.control === !o.dump) {
  console.error('audit-exchange: give --control URL or --dump FILE');
  process.exit(2);
}
const readDump = (f) => JSON.parse(readFileSync(f, 'utf8')).resources;
let resources;
if (o.dump) resources = readDump(o.dump);
else {
  const res = await fetch(`${o.control}/control/dump`);
  if (!res.ok) throw new Error(`/control/dump: HTTP ${res.status}`);
  const body = await res.json();
  if (o.save) writeFileSync(o.save, JSON.stringify(body));
  resources = body.resources;
}

const key = (r) => `${r.resourceType}/${r.id}`;
const byKey = new Map(resources.map((r) => [key(r), r]));
const findings = new Map();
const add = (cls, text) => (findings.get(cls) ?? findings.set(cls, []).get(cls)).push(text);
const push = (m, k, v) => (m.get(k) ?? m.set(k, []).get(k)).push(v);

// walk calls fn(object, path) for every object inside v.
function walk(v, path, fn) {
  if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, fn));
  else if (v && typeof v === 'object') {
    fn(v, path);
    for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k, fn);
  }
}

// The field that names a resource's patient.
const patientField = {
  Observation: 'subject', DiagnosticReport: 'subject', Condition: 'subject', Encounter: 'subject', Procedure: 'subject',
  MedicationRequest: 'subject', MedicationStatement: 'subject', MedicationAdministration: 'subject',
  MedicationDispense: 'subject', ServiceRequest: 'subject', DocumentReference: 'subject', CarePlan: 'subject',
  Goal: 'subject', Specimen: 'subject', Composition: 'subject', Account: 'subject', ChargeItem: 'subject',
  ClinicalImpression: 'subject', Flag: 'subject', Immunization: 'patient',
  AllergyIntolerance: 'patient', FamilyMemberHistory: 'patient', Coverage: 'beneficiary',
};
function patientOf(r) {
  if (r.resourceType === 'Appointment') return (r.participant ?? []).map((p) => p.actor?.reference).find((x) => x?.startsWith('Patient/'));
  const f = patientField[r.resourceType];
  const v = f && r[f];
  return (Array.isArray(v) ? v[0] : v)?.reference;
}

// 1. references and identifiers, everywhere
for (const r of resources) {
  walk(r, '', (x, path) => {
    if (typeof x.reference === 'string') {
      const ref = x.reference;
      if (ref.startsWith('#')) {
        if (!(r.contained ?? []).some((c) => `#${c.id}` === ref)) add('dangling-reference', `${key(r)} ${path} -> ${ref}`);
      } else if (/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(ref)) {
        if (!byKey.has(ref)) add('dangling-reference', `${key(r)} ${path} -> ${ref}`);
      } else if (!/^https?:\/\//.test(ref)) {
        add('dangling-reference', `${key(r)} ${path} -> ${ref} (not resolved by the exchange)`);
      }
    }
    if (/(^|\.)identifier(\[\d+\])?$/.test(path) && !Array.isArray(x) && (!x.system || !x.value)) {
      add('empty-identifier', `${key(r)} ${path} ${JSON.stringify(x).slice(0, 160)}`);
    }
  });
  if ((patientField[r.resourceType] || r.resourceType === 'Appointment') && !patientOf(r)?.startsWith('Patient/')) {
    // IHE MHD's Minimal DocumentReference may name no patient: a fax nobody has matched yet.
    const minimal = (r.meta?.profile ?? []).some((p) => p.includes('IHE.MHD.Minimal'));
    add(minimal && !patientOf(r) ? 'no-subject-document' : 'no-subject', `${key(r)} ${patientOf(r) ?? '(none)'}`);
  }
  for (const id of r.identifier ?? []) {
    if (id.system === 'urn:ietf:rfc:3986' && /^[A-Z][A-Za-z]+\/[^/]+$/.test(id.value ?? '')) {
      add('identifier-rewritten', `${key(r)} ${id.value} (a urn:uuid identifier equal to a fullUrl, rewritten by the exchange)`);
    }
  }
}

// 2. patients
const patientsBy = new Map();
const mrBy = new Map();
const patients = resources.filter((r) => r.resourceType === 'Patient');
const retired = (p) => p.active === false && (p.link ?? []).some((l) => l.type === 'replaced-by');
for (const p of patients) {
  for (const id of p.identifier ?? []) {
    // A merged-away record and the old number its survivor keeps (use "old") are one person, by design.
    if (!retired(p) && id.use !== 'old') push(patientsBy, `${id.system}|${id.value}`, p.id);
    if ((id.type?.coding ?? []).some((c) => c.code === 'MR')) push(mrBy, id.value, `${p.id}@${id.system}`);
  }
}
for (const [k, ids] of patientsBy) if (new Set(ids).size > 1) add('two-patients', `${k}: ${[...new Set(ids)].join(' ')}`);
for (const p of patients) {
  for (const l of p.link ?? []) {
    const q = l.type === 'replaces' && byKey.get(l.other?.reference ?? '');
    if (q && !retired(q)) add('replaced-patient-active', `Patient/${p.id} replaces ${key(q)}, which is active again (a later message under the old number rewrote it)`);
  }
}
for (const [v, list] of mrBy) {
  const systems = new Set(list.map((s) => s.split('@')[1]));
  if (systems.size > 1) add('mrn-systems', `${v}: ${list.join(' ')}`);
}

// 3. identifiers held twice within one type and patient
const identHolders = new Map();
for (const r of resources) {
  if (r.resourceType === 'Patient') continue;
  for (const id of r.identifier ?? []) {
    if (id.system && id.value) push(identHolders, `${r.resourceType}|${patientOf(r) ?? ''}|${id.system}|${id.value}`, r.id);
  }
}
for (const [k, ids] of identHolders) if (new Set(ids).size > 1) add('shared-identifier', `${k}: ${[...new Set(ids)].join(' ')}`);
for (const r of resources) {
  const seen = new Set();
  for (const id of r.identifier ?? []) {
    const k = `${id.system}|${id.value}`;
    if (seen.has(k)) add('repeated-identifier', `${key(r)} ${k}`);
    seen.add(k);
  }
}

// 4. what a message's Provenance names vs the message's PID (the Binary holds the message)
const pidValues = (text) => {
  const out = [];
  for (const seg of text.split(/\r\n|\r|\n/)) {
    if (!seg.startsWith('PID')) continue;
    const f = seg.split(seg[3] || '|');
    for (const n of [2, 3, 4]) for (const rep of (f[n] ?? '').split('~')) if (rep.split('^')[0]) out.push(rep.split('^')[0]);
  }
  return out;
};
// mergedValues: the identifier values of p and of the records merged into it (retired, replaced-by p,
// through chains): a result sent under a retired number belongs on the survivor (a lab that missed
// the merge), so it is no mismatch.
const mergedValues = (p, seen = new Set()) => {
  if (seen.has(p.id)) return [];
  seen.add(p.id);
  const out = (p.identifier ?? []).map((i) => i.value);
  for (const q of patients) {
    if (retired(q) && (q.link ?? []).some((l) => l.type === 'replaced-by' && l.other?.reference === `Patient/${p.id}`)) out.push(...mergedValues(q, seen));
  }
  return out;
};
// filedBeforeTurn: r was written to p before p itself was retired into a record that holds one of the
// PID's numbers. That is a merge turned round (A into B, then B back into A): what reached B while A
// was merged into it stays there, reachable from A by B's replaced-by link (README "Merges"). Only
// resources older than p's retirement pass: a result filed to the retired record afterwards is a
// mismatch still.
const filedBeforeTurn = (r, p, pids) => {
  if (!retired(p)) return false;
  const written = Date.parse(r.meta?.lastUpdated ?? ''), retiredAt = Date.parse(p.meta?.lastUpdated ?? '');
  if (!(written < retiredAt)) return false;
  return (p.link ?? []).some((l) => {
    const q = l.type === 'replaced-by' && byKey.get(l.other?.reference ?? '');
    return q && !retired(q) && pids.some((v) => mergedValues(q).includes(v));
  });
};
const checked = new Set(['Observation', 'DiagnosticReport', 'Encounter', 'Condition', 'Procedure', 'Immunization',
  'AllergyIntolerance', 'ServiceRequest', 'DocumentReference', 'MedicationRequest', 'Specimen']);
for (const pv of resources.filter((r) => r.resourceType === 'Provenance')) {
  const bin = byKey.get((pv.entity ?? []).map((e) => e.what?.reference).find((x) => x?.startsWith('Binary/')) ?? '');
  const text = bin ? Buffer.from(bin.data ?? '', 'base64').toString('latin1') : '';
  if (!text.startsWith('MSH')) continue;
  const pids = pidValues(text);
  if (!pids.length) continue;
  for (const t of pv.target ?? []) {
    const r = byKey.get(t.reference);
    if (!r || !checked.has(r.resourceType)) continue;
    const p = byKey.get(patientOf(r) ?? '');
    if (!p) continue;
    const vals = mergedValues(p);
    if (pids.some((v) => vals.includes(v)) || filedBeforeTurn(r, p, pids)) continue;
    add('patient-mismatch', `${key(r)} on Patient/${p.id} (${vals.length} ids), message ${key(bin)} PID names others`);
  }
}

// 5. one fact, two resources
const cc = (c) => (c?.coding ?? []).map((x) => `${x.system}|${x.code}`).sort().join(',') || c?.text || '';
const factOf = (r) => {
  const p = patientOf(r);
  switch (r.resourceType) {
    case 'Observation':
      return `${p}|${cc(r.code)}|${r.effectiveDateTime ?? r.effectivePeriod?.start ?? ''}|${JSON.stringify(r.valueQuantity ?? r.valueCodeableConcept ?? r.valueString ?? r.component ?? '')}`;
    case 'Condition': return `${p}|${cc(r.code)}|${r.onsetDateTime ?? r.onsetPeriod?.start ?? r.recordedDate ?? ''}`;
    case 'Immunization': return `${p}|${cc(r.vaccineCode)}|${r.occurrenceDateTime ?? r.occurrenceString ?? ''}`;
    case 'AllergyIntolerance': return `${p}|${cc(r.code)}`;
    case 'Procedure': return `${p}|${cc(r.code)}|${r.performedDateTime ?? r.performedPeriod?.start ?? ''}`;
    case 'DiagnosticReport': return `${p}|${cc(r.code)}|${r.effectiveDateTime ?? r.effectivePeriod?.start ?? ''}`;
    case 'MedicationRequest': return `${p}|${cc(r.medicationCodeableConcept) || r.medicationReference?.reference}|${r.authoredOn ?? ''}`;
    case 'MedicationStatement':
      return `${p}|${cc(r.medicationCodeableConcept) || r.medicationReference?.reference}|${r.effectiveDateTime ?? r.effectivePeriod?.start ?? ''}`;
    default: return null;
  }
};
const facts = new Map();
for (const r of resources) {
  const f = factOf(r);
  if (f != null) push(facts, `${r.resourceType}|${f}`, r.id);
}
for (const [k, ids] of facts) if (ids.length > 1) add('duplicate-fact', `${k.slice(0, 200)} x${ids.length}: ${ids.join(' ')}`);

// 6. encounters per visit
const visits = new Map();
for (const e of resources.filter((r) => r.resourceType === 'Encounter')) {
  for (const id of e.identifier ?? []) push(visits, `${e.subject?.reference}|${id.system}|${id.value}`, e.id);
}
for (const [k, ids] of visits) if (ids.length > 1) add('encounters-per-visit', `${k}: ${ids.join(' ')}`);

// 7. documents and their Binaries
const pointedAt = new Set();
for (const pv of resources.filter((r) => r.resourceType === 'Provenance')) for (const e of pv.entity ?? []) pointedAt.add(e.what?.reference);
for (const d of resources.filter((r) => r.resourceType === 'DocumentReference')) {
  for (const c of d.content ?? []) {
    const at = c.attachment ?? {};
    if (!at.url) {
      if (at.data == null) add('document-binary', `${key(d)} content without url or data`);
      continue;
    }
    const m = /(?:^|\/)(Binary\/[A-Za-z0-9\-.]{1,64})$/.exec(at.url);
    if (!m) {
      if (!/^https?:\/\//.test(at.url)) add('document-url', `${key(d)} attachment url ${at.url}`);
      continue;
    }
    pointedAt.add(m[1]);
    const b = byKey.get(m[1]);
    if (!b) {
      add('document-binary', `${key(d)} -> ${at.url} missing`);
      continue;
    }
    const bytes = Buffer.from(b.data ?? '', 'base64');
    if (at.contentType && b.contentType && at.contentType.split(';')[0].trim() !== b.contentType.split(';')[0].trim()) {
      add('document-binary', `${key(d)} contentType ${at.contentType}, ${m[1]} ${b.contentType}`);
    }
    if (at.size != null && at.size !== bytes.length) add('document-binary', `${key(d)} size ${at.size}, ${m[1]} holds ${bytes.length}`);
    if (at.hash && at.hash !== crypto.createHash('sha1').update(bytes).digest('base64')) add('document-binary', `${key(d)} hash differs from ${m[1]}`);
  }
}
for (const b of resources.filter((r) => r.resourceType === 'Binary')) {
  if (!pointedAt.has(key(b))) add('orphan-binary', `${key(b)} ${b.contentType}${b.securityContext ? ` (securityContext ${b.securityContext.reference})` : ''}`);
}

// 8. a second round of the same inputs
if (o.before) {
  const before = readDump(o.before);
  const count = (list) => list.reduce((m, r) => ((m[r.resourceType] = (m[r.resourceType] ?? 0) + 1), m), {});
  const c1 = count(before);
  const c2 = count(resources);
  const grew = Object.keys({ ...c1, ...c2 }).filter((t) => (c1[t] ?? 0) !== (c2[t] ?? 0)).map((t) => `${t} ${c1[t] ?? 0}->${c2[t] ?? 0}`);
  console.log(`audit-exchange: since --before: ${grew.join(', ') || 'no count changed'}`);
  const strip = ({ meta, ...rest }) => JSON.stringify(rest);
  const old = new Map(before.map((r) => [key(r), r]));
  for (const r of resources) {
    const was = old.get(key(r));
    if (!was) {
      if (!['MessageHeader', 'Binary', 'Provenance'].includes(r.resourceType)) add('resend-new', `${key(r)} ${JSON.stringify(r.identifier ?? []).slice(0, 160)}`);
    } else if (strip(was) !== strip(r)) add('resend-changed', key(r));
  }
}

// 9. one id, different facts over time (needs the exchange's version history)
if (o.history) {
  const https = await import('node:https');
  const agent = new https.Agent({
    ca: readFileSync(`${o.pki}/ca.pem`), cert: readFileSync(`${o.pki}/client.pem`), key: readFileSync(`${o.pki}/client.key`), keepAlive: true,
  });
  const get = (path) => new Promise((resolve, reject) => {
    https.get(`${o.history}/${path}`, { agent }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (b += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(b)) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
  const what = (r) => `${patientOf(r) ?? ''} ${cc(r.code ?? r.vaccineCode ?? r.type?.[0]) || ''}`;
  const list = resources.filter((r) => patientField[r.resourceType] || r.resourceType === 'Patient');
  let n = 0;
  for (const r of list) {
    const h = await get(`${key(r)}/_history`);
    n++;
    const versions = (h.entry ?? []).map((e) => e.resource).filter(Boolean);
    if (r.resourceType === 'Patient') {
      const births = new Set(versions.map((v) => v.birthDate ?? ''));
      if (births.size > 1) add('id-reused', `${key(r)}: ${versions.length} versions, birth dates ${[...births].join(' / ')}`);
      continue;
    }
    const facts = new Set(versions.map(what));
    if (facts.size > 1) add('id-reused', `${key(r)}: ${versions.length} versions name ${[...facts].join(' / ').slice(0, 300)}`);
  }
  agent.destroy();
  console.log(`audit-exchange: read the history of ${n} resources`);
}

let failed = false;
for (const [cls, list] of [...findings].sort()) {
  const strict = o.strict.includes('all') || o.strict.includes(cls);
  failed ||= strict;
  console.log(`${strict ? 'FAIL' : 'note'} ${cls}: ${list.length}`);
  for (const x of list.slice(0, o.show)) console.log(`    ${x}`);
  if (list.length > o.show) console.log(`    ... ${list.length - o.show} more`);
}
const types = resources.reduce((m, r) => ((m[r.resourceType] = (m[r.resourceType] ?? 0) + 1), m), {});
console.log(`audit-exchange: ${resources.length} resources ${JSON.stringify(types)}; ${findings.size} finding class(es) => ${failed ? 'FAIL' : 'OK'}`);
process.exit(failed ? 1 : 0);
