import { describe, expect, it } from 'vitest'
import { errorCode } from '../../helpers/thrown.js'
import { RootWatchers } from '../../../src/dhash/root-watch.js'
import type { Key } from '../../../src/core/index.js'

/*
 * The holder's side of dhash.watch: a watcher is answered once, with the first root newer than
 * the one it has, or with nothing when its time is up or it goes away; the number kept is bounded.
 */

const key = new Uint8Array(32).fill(7) as Key
const other = new Uint8Array(32).fill(8) as Key
const bytes = (n: number): Uint8Array => new Uint8Array([n])
const none = async (): Promise<undefined> => undefined

describe('RootWatchers', () => {
  it('answers a watcher with the first root stored above its sequence number, and only once', async () => {
    const w = new RootWatchers()
    const waiting = w.wait(key, 5, 60_000, none)
    expect(w.size).toBe(1)
    w.notify(key, 5, bytes(5)) // not newer
    w.notify(other, 9, bytes(9)) // another root
    w.notify(key, 6, bytes(6))
    w.notify(key, 7, bytes(7))
    expect(await waiting).toEqual(bytes(6))
    expect(w.size).toBe(0)
  })

  it('answers at once when the stored root is already newer', async () => {
    const w = new RootWatchers()
    expect(await w.wait(key, 2, 60_000, async () => ({ seq: 3, bytes: bytes(3) }))).toEqual(bytes(3))
    expect(w.size).toBe(0)
  })

  it('answers nothing when the wait is over, or when the watcher goes away, and forgets it', async () => {
    const w = new RootWatchers()
    expect(await w.wait(key, 1, 20, none)).toBeUndefined()
    const gone = new AbortController()
    const waiting = w.wait(key, 1, 60_000, none, gone.signal)
    gone.abort()
    expect(await waiting).toBeUndefined()
    expect(w.size).toBe(0)
  })

  it('refuses watches past the bound per root and in all (BUSY), and close answers every one', async () => {
    const w = new RootWatchers({ maxPerRoot: 2, maxTotal: 3 })
    const a = w.wait(key, 1, 60_000, none)
    const b = w.wait(key, 1, 60_000, none)
    expect(await errorCode(w.wait(key, 1, 60_000, none))).toBe('BUSY')
    const c = w.wait(other, 1, 60_000, none)
    expect(await errorCode(w.wait(other, 1, 60_000, none))).toBe('BUSY')
    w.close()
    expect(await Promise.all([a, b, c])).toEqual([undefined, undefined, undefined])
    expect(w.size).toBe(0)
    expect(await errorCode(new RootWatchers({ maxPerRoot: 0 }).wait(key, 1, 60_000, none))).toBe('BUSY')
  })
})
