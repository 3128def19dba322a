// One link's cost: 1 MiB (and 8 KiB) requests from one TcpTransport to another in this process,
// on TLS and on plaintext links, one after the other; MB/s and the CPU of both ends per MB.
//   npx tsx bench/links.ts [--sizes 1048576,8192] [--mib 256] [--inflight 16]
import { parseArgs } from 'node:util'
import { TcpTransport } from '../src/net/index.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1048576,8192' },
    mib: { type: 'string', default: '256' },
    inflight: { type: 'string', default: '16' },
  },
})

async function measure (encrypt: boolean, size: number): Promise<string> {
  const server = new TcpTransport({}, { listen: '127.0.0.1:0', encrypt })
  server.handle('put', async (body) => Promise.resolve((body as { d: Uint8Array }).d.length))
  const client = new TcpTransport({}, { encrypt })
  await server.start()
  await client.start()
  try {
    const payload = new Uint8Array(size).fill(7)
    await client.request(server.address, 'put', { d: payload }) // connected (and handshaken) before the clock starts
    const count = Math.max(16, Math.round(Number(values.mib) * 2 ** 20 / size))
    const inflight = Number(values.inflight)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let sent = 0
    await Promise.all(Array.from({ length: inflight }, async () => {
      while (sent < count) {
        sent++
        await client.request(server.address, 'put', { d: payload })
      }
    }))
    const ms = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    const mb = count * size / 1e6
    return `${encrypt ? 'tls  ' : 'plain'} ${String(size).padStart(8)} B x ${count}: ${(mb / ms * 1000).toFixed(0)} MB/s, ${((cpu.user + cpu.system) / 1000 / mb).toFixed(2)} CPU ms/MB (both ends)`
  } finally {
    await client.stop()
    await server.stop()
  }
}

for (const size of (values.sizes ?? '').split(',').map(Number)) {
  for (const encrypt of [true, false]) console.log(await measure(encrypt, size))
}
