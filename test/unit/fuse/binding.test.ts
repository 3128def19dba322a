import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { patchPrebuild } from '../../../src/fuse/index.js'

const require = createRequire(import.meta.url)
const prebuild = join(dirname(require.resolve('fuse-native/package.json')), 'prebuilds', 'linux-x64', 'node.napi.node')

describe('the fuse-native prebuild fix', () => {
  it('changes exactly the two checked sites of the stock linux-x64 prebuild', async () => {
    const stock = await readFile(prebuild)
    const fixed = patchPrebuild(stock)
    expect(fixed.length).toBe(stock.length)
    const changed: number[] = []
    for (let i = 0; i < stock.length; i++) if (stock[i] !== fixed[i]) changed.push(i)
    // utimens: one displacement byte (0x68 -> 0x70); opendir's store -> orb $4 + NOPs.
    expect(changed[0]).toBe(0x3391)
    expect(changed.at(-1)).toBe(0x436f)
    expect(changed.filter((i) => i >= 0x4000)).toEqual([0x436f])
    expect(fixed[0x436f]).toBe(0x70)
    expect([...fixed.subarray(0x3391, 0x3398)]).toEqual([0x80, 0x8d, 0x30, 0xf7, 0xff, 0xff, 0x04])
  })

  it('refuses a build whose bytes are not the expected ones', async () => {
    const stock = await readFile(prebuild)
    const other = Buffer.from(stock)
    other[0x436f] = 0x60
    expect(() => patchPrebuild(other)).toThrow(/unexpected bytes/)
    expect(() => patchPrebuild(new Uint8Array(100))).toThrow(/unexpected bytes/)
  })
})
