import { describe, expect, it } from 'vitest'
import { GroupCommit } from '../../../../src/dhash/store/group-commit.js'

/** A commit function that records its batches and finishes when told to. */
function recorder (): { batches: number[][], release: () => void, commit: (ops: number[]) => Promise<void>, failNext: () => void } {
  const batches: number[][] = []
  let waiting: Array<() => void> = []
  let fail = false
  return {
    batches,
    release: () => { const w = waiting; waiting = []; for (const r of w) r() },
    failNext: () => { fail = true },
    commit: async (ops) => {
      batches.push(ops)
      await new Promise<void>((resolve) => { waiting.push(resolve) })
      if (fail) {
        fail = false
        throw new Error('disk on fire')
      }
    },
  }
}

const settle = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

describe('GroupCommit', () => {
  it('commits a lone write at once', async () => {
    const r = recorder()
    const gc = new GroupCommit(r.commit, 100)
    const done = gc.write([1, 2], 10)
    expect(r.batches).toEqual([[1, 2]])
    r.release()
    await done
  })

  it('writes that arrive during a commit share the next batch, each caller\'s ops kept together', async () => {
    const r = recorder()
    const gc = new GroupCommit(r.commit, 1_000)
    const first = gc.write([1], 10)
    const rest = [gc.write([2, 3], 10), gc.write([4], 10), gc.write([5, 6], 10)]
    r.release()
    await first
    await settle()
    expect(r.batches).toEqual([[1], [2, 3, 4, 5, 6]])
    r.release()
    await Promise.all(rest)
  })

  it('a batch stops taking writers once it holds maxBatchBytes', async () => {
    const r = recorder()
    const gc = new GroupCommit(r.commit, 100)
    const all = [gc.write([0], 1), gc.write([1], 60), gc.write([2], 60), gc.write([3], 500), gc.write([4], 1)]
    for (let i = 0; i < 4; i++) {
      r.release()
      await settle()
    }
    await Promise.all(all)
    expect(r.batches).toEqual([[0], [1, 2], [3], [4]])
  })

  it('a failed batch rejects every writer in it; later writes still go through', async () => {
    const r = recorder()
    const gc = new GroupCommit(r.commit, 1_000)
    const first = gc.write([1], 1)
    const second = gc.write([2], 1)
    const third = gc.write([3], 1)
    r.release()
    await first
    r.failNext()
    r.release()
    await expect(second).rejects.toThrow('disk on fire')
    await expect(third).rejects.toThrow('disk on fire')
    const fourth = gc.write([4], 1)
    r.release()
    await fourth
    expect(r.batches).toEqual([[1], [2, 3], [4]])
  })
})
