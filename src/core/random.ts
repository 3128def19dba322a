import { xoroshiro128plus, unsafeUniformIntDistribution, type RandomGenerator } from 'pure-rand'

/** A seeded random source: simulations and tests replay exactly from their seed. */
export class SeededRandom {
  readonly seed: number
  private readonly gen: RandomGenerator

  constructor (seed: number) {
    this.seed = seed
    this.gen = xoroshiro128plus(seed)
  }

  /** An integer in [0, maxExclusive). */
  int (maxExclusive: number): number {
    if (maxExclusive <= 0) throw new RangeError('maxExclusive must be positive')
    return unsafeUniformIntDistribution(0, maxExclusive - 1, this.gen)
  }

  /** A float in [0, 1). */
  float (): number {
    return unsafeUniformIntDistribution(0, 0x7fffffff, this.gen) / 0x80000000
  }

  pick<T> (items: readonly T[]): T {
    const item = items[this.int(items.length)]
    if (item === undefined) throw new RangeError('cannot pick from an empty list')
    return item
  }

  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = items[i] as T
      items[i] = items[j] as T
      items[j] = t
    }
    return items
  }

  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.int(256)
    return out
  }
}
