/*
 * Run inside a host (the test process cannot enter a network namespace): `node --import tsx
 * test/multihost/probe.ts COMMAND ...`.
 *
 * - `ring TIMEOUT_MS ADDRESS...`: waits until the ring of these nodes has settled (every
 *   vnode's predecessor and first three successors are its neighbours: waitForRing); exit 0,
 *   or 1 with the reason.
 * - `plain ADDRESS`: opens a plain TCP connection, sends one well-formed plaintext request frame
 *   (`node.status`, as `cfs status` sends it: 4-byte big-endian length, then the codec's
 *   frame), and prints as JSON what came back within 3 s: the bytes, whether the connection
 *   was closed, and the response frames that decoded.
 */
import { connect } from 'node:net'
import { decodeFrame, encodeFrame, FrameType, type Frame } from '../../src/net/index.js'
import { STATUS_METHOD } from '../../src/node/index.js'
import { waitForRing } from '../helpers/ring-settled.js'

const [command, ...args] = process.argv.slice(2)

if (command === 'ring') {
  const [timeoutMs, ...addresses] = args
  try {
    await waitForRing(addresses.map((address) => ({ address })), Number(timeoutMs))
  } catch (err) {
    console.error((err as Error).message)
    process.exit(1)
  }
} else if (command === 'plain') {
  const [address] = args
  const [host, port] = (address ?? '').split(':')
  const frame = encodeFrame({ type: FrameType.REQUEST, id: 1, method: STATUS_METHOD, body: {} })
  const prefix = Buffer.alloc(4)
  prefix.writeUInt32BE(frame.length)
  const socket = connect({ host: host as string, port: Number(port) })
  const received: Buffer[] = []
  let closed = false
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3_000)
    socket.on('connect', () => { socket.write(Buffer.concat([prefix, frame])) })
    socket.on('data', (b: Buffer) => { received.push(b) })
    socket.on('error', () => {})
    socket.on('close', () => { closed = true; clearTimeout(timer); resolve() })
  })
  socket.destroy()
  const bytes = Buffer.concat(received)
  // Whatever came back, read as this protocol's frames: any response frame is an answer.
  const answers: Frame[] = []
  for (let at = 0; at + 4 <= bytes.length;) {
    const length = bytes.readUInt32BE(at)
    if (at + 4 + length > bytes.length) break
    try {
      const f = decodeFrame(bytes.subarray(at + 4, at + 4 + length))
      if (f.type === FrameType.RESPONSE) answers.push(f)
    } catch { /* not a frame */ }
    at += 4 + length
  }
  process.stdout.write(JSON.stringify({ bytes: bytes.length, head: bytes.subarray(0, 16).toString('hex'), closed, answers: answers.length }) + '\n')
} else {
  console.error('usage: probe.ts ring TIMEOUT_MS ADDRESS... | plain ADDRESS')
  process.exit(2)
}
