import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_RING_PROBE_TIMEOUT_MS } from '../../src/node/index.js'
import { CFS_BIN, killDaemon, spawnDaemon, type Daemon } from '../helpers/daemon.js'
import { waitForRing } from '../helpers/ring-settled.js'

/*
 * The dashboard (GET / on a node's --http address) in a real headless Chromium, driven by
 * playwright-core: four `cfs node` processes on 127.0.0.1, the first serving the page. The page
 * must draw the four nodes live, then show a node killed with SIGKILL as failed within the
 * failure-detection bound below, and a screenshot is saved for the record.
 *
 * Chromium is Debian's package at /usr/bin/chromium (scripts/install-deps.sh installs it);
 * without it the suite is skipped. playwright-core downloads no browser.
 */

const CHROMIUM = '/usr/bin/chromium'
// Flags this machine needs: a closed network, and root (no sandbox).
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const SCREENSHOT = fileURLToPath(new URL('../../test-artifacts/dashboard.png', import.meta.url))

const STABILIZE_MS = 250
const ARGS = ['--stabilize-ms', String(STABILIZE_MS), '--repair-ms', '1000']
/*
 * How soon a killed node must show as failed. The ring view runs a round every stabilization
 * interval (--stabilize-ms), counted from the end of the last round, and a node that does not
 * answer its status probe within DEFAULT_RING_PROBE_TIMEOUT_MS is failed from that round on
 * (a killed process on the same host refuses the connection at once). Worst case: a round in
 * flight when the node dies (its probes, at most one deadline), the interval, then the round
 * whose probe fails (at most one deadline); the snapshot is pushed to the page at once. Half a
 * second more for the page to draw and the test to look.
 */
const FAILED_WITHIN_MS = 2 * DEFAULT_RING_PROBE_TIMEOUT_MS + STABILIZE_MS + 500

const exec = promisify(execFile)
const spawned: Daemon[] = []
let browser: Browser | undefined
let work = ''

// Skipped only where Debian's chromium is not installed (the suite's name says so);
// scripts/install-deps.sh installs it, so CI always runs this.
describe.skipIf(!existsSync(CHROMIUM))(`dashboard in headless Chromium (4 nodes)${existsSync(CHROMIUM) ? '' : ` (skipped: no ${CHROMIUM})`}`, () => {
  let seed: Daemon
  let others: Daemon[]
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cfs-dashboard-'))
    seed = await spawnDaemon([...ARGS, '--http', '127.0.0.1:0'])
    spawned.push(seed)
    others = await Promise.all([1, 2, 3].map(async () => spawnDaemon([...ARGS, '--join', seed.address])))
    spawned.push(...others)
    await waitForRing(spawned)
    // A small volume: three files published under one owner key, whose root k nodes hold.
    const key = join(work, 'owner.key')
    await exec(process.execPath, [CFS_BIN, 'keygen', key])
    const tree = join(work, 'tree')
    await mkdir(tree)
    for (const name of ['a.txt', 'b.txt', 'c.txt']) await writeFile(join(tree, name), `file ${name}\n`.repeat(100))
    await exec(process.execPath, [CFS_BIN, 'put', '--ring', seed.address, '--key', key, tree, '/tree'])
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
    page.on('pageerror', (err) => { pageErrors.push(err.message) })
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()) })
  })

  afterAll(async () => {
    await browser?.close()
    await Promise.all(spawned.map(async (d) => { await killDaemon(d, 'SIGKILL') }))
    if (work !== '') await rm(work, { recursive: true, force: true })
  })

  const liveNodes = async (): Promise<number> => page.locator('#ring g.node[data-state="live"]').count()
  const stateOf = async (address: string): Promise<string | null> => page.locator(`#ring g.node[data-node-address="${address}"]`).getAttribute('data-state', { timeout: 1_000 }).catch(() => null)

  it('draws the four nodes live, with their blocks and the volume root', async () => {
    await page.goto(`http://${seed.httpAddress}/`)
    await expect.poll(liveNodes, { timeout: 20_000, interval: 100 }).toBe(4)
    expect(await page.locator('#nodes tr[data-state="live"]').count()).toBe(4)
    expect(await page.locator('#ring circle.vnode[data-state="live"]').count()).toBe(4)
    for (const d of spawned) expect(await stateOf(d.address)).toBe('live')
    // The volume's root is held by k = 3 nodes; the page lists it once, with its holders.
    await expect.poll(async () => page.locator('#volumes tr[data-volume-key]').count(), { timeout: 10_000, interval: 100 }).toBe(1)
    const holders = await page.locator('#volumes tr[data-volume-key] td').nth(3).textContent()
    expect(holders?.split(', ')).toHaveLength(3)
    // The arcs are the owned fractions of the ring: together the whole circle.
    const owns = await page.locator('#nodes tr td:nth-child(4)').allTextContents()
    expect(Math.abs(owns.reduce((s, t) => s + Number.parseFloat(t), 0) - 100)).toBeLessThan(0.5)
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('live')
  })

  it(`shows a SIGKILLed node as failed within ${FAILED_WITHIN_MS} ms, and saves a screenshot`, async () => {
    const victim = others[1] as Daemon
    const killed = Date.now()
    await killDaemon(victim, 'SIGKILL', { keepData: true })
    await expect.poll(async () => stateOf(victim.address), { timeout: FAILED_WITHIN_MS, interval: 50 }).toBe('failed')
    const ms = Date.now() - killed
    console.log(`dashboard: ${victim.address} drawn failed ${ms} ms after SIGKILL (bound ${FAILED_WITHIN_MS} ms)`)
    expect(await liveNodes()).toBe(3)
    expect(await page.locator(`#nodes tr[data-node-address="${victim.address}"]`).getAttribute('data-state')).toBe('failed')
    expect(await page.locator(`#ring g.node[data-node-address="${victim.address}"] circle.vnode`).getAttribute('data-state')).toBe('failed')
    expect(await page.locator(`#nodes tr[data-node-address="${victim.address}"] td`).last().textContent()).toMatch(/^last seen /)

    // `cfs status` prints the same health summary (the seed answers node.ring from its view).
    const text = (await exec(process.execPath, [CFS_BIN, 'status', '--node', seed.address])).stdout
    expect(text).toMatch(/^ring {4}3 live, 1 failed \(3 vnodes\);/m)
    expect(text).toMatch(new RegExp(`^ {2}${victim.address.replace(/\./g, '\\.')} +failed +1 +- .* last seen `, 'm'))
    expect(text).toMatch(/^volumes held by /m)

    await mkdir(join(SCREENSHOT, '..'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    console.log(`dashboard: screenshot saved to ${SCREENSHOT}`)
    expect(pageErrors).toEqual([])
  })
})
