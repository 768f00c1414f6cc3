// load-send.mjs is the crash and outage tests' MLLP load generator. It sends ORU^R01 messages, each
// for its own patient (MRN = PREFIX + control id) with --obx distinct OBX codes, over --conns
// parallel connections, and appends each control id whose ACK says AA (or CA) to --acked as soon as
// the ACK arrives (one write per line, so a line is on disk before the next message is sent).
//
// A message whose connection breaks or whose ACK does not come in time is re-sent, unchanged (same
// control id), after reconnecting: that is what real senders do, and re-sending must be harmless.
//
// Usage: node load-send.mjs --port P [--host H] [--count N] [--conns C] [--rate R/s] [--obx K]
//          [--prefix ID] --acked FILE [--sent FILE] [--stop-file F] [--deadline-s S] [--ack-timeout-ms T]
//          [--reconnect-every M]
// It stops when N messages are acked, or when --stop-file exists (then it finishes the messages it
// has started, retrying until they are acked), or at --deadline-s. Prints a JSON summary on exit;
// exit 1 if any started message ended without AA.
import { appendFileSync, existsSync, openSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import net from 'node:net';

const o = { host: '127.0.0.1', port: 0, count: 100, conns: 4, rate: 0, obx: 2, prefix: 'L', acked: '', sent: '', stopFile: '', deadlineS: 600, ackTimeoutMs: 10000, reconnectEvery: 0 };
const a = process.argv.slice(2);
for (let i = 0; i < a.length; i++) {
  const v = a[i + 1];
  switch (a[i]) {
    case '--host': o.host = v; break;
    case '--port': o.port = Number(v); break;
    case '--count': o.count = Number(v); break;
    case '--conns': o.conns = Number(v); break;
    case '--rate': o.rate = Number(v); break;
    case '--obx': o.obx = Number(v); break;
    case '--prefix': o.prefix = v; break;
    case '--acked': o.acked = v; break;
    case '--sent': o.sent = v; break;
    case '--stop-file': o.stopFile = v; break;
    case '--deadline-s': o.deadlineS = Number(v); break;
    case '--ack-timeout-ms': o.ackTimeoutMs = Number(v); break;
    case '--reconnect-every': o.reconnectEvery = Number(v); break; // close and reopen after every M acked messages
    default: console.error(`unknown argument ${a[i]}`); process.exit(2);
  }
  i++;
}
if (!o.port || !o.acked) {
  console.error('usage: load-send.mjs --port P --acked FILE [...]');
  process.exit(2);
}

const SB = 0x0b;
const EB = 0x1c;
const CR = 0x0d;
const LOINC = [
  ['2345-7', 'Glucose', 'mg/dL'], ['2160-0', 'Creatinine', 'mg/dL'], ['2951-2', 'Sodium', 'mmol/L'],
  ['2823-3', 'Potassium', 'mmol/L'], ['2075-0', 'Chloride', 'mmol/L'], ['17861-6', 'Calcium', 'mg/dL'],
];

const started = Date.now();
const deadline = started + o.deadlineS * 1000;
const ackedFd = openSync(o.acked, 'a');
const stats = { closed: 0, acked: 0, rejected: 0, resent: 0, reconnects: 0, connectErrors: 0, timeouts: 0, unfinished: 0, codes: {} };
let next = 0;
let lastStart = 0;

function ts(d) {
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

// message builds message n. Control ids are unique per run thanks to the prefix.
function message(n) {
  const id = `${o.prefix}${String(n).padStart(6, '0')}`;
  const now = ts(new Date());
  const segs = [
    `MSH|^~\\&|LOADGEN|CICLINIC|FERRY|HIE|${now}||ORU^R01^ORU_R01|${id}|P|2.5.1||||||UNICODE UTF-8`,
    `PID|1||MRN-${id}^^^HOSP^MR||Load^Patient${n}||19700101|U`,
    `OBR|1|ORD-${id}^LOADGEN|FIL-${id}^CILAB|24323-8^Metabolic panel^LN|||${now}|||||||||||||||${now}|||F`,
  ];
  for (let k = 0; k < o.obx; k++) {
    const [code, name, unit] = LOINC[k % LOINC.length];
    segs.push(`OBX|${k + 1}|NM|${code}^${name}^LN||${(n % 50) + 10 + k}|${unit}^${unit}^UCUM|||||F|||${now}`);
  }
  return { id, bytes: Buffer.from(String.fromCharCode(SB) + segs.join('\r') + '\r' + String.fromCharCode(EB, CR), 'utf8') };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stopRequested = () => (o.stopFile && existsSync(o.stopFile)) || Date.now() > deadline;

// Conn is one MLLP client connection that reconnects on demand.
class Conn {
  constructor() { this.sock = null; this.buf = Buffer.alloc(0); this.waiter = null; this.sent = 0; }
  async connect() {
    let backoff = 50;
    for (;;) {
      if (Date.now() > deadline + 60000) throw new Error('deadline');
      try {
        this.sock = await new Promise((resolve, reject) => {
          const s = net.connect({ host: o.host, port: o.port });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        this.buf = Buffer.alloc(0);
        const s = this.sock; // a socket closed on purpose (--reconnect-every) must not touch its successor
        s.on('data', (d) => { if (this.sock === s) this.onData(d); });
        const fail = (err) => {
          if (this.sock !== s) return;
          this.sock = null;
          this.waiter?.reject(err ?? new Error('connection closed'));
        };
        s.on('error', (err) => fail(err));
        s.on('close', () => fail(new Error('connection closed')));
        return;
      } catch {
        stats.connectErrors++;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }
  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    const end = this.buf.indexOf(EB);
    if (end < 0) return;
    let start = this.buf.indexOf(SB);
    if (start < 0 || start > end) start = -1;
    const frame = this.buf.subarray(start + 1, end).toString('utf8');
    this.buf = this.buf.subarray(end + 1);
    if (this.buf[0] === CR) this.buf = this.buf.subarray(1);
    this.waiter?.resolve(frame);
  }
  // send writes one message and returns the ACK text, or throws on a broken connection/timeout.
  async send(bytes) {
    if (!this.sock) { stats.reconnects++; await this.connect(); }
    const sock = this.sock;
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { stats.timeouts++; sock.destroy(); reject(new Error('ack timeout')); }, o.ackTimeoutMs);
      this.waiter = {
        resolve: (f) => { clearTimeout(timer); this.waiter = null; resolve(f); },
        reject: (e) => { clearTimeout(timer); this.waiter = null; reject(e); },
      };
      sock.write(bytes);
    });
  }
}

function msaOf(ack) {
  const msa = ack.split(/\r|\n/).find((s) => s.startsWith('MSA|'));
  if (!msa) return ['', ''];
  const f = msa.split('|');
  return [f[1] ?? '', f[2] ?? ''];
}

async function worker() {
  const c = new Conn();
  await c.connect();
  for (;;) {
    if (stopRequested() || next >= o.count) return;
    if (o.rate > 0) {
      const gap = 1000 / o.rate;
      const wait = lastStart + gap - Date.now();
      lastStart = Math.max(Date.now(), lastStart + gap);
      if (wait > 0) await sleep(wait);
    }
    const n = next++;
    const m = message(n);
    if (o.sent) appendFileSync(o.sent, m.id + '\n');
    let tries = 0;
    for (;;) {
      if (Date.now() > deadline + 60000) { stats.unfinished++; break; }
      if (tries++ > 0) stats.resent++;
      let ack;
      try {
        ack = await c.send(m.bytes);
      } catch {
        await sleep(20);
        continue; // reconnect and re-send the same message
      }
      const [code, ref] = msaOf(ack);
      stats.codes[code] = (stats.codes[code] ?? 0) + 1;
      if ((code === 'AA' || code === 'CA') && ref === m.id) {
        writeSync(ackedFd, m.id + '\n');
        stats.acked++;
        if (o.reconnectEvery > 0 && ++c.sent % o.reconnectEvery === 0 && c.sock) {
          c.sock.end(); // the next send connects anew
          c.sock = null;
          stats.closed++;
        }
        break;
      }
      if (code === 'AE' || code === 'CE') { stats.rejected++; break; }
      await sleep(200); // AR/CR: try again later
    }
  }
}

await Promise.all(Array.from({ length: o.conns }, () => worker()));
fsyncSync(ackedFd);
closeSync(ackedFd);
const summary = { ...stats, started: next, seconds: Math.round((Date.now() - started) / 100) / 10 };
console.log(`load-send ${JSON.stringify(summary)}`);
process.exit(stats.unfinished || stats.rejected ? 1 : 0);
