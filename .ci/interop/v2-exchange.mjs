// v2-exchange.mjs is a stand-in for an exchange that takes HL7 v2 (not FHIR): npm node-hl7-server
// (an independent MLLP receiver) listening with TLS that requires a client certificate from the
// test CA. It answers AA to every message and appends each message's MSH-10 to a log file, one per
// line, so a suite can check what arrived.
//
// Usage: node v2-exchange.mjs --port P --pki DIR --log FILE [--dump DIR]
// With --dump, each message is also written to DIR/<MSH-10>.hl7 as node-hl7-client prints it.
// node-hl7-server 2.5.0 lives in ../bench/node_modules (installed by .ci/run with npm ci there).
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Server } = await import(path.join(here, '../bench/node_modules/node-hl7-server/lib/esm/index.js'));

const opt = { port: 0, pki: '', log: '', dump: '' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const v = argv[i + 1];
  switch (argv[i]) {
    case '--port': opt.port = Number(v); break;
    case '--pki': opt.pki = v; break;
    case '--log': opt.log = v; break;
    case '--dump': opt.dump = v; break;
    default: console.error(`unknown argument ${argv[i]}`); process.exit(2);
  }
}
if (!opt.port || !opt.pki || !opt.log) {
  console.error('usage: v2-exchange.mjs --port P --pki DIR --log FILE');
  process.exit(2);
}
const tls = {
  key: readFileSync(path.join(opt.pki, 'server.key')),
  cert: readFileSync(path.join(opt.pki, 'server.pem')),
  ca: readFileSync(path.join(opt.pki, 'ca.pem')),
  requestCert: true,
};
const server = new Server({ bindAddress: '127.0.0.1', tls });
const inbound = server.createInbound({ port: opt.port, overrideMSH: true }, async (req, res) => {
  const msg = req.getMessage();
  const id = msg.get('MSH.10').toString();
  appendFileSync(opt.log, `${id}\n`);
  if (opt.dump) writeFileSync(path.join(opt.dump, `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.hl7`), msg.toString());
  await res.sendResponse('AA');
});
inbound.on('listen', () => console.log(`v2 exchange (node-hl7-server, TLS with client certificates) on 127.0.0.1:${opt.port}`));
inbound.on('client.error', (err) => console.log(`client error: ${err?.message ?? err}`));
const stop = async () => { await inbound.close(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
