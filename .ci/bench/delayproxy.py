#!/usr/bin/env python3
"""delayproxy.py LISTEN_PORT TARGET_PORT DELAY_SECONDS: a TCP proxy on 127.0.0.1 that holds every
chunk DELAY_SECONDS in each direction before passing it on, in order: a WAN round trip on loopback
for kernels without netem. BENCHMARKS.md ("SFTP delivery") runs transport/sftpdrop's BenchmarkSend
through it."""
import asyncio
import sys
import time

listen, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])


async def pipe(r, w):
    q = asyncio.Queue()

    async def writer():
        while True:
            due, data = await q.get()
            if data is None:
                w.close()
                return
            d = due - time.monotonic()
            if d > 0:
                await asyncio.sleep(d)
            w.write(data)
            await w.drain()

    t = asyncio.create_task(writer())
    while True:
        data = await r.read(65536)
        await q.put((time.monotonic() + delay, data or None))
        if not data:
            break
    await t


async def handle(cr, cw):
    sr, sw = await asyncio.open_connection('127.0.0.1', target)
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw), return_exceptions=True)


async def main():
    s = await asyncio.start_server(handle, '127.0.0.1', listen)
    async with s:
        await s.serve_forever()


asyncio.run(main())
