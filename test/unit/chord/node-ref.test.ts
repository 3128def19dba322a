import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  MAX_VNODES, addressSchema, describeNode, fromWire, keySchema, makeNodeRef, nodeIdFor, nodeRefSchema, sameNode, toWire,
} from '../../../src/chord/node-ref.js'
import { BadRequestError } from '../../../src/core/errors.js'
import { blake3Reference } from '../../../src/core/blake3.js'
import { toHex } from '../../../src/core/key.js'
import { FC } from '../ring-model.js'

const addressArb = fc.tuple(fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 65_535 }))
  .map(([x, y, port]) => `10.${x}.${y}.1:${port}`)
const vnodeArb = fc.nat(MAX_VNODES - 1)

describe('nodeIdFor', () => {
  it('is BLAKE3 of "cfs-node:<address>/<vnode>", the same every time', () => {
    fc.assert(fc.property(addressArb, vnodeArb, (addr, v) => {
      const want = toHex(blake3Reference(Buffer.from(`cfs-node:${addr}/${v}`, 'utf8')))
      expect(toHex(nodeIdFor(addr, v))).toBe(want)
      expect(nodeIdFor(addr, v)).toEqual(nodeIdFor(addr, v))
    }), FC)
  })

  it('differs between vnodes and between addresses', () => {
    expect(nodeIdFor('10.0.0.1:4000', 0)).not.toEqual(nodeIdFor('10.0.0.1:4000', 1))
    expect(nodeIdFor('10.0.0.1:4000', 0)).not.toEqual(nodeIdFor('10.0.0.2:4000', 0))
    expect(nodeIdFor('10.0.0.1:4000', 0)).toHaveLength(32)
  })
})

describe('makeNodeRef', () => {
  it('derives id and hex from the address and vnode', () => {
    const n = makeNodeRef('10.0.0.1:4000', 3)
    expect(n.address).toBe('10.0.0.1:4000')
    expect(n.vnode).toBe(3)
    expect(n.id).toEqual(nodeIdFor('10.0.0.1:4000', 3))
    expect(n.hex).toBe(toHex(n.id))
  })

  it('defaults to vnode 0', () => {
    expect(makeNodeRef('10.0.0.9:4000')).toBe(makeNodeRef('10.0.0.9:4000', 0))
  })

  it('interns: the same address and vnode give the same object', () => {
    fc.assert(fc.property(addressArb, vnodeArb, (addr, v) => {
      expect(makeNodeRef(addr, v)).toBe(makeNodeRef(addr, v))
    }), FC)
    expect(makeNodeRef('10.0.0.1:4000', 1)).not.toBe(makeNodeRef('10.0.0.1:4000', 2))
  })

  it('does not confuse an address containing a slash with a vnode', () => {
    expect(makeNodeRef('h/1:4000', 0).id).not.toEqual(makeNodeRef('h:4000', 1).id)
  })
})

describe('sameNode / describeNode', () => {
  it('compares by id; undefined is never the same node', () => {
    const n = makeNodeRef('10.0.0.1:4000', 0)
    expect(sameNode(n, n)).toBe(true)
    expect(sameNode(n, { ...n })).toBe(true)
    expect(sameNode(n, makeNodeRef('10.0.0.1:4000', 1))).toBe(false)
    expect(sameNode(undefined, n)).toBe(false)
    expect(sameNode(undefined, undefined)).toBe(false)
  })

  it('describes a node with its short id, address and vnode', () => {
    const n = makeNodeRef('10.0.0.1:4000', 2)
    expect(describeNode(n)).toBe(`${n.hex.slice(0, 8)}@10.0.0.1:4000/2`)
    expect(describeNode(undefined)).toBe('-')
  })
})

describe('toWire / fromWire', () => {
  it('round-trips to the interned ref', () => {
    fc.assert(fc.property(addressArb, vnodeArb, (addr, v) => {
      const n = makeNodeRef(addr, v)
      expect(fromWire(toWire(n))).toBe(n)
      expect(fromWire({ id: new Uint8Array(n.id) as typeof n.id, addr, v })).toBe(n)
    }), FC)
  })

  it('accepts a parsed wire ref with the right id', () => {
    const n = makeNodeRef('10.0.0.1:4000', 7)
    const parsed = nodeRefSchema.parse({ id: new Uint8Array(n.id), addr: n.address, v: n.vnode })
    expect(fromWire(parsed)).toBe(n)
  })

  it.each([
    ['another vnode\'s id', nodeIdFor('10.0.0.1:4000', 1)],
    ['another address\'s id', nodeIdFor('10.0.0.2:4000', 0)],
    ['one bit flipped', ((): Uint8Array => { const id = new Uint8Array(nodeIdFor('10.0.0.1:4000', 0)); id[31] = (id[31] as number) ^ 1; return id })()],
    ['all zeros', new Uint8Array(32)],
  ])('rejects %s with BadRequestError', (_name, id) => {
    const wire = nodeRefSchema.parse({ id, addr: '10.0.0.1:4000', v: 0 })
    expect(() => fromWire(wire)).toThrow(BadRequestError)
    try { fromWire(wire) } catch (err) { expect((err as BadRequestError).code).toBe('BAD_REQUEST') }
  })
})

describe('the pin (k): the endpoint\'s identity key in its record', () => {
  const keyA = new Uint8Array(32).fill(0xa1)
  const keyB = new Uint8Array(32).fill(0xb2)

  it('round-trips through the wire form: toWire writes k, fromWire keeps it', () => {
    fc.assert(fc.property(addressArb, vnodeArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), (addr, v, key) => {
      const n = makeNodeRef(addr, v, key)
      const wire = toWire(n)
      expect(wire.k).toEqual(key)
      expect(nodeRefSchema.parse(wire)).toEqual(wire)
      const back = fromWire(nodeRefSchema.parse({ ...wire, id: new Uint8Array(n.id), k: new Uint8Array(key) }))
      expect(back).toBe(n)
      expect(back.key).toEqual(key)
    }), FC)
  })

  it('is left out of the wire form of a ref without one', () => {
    const n = makeNodeRef('10.3.0.1:4000', 0)
    expect(n.key).toBeUndefined()
    expect('k' in toWire(n)).toBe(false)
  })

  it('is 32 bytes on the wire', () => {
    const ok = toWire(makeNodeRef('10.3.0.2:4000', 0))
    expect(nodeRefSchema.safeParse({ ...ok, k: keyA }).success).toBe(true)
    for (const k of [new Uint8Array(31), new Uint8Array(33), Array.from(keyA), toHex(keyA), null]) {
      expect(nodeRefSchema.safeParse({ ...ok, k }).success, String(k)).toBe(false)
    }
  })

  it('is shared by every vnode of an endpoint, and a ref made without a key takes the known one', () => {
    const v0 = makeNodeRef('10.3.0.3:4000', 0, keyA)
    expect(makeNodeRef('10.3.0.3:4000', 5).key).toEqual(keyA)
    expect(makeNodeRef('10.3.0.3:4000', 0)).toBe(v0)
    // A record that omits the pin does not unpin the node.
    expect(fromWire({ id: v0.id, addr: v0.address, v: 0 })).toBe(v0)
  })

  it('interning never hands out a stale key: another key for an address replaces all its refs', () => {
    const addr = '10.3.0.4:4000'
    const oldRefs = [makeNodeRef(addr, 0, keyA), makeNodeRef(addr, 1, keyA)]
    const fresh = makeNodeRef(addr, 0, keyB) // the node was installed again with a new key
    expect(fresh).not.toBe(oldRefs[0])
    expect(fresh.key).toEqual(keyB)
    expect(fresh.id).toEqual(oldRefs[0]?.id)
    expect(makeNodeRef(addr, 1).key).toEqual(keyB)
    expect(makeNodeRef(addr, 1)).not.toBe(oldRefs[1])
    expect(makeNodeRef(addr, 0)).toBe(fresh)
    // Refs handed out earlier keep their key (and so fail their pin); they are still the same node.
    expect(oldRefs[0]?.key).toEqual(keyA)
    expect(sameNode(oldRefs[0], fresh)).toBe(true)
    // The same happens through the wire.
    expect(fromWire({ ...toWire(fresh), k: keyA }).key).toEqual(keyA)
    expect(makeNodeRef(addr, 1).key).toEqual(keyA)
  })

  it('a forged record (wrong id) is refused before its key is interned', () => {
    const n = makeNodeRef('10.3.0.5:4000', 0, keyA)
    expect(() => fromWire({ id: nodeIdFor('10.3.0.6:4000', 0), addr: n.address, v: 0, k: keyB })).toThrow(BadRequestError)
    expect(makeNodeRef(n.address, 0)).toBe(n)
  })
})

describe('nodeRefSchema', () => {
  const id = nodeIdFor('10.0.0.1:4000', 0)
  const ok = { id, addr: '10.0.0.1:4000', v: 0 }

  it.each([
    ['an IPv4 address', ok],
    ['a host name', { ...ok, addr: 'node-1.example.org:4000' }],
    ['an IPv6 address', { ...ok, addr: '[::1]:4000' }],
    ['the shortest address', { ...ok, addr: 'a:1' }],
    ['the longest address', { ...ok, addr: 'h'.repeat(256) + ':65535' }],
    ['the top vnode', { ...ok, v: MAX_VNODES - 1 }],
  ])('accepts %s', (_name, value) => {
    expect(nodeRefSchema.safeParse(value).success).toBe(true)
  })

  it.each([
    ['no port', { ...ok, addr: '10.0.0.1' }],
    ['an empty port', { ...ok, addr: '10.0.0.1:' }],
    ['no host', { ...ok, addr: ':4000' }],
    ['a space in the host', { ...ok, addr: '10.0.0 .1:4000' }],
    ['a leading space', { ...ok, addr: ' 10.0.0.1:4000' }],
    ['a trailing newline', { ...ok, addr: '10.0.0.1:4000\n' }],
    ['a slash', { ...ok, addr: '10.0.0.1/8:4000' }],
    ['a six-digit port', { ...ok, addr: '10.0.0.1:123456' }],
    ['a named port', { ...ok, addr: '10.0.0.1:http' }],
    ['a too long address', { ...ok, addr: 'h'.repeat(300) + ':4000' }],
    ['an empty address', { ...ok, addr: '' }],
    ['a numeric address', { ...ok, addr: 4000 }],
    ['vnode -1', { ...ok, v: -1 }],
    [`vnode ${MAX_VNODES}`, { ...ok, v: MAX_VNODES }],
    ['a fractional vnode', { ...ok, v: 1.5 }],
    ['a string vnode', { ...ok, v: '0' }],
    ['a 31-byte id', { ...ok, id: id.subarray(0, 31) }],
    ['a 33-byte id', { ...ok, id: new Uint8Array(33) }],
    ['an id given as an array', { ...ok, id: Array.from(id) }],
    ['an id given as hex', { ...ok, id: toHex(id) }],
    ['a missing id', { addr: ok.addr, v: 0 }],
    ['a missing vnode', { id, addr: ok.addr }],
    ['null', null],
  ])('rejects %s', (_name, value) => {
    expect(nodeRefSchema.safeParse(value).success).toBe(false)
  })

  it('keySchema and addressSchema reject in isolation too', () => {
    expect(keySchema.safeParse(new Uint8Array(31)).success).toBe(false)
    expect(keySchema.safeParse(new Uint8Array(32)).success).toBe(true)
    expect(addressSchema.safeParse('host').success).toBe(false)
    expect(addressSchema.safeParse('host:1').success).toBe(true)
  })
})
