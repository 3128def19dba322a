import { defineConfig } from 'vitest/config'

// Test tiers (docs/ARCHITECTURE.md#tests): unit and contract suites, seeded simulation,
// real processes on 127.0.0.1, real FUSE mounts (serial), the dashboard in headless
// Chromium (serial), and hosts as network namespaces (serial).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/contracts/**/*.test.ts'] } },
      { test: { name: 'sim', include: ['test/sim/**/*.test.ts'], testTimeout: 240_000 } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], pool: 'forks', testTimeout: 120_000, hookTimeout: 60_000 } },
      { test: { name: 'fuse', include: ['test/fuse/**/*.test.ts'], pool: 'forks', poolOptions: { forks: { singleFork: true } }, testTimeout: 300_000, hookTimeout: 120_000 } },
      // Hosts as network namespaces on this machine, real nodes and mounts on them (serial; root).
      { test: { name: 'multihost', include: ['test/multihost/**/*.test.ts'], pool: 'forks', poolOptions: { forks: { singleFork: true } }, testTimeout: 300_000, hookTimeout: 120_000 } },
      { test: { name: 'browser', include: ['test/browser/**/*.test.ts'], pool: 'forks', poolOptions: { forks: { singleFork: true } }, testTimeout: 120_000, hookTimeout: 90_000 } },
    ],
  },
})
