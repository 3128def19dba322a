import { randomBytes } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/poll.js'
import { multihostUnavailable, Network, PROBE, type Host, type HostProcess } from './hosts.js'

const unavailable = await multihostUnavailable()

/** Every node: faster rounds than the defaults, so the suite is quick; k = 3 as by default. */
const NODE_ARGS = '--stabilize-ms 250 --repair-ms 3000'

/**
 * Twelve hosts, 10.77.0.1 to 10.77.0.12. Hosts 1 to 10 run a node on port 7400; hosts 2 and 6
 * run a second node process on port 7401, hosts 3 and 7 run theirs with two vnodes: twelve
 * processes, fourteen vnodes. Host 11 is the owner's machine (no node: its mount goes through
 * host 4), host 12 a reader's (no node, through host 9), and host 10 also mounts the volume by
 * public key, through its own node.
 */
const NODES: Array<{ host: number, port: number, vnodes?: number }> = [
  ...Array.from({ length: 10 }, (_, i) => ({ host: i + 1, port: 7400, ...(i + 1 === 3 || i + 1 === 7 ? { vnodes: 2 } : {}) })),
  { host: 2, port: 7401 }, { host: 6, port: 7401 },
]
const OWNER = 'h11'
const OWNER_RING = '10.77.0.4:7400'
/** The readers: host, and the node their mount goes through. */
const READER_FAR = { host: 'h12', ring: '10.77.0.9:7400' }
const READER_NEAR = { host: 'h10', ring: '10.77.0.10:7400' }
/** The node killed in the middle of a copy. */
const VICTIM = '10.77.0.5:7400'

/** sha256sum of every file under a directory (without .snapshots), sorted, paths relative to it. */
const SUMS = (dir: string): string => `cd ${dir} && find . -path ./.snapshots -prune -o -type f -print | sort | xargs -r sha256sum`

/** What `cfs where PATH --json` prints, as far as the test reads it. */
interface WhereJson {
  path: string
  complete: boolean
  blocks: Array<{ key: string, role: string, have: number, wanted: number, holders: Array<{ address: string, answer: string }> }>
}

/*
 * A ring across twelve hosts (network namespaces, test/multihost/hosts.ts), each with its own
 * address: the owner's mount on one host and readers' mounts by public key on two others, a
 * node killed in the middle of a copy, a partition that splits the ring in two and heals, and
 * what goes over the wire between hosts.
 */
// Skipped only where network namespaces or FUSE cannot work (not root, no ip or nsenter, no
// /dev/fuse or fusermount3, dist/ not built): multihostUnavailable() says which. CI has them.
describe.skipIf(unavailable !== undefined)(`a ring of twelve hosts${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let net: Network | undefined
  const nodes = new Map<string, HostProcess>()
  const mounts: Record<string, HostProcess> = {}
  /** Files written through the owner's mount, by volume path: the content's sha256 line. */
  const written: string[] = []

  const n = (): Network => net!
  const h = (name: string): Host => n().host(name)
  const liveNodes = (): string[] => [...nodes].filter(([, p]) => p.alive()).map(([a]) => a)
  /** Waits until the ring of these nodes has settled, asked from `from` (probe.ts). */
  const settled = async (from: Host, addresses: readonly string[], timeoutMs = 90_000): Promise<number> => {
    const t0 = Date.now()
    await n().ok(from, `${PROBE} ring ${timeoutMs} ${addresses.join(' ')}`, { timeoutMs: timeoutMs + 10_000 })
    return Date.now() - t0
  }
  /** Writes `files` under the owner's HOME/dir, copies the tree into the mount, fsyncs the mount's top. */
  const copyIn = async (dir: string, files: Record<string, Buffer>): Promise<void> => {
    const owner = h(OWNER)
    for (const [name, bytes] of Object.entries(files)) {
      await mkdir(join(owner.home, dir, name, '..'), { recursive: true })
      await writeFile(join(owner.home, dir, name), bytes)
      written.push(`/${dir}/${name}`)
    }
    await n().ok(owner, `cp -r ~/${dir} ~/cfs/ && sync ~/cfs`)
  }
  const mountReader = async (reader: { host: string, ring: string }): Promise<void> => {
    await n().ok(h(reader.host), 'mkdir -p ~/theirs')
    mounts[reader.host] = await n().start(h(reader.host), `cfs mount ~/theirs --pubkey ~/owner.pub --ring ${reader.ring}`, { ready: /^mounted / })
  }

  beforeAll(async () => {
    const t0 = Date.now()
    net = await Network.create({ hosts: 12 })
    const start = async (spec: (typeof NODES)[number], join?: string): Promise<void> => {
      const host = h(`h${spec.host}`)
      const address = `${host.address}:${spec.port}`
      const p = await n().start(host, `cfs node --listen 0.0.0.0:${spec.port} --advertise ${address} --data ~/node-${spec.port} ` +
        `${spec.vnodes === undefined ? '' : `--vnodes ${spec.vnodes} `}${NODE_ARGS}${join === undefined ? '' : ` --join ${join}`}`, { ready: /^ready /, timeoutMs: 60_000 })
      nodes.set(address, p)
    }
    const [first, ...rest] = NODES
    await start(first!)
    await Promise.all(rest.map(async (spec) => start(spec, '10.77.0.1:7400')))
    const ms = await settled(h('h1'), liveNodes())
    // The owner's key; the public key goes to the readers' hosts.
    const owner = h(OWNER)
    await n().ok(owner, 'cfs keygen ~/owner.key > ~/owner.pub && mkdir -p ~/cfs')
    for (const r of [READER_FAR, READER_NEAR]) await n().ok(h(r.host), `scp ${owner.address}:owner.pub ~/`)
    mounts[OWNER] = await n().start(owner, `cfs mount ~/cfs --key ~/owner.key --ring ${OWNER_RING}`, { ready: /^mounted / })
    console.log(`multihost: 12 hosts, ${nodes.size} node processes settled ${ms} ms after the last was ready; set up in ${Date.now() - t0} ms`)
  }, 180_000)

  afterAll(async () => {
    await net?.teardown()
  }, 60_000)

  it('the owner copies a tree in on one host; readers by public key on two others read the same bytes', async () => {
    const files: Record<string, Buffer> = { 'big/five.bin': randomBytes(5 * 1024 * 1024 + 3) }
    for (let i = 0; i < 8; i++) files[`${i % 3 === 0 ? 'a/b/' : i % 3 === 1 ? 'a/' : ''}f${i}.dat`] = randomBytes(1 + i * 37_000)
    await copyIn('tree', files)
    const want = await n().ok(h(OWNER), SUMS('~/tree'))
    expect(want.trim().split('\n')).toHaveLength(9)
    for (const reader of [READER_FAR, READER_NEAR]) {
      await mountReader(reader)
      expect(await n().ok(h(reader.host), SUMS('~/theirs/tree')), `reader on ${reader.host}`).toBe(want)
    }
  })

  it('a node killed in the middle of a cp into the owner\'s mount: cp and fsync succeed, and a reader on another host reads every byte', async () => {
    const owner = h(OWNER)
    const big = randomBytes(64 * 1024 * 1024)
    await writeFile(join(owner.home, 'big.bin'), big)
    const cp = await n().start(owner, 'cp ~/big.bin ~/cfs/big.bin')
    // Killed once an eighth of it has gone through the mount, while cp is still writing.
    const target = join(owner.home, 'cfs', 'big.bin')
    await waitFor('an eighth of the copy', async () => (await stat(target)).size, (size) => size >= big.length / 8, 60_000, 20)
    const midCopy = cp.alive()
    await nodes.get(VICTIM)!.kill('SIGKILL')
    expect(midCopy, 'cp was still running when the node was killed').toBe(true)
    expect(await cp.exited, `cp: ${cp.stderr()}`).toBe(0)
    // FUSE.md's guarantees: a node killed loses nothing, and fsync returns once every block and
    // the root are on --min-replicas (2 of 3) holders.
    await n().ok(owner, 'sync ~/cfs/big.bin')
    written.push('/big.bin')
    const sum = (await n().ok(owner, 'sha256sum < ~/big.bin')).trim()
    const reader = h(READER_FAR.host)
    await waitFor('the reader to read the whole file', async () => (await n().run(reader, 'sha256sum < ~/theirs/big.bin')).stdout.trim(), (s) => s === sum, 60_000, 500)
  })

  it('a partition splits the ring in two; the owner goes on on one side; after healing every block is on k holders and readers on both sides see the latest version', async () => {
    const owner = h(OWNER)
    const ask = `--pubkey ~/owner.pub --ring ${OWNER_RING}`
    // The far side: about half the hosts, with the far reader and its node. The side that goes
    // on must keep the root's latest version and the top directory (FUSE.md: a publication on a
    // side without them is refused), so a host leaves only while each of those blocks keeps two
    // holders on this side.
    // (Once the top's blocks are on 3 holders again: the killed node may have held some.)
    const { value: top } = await waitFor('the top\'s blocks on 3 holders', async () => JSON.parse(await n().ok(owner, `cfs where / --json ${ask}`)) as WhereJson,
      (r) => r.complete && r.blocks.every((b) => b.have === 3), 60_000, 1_000)
    const hostOf = (address: string): string => n().host(address.split(':')[0] as string).name
    const holders = top.blocks.map((b) => b.holders.filter((x) => x.answer === 'holds').map((x) => hostOf(x.address)))
    const far = new Set([READER_FAR.host, hostOf(READER_FAR.ring)])
    for (const name of ['h8', 'h7', 'h6', 'h5', 'h3', 'h2', 'h1']) {
      if (far.size >= 6) break
      if (holders.every((hs) => hs.filter((x) => x !== name && !far.has(x)).length >= 2)) far.add(name)
    }
    const farHosts = [...far].map(h)
    const isFar = (address: string): boolean => far.has(hostOf(address))
    await n().partition(farHosts)
    const sides = await Promise.all([
      settled(owner, liveNodes().filter((a) => !isFar(a))),
      settled(h(READER_FAR.host), liveNodes().filter(isFar)),
    ])
    console.log(`multihost: partitioned ${[...far].join(' ')} from the rest; each side a ring of its own after ${sides.join(' and ')} ms`)

    // The owner's side goes on: a new tree, fsync'd, read by the reader on this side only.
    await copyIn('during', { 'x.txt': Buffer.from('written during the partition\n'), 'y.bin': randomBytes(2 * 1024 * 1024), 'z/w.bin': randomBytes(70_000) })
    const want = await n().ok(owner, SUMS('~/during'))
    await waitFor('the near reader to see the new tree', async () => (await n().run(h(READER_NEAR.host), SUMS('~/theirs/during'))).stdout, (s) => s === want, 60_000, 500)
    expect((await n().run(h(READER_FAR.host), 'timeout 20 test -e ~/theirs/during')).code, 'the far reader sees the new tree during the partition').not.toBe(0)

    await n().heal()
    const healed = await settled(h('h1'), liveNodes(), 120_000)
    console.log(`multihost: healed; one ring again after ${healed} ms`)

    // Every block of every file written is back on k = 3 holders (cfs where, on the owner's host).
    let pending = [...written]
    const { ms } = await waitFor('every block of the written files on 3 holders', async () => {
      const still: string[] = []
      for (const path of pending) {
        const r = await n().run(owner, `cfs where ${path} --json ${ask}`)
        const report = r.code === 0 ? JSON.parse(r.stdout) as WhereJson : undefined
        if (report === undefined || !report.complete || report.blocks.some((b) => b.have !== 3 || b.wanted !== 3)) still.push(path)
      }
      pending = still
      return still
    }, (still) => still.length === 0, 150_000, 1_000)
    console.log(`multihost: ${written.length} files, every block on 3 holders ${ms} ms after the ring settled`)

    // Readers on both sides see the latest version: the same newest snapshot, the same bytes.
    const latest = (await n().ok(owner, 'ls ~/cfs/.snapshots | sort -n | tail -1')).trim()
    const everything = await n().ok(owner, SUMS('~/cfs'))
    for (const reader of [READER_NEAR, READER_FAR]) {
      const host = h(reader.host)
      await waitFor(`the reader on ${reader.host} to see version ${latest}`, async () => (await n().run(host, 'ls ~/theirs/.snapshots | sort -n | tail -1')).stdout.trim(),
        (v) => v === latest, 60_000, 500)
      expect(await n().ok(host, SUMS('~/theirs')), `reader on ${reader.host}`).toBe(everything)
    }
  })

  // Fails until links are TLS (the TLS work in progress): today the wire is plaintext.
  it('a marker written through the owner\'s mount never crosses the wire in plaintext', async () => {
    const owner = h(OWNER)
    const marker = `cfs-wire-marker-${randomBytes(12).toString('hex')}`
    await writeFile(join(owner.home, 'marker.txt'), `${marker}\n`.repeat(2_000))
    const pcap = join(n().root, 'wire.pcap')
    const capture = await n().capture(pcap)
    await n().ok(owner, 'cp ~/marker.txt ~/cfs/marker.txt && sync ~/cfs/marker.txt')
    // The far reader (another host, no node of its own) reads it back over the wire too.
    await waitFor('the reader to read the marker', async () => (await n().run(h(READER_FAR.host), 'head -c 100 ~/theirs/marker.txt')).stdout,
      (s) => s.startsWith(marker), 60_000, 500)
    await capture.kill('SIGINT')
    const bytes = await readFile(pcap)
    const packets = countPackets(bytes)
    console.log(`multihost: captured ${packets.count} packets, ${packets.bytes} bytes of them to or from port 7400`)
    // The capture saw the copy: at least the file's bytes went from the owner's host to a holder.
    expect(packets.bytes).toBeGreaterThan(2_000 * marker.length)
    expect(bytes.includes(Buffer.from(marker)), 'the marker appears in plaintext on the wire').toBe(false)
  })

  // Fails until links are TLS (the TLS work in progress): today a node answers plaintext frames.
  it('a well-formed plaintext request frame gets no answer', async () => {
    for (const address of ['10.77.0.1:7400', '10.77.0.6:7401']) {
      const r = JSON.parse(await n().ok(h(OWNER), `${PROBE} plain ${address}`)) as { bytes: number, head: string, closed: boolean, answers: number }
      expect(r.answers, `${address} answered a plaintext node.status: ${JSON.stringify(r)}`).toBe(0)
    }
  })
})

/**
 * Packets in a pcap (tcpdump -w on `any`: Linux cooked capture, v1 or v2) and the IPv4 bytes
 * they carried to or from TCP port 7400 or 7401.
 */
function countPackets (pcap: Buffer): { count: number, bytes: number } {
  if (pcap.length < 24) return { count: 0, bytes: 0 }
  const little = pcap.readUInt32LE(0) === 0xa1b2c3d4
  const u32 = (at: number): number => (little ? pcap.readUInt32LE(at) : pcap.readUInt32BE(at))
  // LINKTYPE_LINUX_SLL (113): 16-byte header, protocol at 14; LINUX_SLL2 (276): 20 bytes, protocol at 0.
  const link = u32(20)
  const [header, protocolAt] = link === 276 ? [20, 0] : link === 113 ? [16, 14] : [-1, -1]
  if (header < 0) throw new Error(`unexpected pcap link type ${link}`)
  let count = 0
  let bytes = 0
  for (let at = 24; at + 16 <= pcap.length;) {
    const caplen = u32(at + 8)
    const frame = pcap.subarray(at + 16, at + 16 + caplen)
    at += 16 + caplen
    count++
    if (frame.length < header + 24 || frame.readUInt16BE(protocolAt) !== 0x0800) continue
    const ip = frame.subarray(header)
    if (ip[9] !== 6) continue // TCP
    const ihl = ((ip[0] ?? 0) & 0x0f) * 4
    const ports = [ip.readUInt16BE(ihl), ip.readUInt16BE(ihl + 2)]
    if (ports.some((p) => p === 7400 || p === 7401)) bytes += ip.readUInt16BE(2)
  }
  return { count, bytes }
}
