import { describe, expect, it } from 'vitest'
import { sleep } from '../../../../src/core/index.js'
import { KeyedLock } from '../../../../src/dhash/store/keyed-lock.js'

describe('KeyedLock', () => {
  it('runs tasks of one key one at a time, in call order, and other keys alongside', async () => {
    const lock = new KeyedLock()
    const events: string[] = []
    const task = (name: string, ms: number) => async (): Promise<string> => {
      events.push(`${name}+`)
      await sleep(ms)
      events.push(`${name}-`)
      return name
    }
    const results = await Promise.all([lock.run('a', task('a1', 20)), lock.run('a', task('a2', 1)), lock.run('b', task('b1', 5))])
    expect(results).toEqual(['a1', 'a2', 'b1'])
    expect(events.indexOf('a1-')).toBeLessThan(events.indexOf('a2+'))
    expect(events.indexOf('b1-')).toBeLessThan(events.indexOf('a1-'))
  })

  it('a failing task rejects its own caller only; the next one still runs', async () => {
    const lock = new KeyedLock()
    const failing = lock.run('a', async () => { throw new Error('boom') })
    const next = lock.run('a', async () => 'ok')
    await expect(failing).rejects.toThrow('boom')
    expect(await next).toBe('ok')
  })
})
