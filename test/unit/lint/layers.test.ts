import { ESLint } from 'eslint'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The layer rule must stay live: an upward import fails lint (docs/ARCHITECTURE.md).
const root = fileURLToPath(new URL('../../..', import.meta.url))

async function lint (file: string, code: string): Promise<string[]> {
  // Only the layer rule runs, without type information, so the probe file need not exist.
  const eslint = new ESLint({
    cwd: root,
    ruleFilter: ({ ruleId }) => ruleId === 'import-x/no-restricted-paths',
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  })
  const [result] = await eslint.lintText(code, { filePath: `${root}/${file}` })
  const messages = result?.messages ?? []
  expect(messages.filter((m) => m.fatal === true)).toEqual([])
  return messages.map((m) => m.message)
}

describe('layer rule', () => {
  it('rejects an upward import (core importing chord, chord importing node)', async () => {
    expect(await lint('src/core/probe.ts', 'import { ChordNode } from \'../chord/index.js\'\nexport const x = ChordNode\n')).toHaveLength(1)
    expect(await lint('src/chord/probe.ts', 'import { CfsNode } from \'../node/index.js\'\nexport const x = CfsNode\n')).toHaveLength(1)
  }, 60_000)

  it('allows a downward import (node importing chord)', async () => {
    expect(await lint('src/node/probe.ts', 'import { ChordNode } from \'../chord/index.js\'\nexport const x = ChordNode\n')).toEqual([])
  }, 60_000)
})
