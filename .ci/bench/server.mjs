// server.mjs is the reference MLLP receiver for `ferry bench mllp`
// comparisons: node-hl7-server answering AA to every message WITHOUT storing
// it anywhere. It shows the cost of MLLP + parsing + ACK alone; ferry's
// figures additionally include conversion and an fsync per message.
//
// Usage: node server.mjs [--port 2576] [--host 127.0.0.1]
import { Server } from 'node-hl7-server';

const opt = { port: 2576, host: '127.0.0.1' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const v = argv[i + 1];
  switch (argv[i]) {
    case '--port': opt.port = Number(v); break;
    case '--host': opt.host = v; break;
    default: console.error(`unknown argument ${argv[i]}`); process.exit(2);
  }
}

const server = new Server({ bindAddress: opt.host });
let received = 0;
const inbound = server.createInbound({ port: opt.port, overrideMSH: true }, async (_req, res) => {
  received++;
  await res.sendResponse('AA');
});
inbound.on('listen', () => console.log(`node-hl7-server listening on ${opt.host}:${opt.port}`));

const stop = async () => {
  console.log(`received ${received} messages`);
  await inbound.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
