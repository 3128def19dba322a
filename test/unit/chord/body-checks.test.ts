import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import {
  fastCheckOf, fingersRequest, fingersResponse, nextRequest, nextResponse, notifyRequest, parseRequest, parseResponse,
  pingRequest, pingResponse, stateRequest, stateResponse,
} from '../../../src/chord/messages.js'
import { makeNodeRef, toWire } from '../../../src/chord/node-ref.js'
import { BadRequestError, ProtocolError } from '../../../src/core/errors.js'
import { FC } from '../ring-model.js'

// The hand-written checks (src/chord/body-checks.ts) run before zod. They may accept less than
// the schema, never more, and must return exactly what the schema returns.

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
// Half of them carry a pin (k); every address keeps one key, so interning never re-pins here.
const refArb = fc.tuple(fc.nat(255), fc.integer({ min: 1, max: 65_535 }), fc.nat(1023))
  .map(([x, port, v]) => toWire(makeNodeRef(`10.0.${x}.1:${port}`, v, port % 2 === 0 ? new Uint8Array(32).fill(x) : undefined)))
const listArb = fc.array(refArb, { maxLength: 20 })

/** Values on either side of every limit in the schemas. */
const EDGES: unknown[] = [
  null, undefined, 0, -1, 1, 1.5, 16, 17, 63, 64, 65, 1023, 1024, 2 ** 53, Number.NaN, Infinity, true, '', '1', [], {},
  new Uint8Array(31), new Uint8Array(32), new Uint8Array(33), Array.from(new Uint8Array(32)), '00'.repeat(32),
  'a:1', 'ab', 'a b:1', ' a:1', 'a:1\n', 'a/b:1', ':1', 'a:', 'a:http', 'h:65535', 'h:65536', 'h:99999', 'h:123456',
  'h'.repeat(256) + ':65535', 'h'.repeat(257) + ':65535', 'h'.repeat(300) + ':1',
]
const edgeValue = fc.oneof(fc.anything(), fc.constantFrom(...EDGES))

/** A NodeRef with one field replaced, removed or added. */
const refNoise = fc.tuple(refArb, fc.constantFrom('id', 'addr', 'v', 'k', 'extra'), edgeValue, fc.boolean())
  .map(([r, k, v, drop]) => {
    const out: Record<string, unknown> = { ...r, [k]: v }
    if (drop) delete out[k]
    return out
  })

/** Almost-valid values for one field: what a buggy or hostile peer would send. */
const fieldNoise = fc.oneof(
  edgeValue,
  refNoise,
  fc.tuple(listArb, refNoise, fc.nat()).map(([l, bad, i]) => { const out: unknown[] = [...l]; out.splice(i % (l.length + 1), 0, bad); return out }),
  fc.array(refArb, { minLength: 64, maxLength: 66 }),
)

const bodies: Array<[string, z.ZodType, fc.Arbitrary<Record<string, unknown>>]> = [
  ['pingRequest', pingRequest, fc.record({ to: keyArb })],
  ['pingResponse', pingResponse, fc.record({ id: keyArb })],
  ['stateRequest', stateRequest, fc.record({ to: keyArb, succs: fc.integer({ min: 0, max: 64 }), preds: fc.integer({ min: 0, max: 64 }) }, { requiredKeys: ['to'] })],
  ['stateResponse', stateResponse, fc.record({ self: refArb, pred: fc.option(refArb, { nil: null }), succs: listArb, preds: listArb }, { requiredKeys: ['self', 'pred', 'succs'] })],
  ['notifyRequest', notifyRequest, fc.record({ to: keyArb, node: refArb })],
  ['nextRequest', nextRequest, fc.record({
    to: keyArb, key: keyArb, count: fc.integer({ min: 1, max: 16 }), succs: fc.integer({ min: 1, max: 64 }),
  }, { requiredKeys: ['to', 'key'] })],
  ['nextResponse', nextResponse, fc.record({ done: fc.boolean(), nodes: listArb })],
  ['fingersRequest', fingersRequest, fc.record({ to: keyArb })],
  ['fingersResponse', fingersResponse, fc.record({ fingers: listArb })],
]

/** A valid body with one field replaced, removed or added, or not a record at all. */
function mutated (valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc.oneof(
    valid,
    fc.tuple(valid, fc.string({ maxLength: 6 }), fieldNoise).map(([b, k, v]) => ({ ...b, [k]: v })),
    fc.tuple(valid, fc.nat(), fieldNoise).map(([b, i, v]) => {
      const keys = Object.keys(b)
      return keys.length === 0 ? b : { ...b, [keys[i % keys.length] as string]: v }
    }),
    fc.tuple(valid, fc.nat()).map(([b, i]) => {
      const keys = Object.keys(b)
      const out = { ...b }
      if (keys.length > 0) delete out[keys[i % keys.length] as string]
      return out
    }),
    fieldNoise,
  )
}

describe.each(bodies)('fast check for %s', (_name, schema, valid) => {
  const fast = fastCheckOf(schema)

  it('exists and accepts every valid body', () => {
    expect(fast).toBeDefined()
    fc.assert(fc.property(valid, (b) => { expect(fast?.(b)).toBeDefined() }), FC)
  })

  it('accepts nothing the schema rejects, and returns what the schema returns', () => {
    fc.assert(fc.property(mutated(valid), (b) => { expectSubset(schema, b) }), { ...FC, numRuns: 500 })
  })
})

/** Asserts the subset property for one body. */
function expectSubset (schema: z.ZodType, body: unknown): void {
  const got = fastCheckOf(schema)?.(body)
  if (got === undefined) return
  const r = schema.safeParse(body)
  expect(r.success, JSON.stringify(body, (_k, v: unknown) => v instanceof Uint8Array ? `u8[${v.length}]` : v)).toBe(true)
  expect(got).toStrictEqual(r.data)
}

describe('fast checks at every limit', () => {
  const ref = toWire(makeNodeRef('10.0.0.1:4000', 0, new Uint8Array(32).fill(7)))
  const valid: Record<string, Record<string, unknown>> = {
    pingRequest: { to: ref.id },
    pingResponse: { id: ref.id },
    stateRequest: { to: ref.id, succs: 3, preds: 4 },
    stateResponse: { self: ref, pred: ref, succs: [ref], preds: [ref] },
    notifyRequest: { to: ref.id, node: ref },
    nextRequest: { to: ref.id, key: ref.id, count: 3, succs: 1 },
    nextResponse: { done: false, nodes: [ref] },
    fingersResponse: { fingers: [ref] },
  }
  const schemaOf = Object.fromEntries(bodies.map(([name, schema]) => [name, schema]))

  it.each(Object.keys(valid))('%s: each field, and each field of a NodeRef in it, set to each edge value', (name) => {
    const schema = schemaOf[name] as z.ZodType
    const body = valid[name] as Record<string, unknown>
    for (const [field, value] of Object.entries(body)) {
      for (const edge of EDGES) {
        expectSubset(schema, { ...body, [field]: edge })
        for (const k of ['id', 'addr', 'v', 'k']) {
          const bad = { ...ref, [k]: edge }
          expectSubset(schema, { ...body, [field]: Array.isArray(value) ? [...(value as unknown[]), bad] : bad })
        }
      }
    }
    expectSubset(schema, {
      ...body,
      nodes: Array.from({ length: 65 }, () => ref),
      fingers: Array.from({ length: 65 }, () => ref),
      succs: Array.from({ length: 65 }, () => ref),
      preds: Array.from({ length: 65 }, () => ref),
    })
  })
})

describe('parseRequest / parseResponse with a fast check', () => {
  it('still reject what the schema rejects, with the schema\'s issues', () => {
    const ref = toWire(makeNodeRef('10.0.0.1:4000', 0))
    expect(() => parseRequest(notifyRequest, { to: new Uint8Array(32), node: { ...ref, v: 1024 } })).toThrow(BadRequestError)
    expect(() => parseRequest(notifyRequest, { to: new Uint8Array(32), node: { ...ref, v: 1024 } })).toThrow(/node\.v/)
    expect(() => parseResponse(stateResponse, { self: ref, succs: [] }, 'chord.state')).toThrow(ProtocolError)
    expect(() => parseResponse(nextResponse, { done: 1, nodes: [] }, 'chord.next')).toThrow(ProtocolError)
  })

  it('drop unknown fields, as the schema does', () => {
    const ref = toWire(makeNodeRef('10.0.0.1:4000', 0))
    expect(parseResponse(stateResponse, { self: { ...ref, x: 1 }, pred: null, succs: [], extra: true }, 'chord.state'))
      .toStrictEqual({ self: ref, pred: null, succs: [] })
  })
})
