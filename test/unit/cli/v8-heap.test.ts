import { describe, expect, it } from 'vitest'
import { heapGrowingChosen } from '../../../src/cli/v8-heap.js'

// The CLI sets V8's heap growing factor (src/cli/v8-heap.ts) unless the operator chose one.

describe('heap tuning', () => {
  it('leaves a factor given on node\'s command line alone, in either spelling', () => {
    expect(heapGrowingChosen(['--heap-growing-percent=50'])).toBe(true)
    expect(heapGrowingChosen(['--heap-growing-percent', '50'])).toBe(true)
    expect(heapGrowingChosen(['--max-old-space-size=512', '--heap_growing_percent=80'])).toBe(true)
  })

  it('sets its own otherwise, whatever other flags are given', () => {
    expect(heapGrowingChosen([])).toBe(false)
    expect(heapGrowingChosen(['--enable-source-maps', '--cpu-prof', '--max-old-space-size=512'])).toBe(false)
  })
})
