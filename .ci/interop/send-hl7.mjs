// send-hl7.mjs sends HL7 v2 message files over MLLP with the npm node-hl7-client (an independent
// sender implementation) and prints one line per message: "<file> <MSH-10> <MSA-1>".
//
// Usage: node send-hl7.mjs --host 127.0.0.1 --port 2575 [--expect AA] [--timeout-ms 15000] FILE...
// Files may use LF, CRLF or CR segment endings. With --expect CODE the exit code is 1 unless every
// ACK's MSA-1 equals CODE. Exit 2 when a message could not be sent or no ACK came in time.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Client, { Message } from 'node-hl7-client';

const opts = { host: '127.0.0.1', port: 2575, expect: '', timeoutMs: 15000, files: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  switch (argv[i]) {
    case '--host': opts.host = argv[++i]; break;
    case '--port': opts.port = Number(argv[++i]); break;
    case '--expect': opts.expect = argv[++i]; break;
    case '--timeout-ms': opts.timeoutMs = Number(argv[++i]); break;
    default: opts.files.push(argv[i]);
  }
}
if (opts.files.length === 0) {
  console.error('usage: send-hl7.mjs --host H --port P [--expect AA] FILE...');
  process.exit(2);
}

let failed = false;
for (const file of opts.files) {
  const text = readFileSync(file, 'utf8').replace(/\r\n|\n/g, '\r').replace(/\r+$/, '');
  const msg = new Message({ text });
  const version = msg.get('MSH.12').toString() || '2.5';
  const control = msg.get('MSH.10').toString();
  const code = await sendOne(msg, version).catch((err) => {
    console.log(`${path.basename(file)} ${control} ERROR ${err.message}`);
    return '';
  });
  if (!code) {
    process.exitCode = 2;
    continue;
  }
  console.log(`${path.basename(file)} ${control} ${code}`);
  if (opts.expect && code !== opts.expect) failed = true;
}
if (failed && !process.exitCode) process.exitCode = 1;
process.exit(process.exitCode ?? 0);

// sendOne opens a connection for one message (the client is per-version), waits for the ACK and
// returns its MSA-1.
function sendOne(msg, version) {
  return new Promise((resolve, reject) => {
    const client = new Client({ host: opts.host, version });
    let conn;
    const timer = setTimeout(() => {
      void conn?.close();
      reject(new Error(`no ACK within ${opts.timeoutMs}ms`));
    }, opts.timeoutMs);
    conn = client.createConnection(
      { port: opts.port, waitAck: true, maxConnectionAttempts: 3 },
      async (res) => {
        clearTimeout(timer);
        const code = res.getMessage().get('MSA.1').toString();
        await conn.close().catch(() => {});
        resolve(code);
      },
    );
    conn.on?.('client.error', (err) => {
      clearTimeout(timer);
      reject(err instanceof Error ? err : new Error(String(err)));
    });
    conn.sendMessage(msg).catch((err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
