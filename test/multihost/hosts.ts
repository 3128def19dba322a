/*
 * DEV DOCS: hosts for the multi-host tier, as Linux network namespaces on this machine.
 *
 * - Every host is a network namespace with one veth link (`eth0`, 10.77.0.N/24 by default:
 *   the addresses README's multi-host section uses) whose other end is a port of a bridge in
 *   a switch namespace of its own. Nothing is added to the root namespace, so runs in
 *   parallel (and other work on the machine) never see each other's addresses.
 * - Names carry the test process's PID (`cfsmh-<pid>-<random>-…`); a run removes what earlier
 *   runs left behind whose PID is gone (namespaces, the processes in them, mounts and
 *   directories under `cfs-mh-<pid>-*` in the temp directory) before it makes its own.
 * - Commands run in a host through `nsenter --net=/var/run/netns/NAME`: only the network
 *   namespace changes, so a FUSE mount made in one host is visible to every other and to the
 *   test (`ip netns exec` would give each command a mount namespace of its own). Each host
 *   has its own HOME (and so its own cfs data directory); PATH starts with `cfs` (this
 *   checkout's bin/cfs) and an `scp` that copies from another host's HOME.
 * - A partition moves the chosen hosts' switch ports onto a second bridge: each side is one
 *   network, the two cannot reach each other, and nothing answers across (packets are dropped,
 *   as on a cut link). Setting the chosen links down instead would leave every such host
 *   alone, not a second ring. `heal()` moves them back.
 * - Teardown (afterAll, and synchronously on exit, SIGINT, SIGTERM and SIGHUP): every mount
 *   under the run's directory is detached (`fusermount3 -uz`, else `umount -l`), every
 *   process started here and every process still in one of the namespaces is killed by its
 *   PID, the namespaces are deleted (which deletes the veths and bridges in them), and the
 *   directory is removed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CFS_BIN, fuseUnavailable, type ShResult } from '../fuse/helpers.js'

/** Namespaces of this tier start with this, then the PID of the test process that made them. */
const NS_PREFIX = 'cfsmh-'
/** Run directories: `<tmpdir>/cfs-mh-<pid>-XXXXXX`. */
const DIR_PREFIX = 'cfs-mh-'

/** `node` running test/multihost/probe.ts (through tsx), to append arguments to: see probe.ts. */
export const PROBE = [
  process.execPath, '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
  fileURLToPath(new URL('probe.ts', import.meta.url)),
].map((a) => JSON.stringify(a)).join(' ')

/** Why the multi-host tier cannot run here, or undefined if it can. */
export async function multihostUnavailable (): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root (network namespaces need it)'
  for (const tool of ['ip', 'nsenter']) {
    if ((await shell(`command -v ${tool}`)).code !== 0) return `no ${tool}`
  }
  return fuseUnavailable()
}

/** One host: a network namespace with one address. */
export interface Host {
  /** h1, h2, …: also the name of its port on the switch. */
  readonly name: string
  readonly address: string
  /** The network namespace (under /var/run/netns). */
  readonly netns: string
  /** Its HOME, where its cfs data directory, keys and mount points go. */
  readonly home: string
}

/** A long-running process started in a host. */
export interface HostProcess {
  readonly host: Host
  readonly command: string
  readonly pid: number
  /** Every line it printed on stdout so far. */
  readonly lines: readonly string[]
  /** The last 50,000 characters of stderr. */
  readonly stderr: () => string
  readonly alive: () => boolean
  /** Resolves with the exit code (null after a signal) once it has exited. */
  readonly exited: Promise<number | null>
  /** Sends `signal` (SIGKILL unless told otherwise) to its process group and waits for the exit. */
  kill: (signal?: NodeJS.Signals) => Promise<void>
}

export interface RunOptions { timeoutMs?: number, env?: NodeJS.ProcessEnv }

export interface StartOptions {
  /** Resolve once a line of stdout or stderr matches this (default: at once). */
  ready?: RegExp
  /** @default 30_000 */
  timeoutMs?: number
}

export interface NetworkInit {
  /** How many hosts. */
  hosts: number
  /** The first three octets of the hosts' /24. @default '10.77.0' */
  subnet?: string
}

/** Networks of this process not yet torn down: the exit handler tears them down. */
const live = new Set<Network>()
let exitHooked = false

/** Hosts on one switch; see the DEV DOCS above. */
export class Network {
  /** The run's directory (homes, shims, captures). */
  readonly root: string
  readonly hosts: readonly Host[]
  readonly switchNs: string
  private readonly bin: string
  private readonly processes = new Set<HostProcess>()
  private readonly split = new Set<Host>()
  private torn = false

  private constructor (root: string, hosts: Host[], switchNs: string) {
    this.root = root
    this.hosts = hosts
    this.switchNs = switchNs
    this.bin = join(root, 'bin')
  }

  /** Removes what dead runs left, then makes `hosts` hosts on one switch. */
  static async create (init: NetworkInit): Promise<Network> {
    hookExit()
    await removeLeftovers()
    const subnet = init.subnet ?? '10.77.0'
    if (init.hosts < 1 || init.hosts > 250) throw new RangeError('1 to 250 hosts')
    const root = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`))
    const tag = `${NS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`
    const hosts = Array.from({ length: init.hosts }, (_, i): Host => ({
      name: `h${i + 1}`, address: `${subnet}.${i + 1}`, netns: `${tag}-h${i + 1}`, home: join(root, `h${i + 1}`),
    }))
    const net = new Network(root, hosts, `${tag}-sw`)
    live.add(net)
    try {
      await net.build()
    } catch (err) {
      await net.teardown()
      throw err
    }
    return net
  }

  private async build (): Promise<void> {
    const sw = this.switchNs
    const script = [
      'set -e',
      `ip netns add ${sw}`,
      `ip -n ${sw} link set lo up`,
      // Two bridges: every host starts on `main`; a partition moves some onto `split`.
      `ip -n ${sw} link add main type bridge`, `ip -n ${sw} link set main up`,
      `ip -n ${sw} link add split type bridge`, `ip -n ${sw} link set split up`,
      ...this.hosts.flatMap((h) => [
        `ip netns add ${h.netns}`,
        `ip -n ${sw} link add ${h.name} type veth peer name eth0 netns ${h.netns}`,
        `ip -n ${sw} link set ${h.name} master main`,
        `ip -n ${sw} link set ${h.name} up`,
        `ip -n ${h.netns} link set lo up`,
        `ip -n ${h.netns} addr add ${h.address}/24 dev eth0`,
        `ip -n ${h.netns} link set eth0 up`,
      ]),
    ].join('\n')
    const r = await shell(script, { timeoutMs: 60_000 })
    if (r.code !== 0) throw new Error(`setting up the hosts failed:\n${r.stderr}`)
    await mkdir(this.bin)
    for (const h of this.hosts) await mkdir(h.home)
    await writeFile(join(this.bin, 'cfs'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CFS_BIN)} "$@"\n`)
    await writeFile(join(this.bin, 'scp'), scpShim(this.hosts))
    await chmod(join(this.bin, 'cfs'), 0o755)
    await chmod(join(this.bin, 'scp'), 0o755)
  }

  /** The host with this address or name. */
  host (addressOrName: string): Host {
    const h = this.hosts.find((x) => x.address === addressOrName || x.name === addressOrName)
    if (h === undefined) throw new TypeError(`no host ${addressOrName}`)
    return h
  }

  /** The environment of commands in `host`: its HOME, the shims first on PATH, no cfs settings from outside. */
  env (host: Host, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: host.home, PATH: `${this.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...extra }
    for (const k of ['CFS_DATA', 'XDG_DATA_HOME', 'DEBUG', 'NODE_OPTIONS']) if (!(k in extra)) delete env[k]
    return env
  }

  /** Runs a bash command in `host` (its network, HOME and PATH; cwd its HOME) to its end. */
  async run (host: Host, command: string, options: RunOptions = {}): Promise<ShResult> {
    return shell(command, { timeoutMs: options.timeoutMs, env: this.env(host, options.env), cwd: host.home, netns: host.netns })
  }

  /** Like run, but fails with the command's output unless it exits 0; returns stdout. */
  async ok (host: Host, command: string, options: RunOptions = {}): Promise<string> {
    const r = await this.run(host, command, options)
    if (r.code !== 0) throw new Error(`on ${host.address}: ${command}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`)
    return r.stdout
  }

  /** Starts a long-running bash command in `host`, in a process group of its own; waits for `ready`. */
  async start (host: Host, command: string, options: StartOptions = {}): Promise<HostProcess> {
    const p = startIn(host.netns, command, { env: this.env(host), cwd: host.home, host })
    this.processes.add(p)
    void p.exited.then(() => { this.processes.delete(p) })
    if (options.ready === undefined) return p
    const ready = options.ready
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`on ${host.address}: not ready after ${options.timeoutMs ?? 30_000} ms: ${command}\n${p.stderr()}`)) }, options.timeoutMs ?? 30_000)
        const check = (line: string): void => { if (ready.test(line)) { clearTimeout(timer); resolve() } }
        p.onLine(check)
        void p.exited.then((code) => { clearTimeout(timer); reject(new Error(`on ${host.address}: exited (${String(code)}) before ready: ${command}\n${p.lines.join('\n')}\n${p.stderr()}`)) })
      })
    } catch (err) {
      await p.kill()
      throw err
    }
    return p
  }

  /** Splits the network in two: `side` on one switch, every other host on the other. */
  async partition (side: readonly Host[]): Promise<void> {
    for (const h of side) this.split.add(h)
    await this.ports(side, 'split')
  }

  /** Puts every host back on one switch. */
  async heal (): Promise<void> {
    const moved = [...this.split]
    this.split.clear()
    await this.ports(moved, 'main')
  }

  private async ports (hosts: readonly Host[], bridge: 'main' | 'split'): Promise<void> {
    if (hosts.length === 0) return
    const script = hosts.map((h) => `ip -n ${this.switchNs} link set ${h.name} master ${bridge}`).join(' && ')
    const r = await shell(script)
    if (r.code !== 0) throw new Error(`moving ports to ${bridge} failed:\n${r.stderr}`)
  }

  /** Starts tcpdump on every port of the switch, writing a pcap to `file`; resolves once it listens. Stop it with kill('SIGINT'). */
  async capture (file: string, filter = ''): Promise<HostProcess> {
    const p = startIn(this.switchNs, `exec tcpdump -i any -U -s 0 -w ${JSON.stringify(file)} ${filter}`, { env: process.env, cwd: this.root })
    this.processes.add(p)
    void p.exited.then(() => { this.processes.delete(p) })
    await new Promise<void>((resolve, reject) => {
      p.onLine((line) => { if (/listening on/.test(line)) resolve() })
      void p.exited.then((code) => { reject(new Error(`tcpdump exited (${String(code)}):\n${p.stderr()}`)) })
    })
    return p
  }

  /** Tears everything down (idempotent): mounts, processes, namespaces, the run's directory. */
  async teardown (): Promise<void> {
    if (this.torn) return
    this.torn = true
    live.delete(this)
    await detachMounts(this.root)
    await Promise.all([...this.processes].map(async (p) => p.kill()))
    const namespaces = [this.switchNs, ...this.hosts.map((h) => h.netns)]
    await killNamespaceProcesses(namespaces)
    await detachMounts(this.root)
    await shell(namespaces.map((n) => `ip netns del ${n} 2>/dev/null`).join('; '))
    await rm(this.root, { recursive: true, force: true })
  }

  /** The same, synchronously, for the exit handler. */
  teardownSync (): void {
    if (this.torn) return
    this.torn = true
    live.delete(this)
    const namespaces = [this.switchNs, ...this.hosts.map((h) => h.netns)]
    detachMountsSync(this.root)
    for (const p of this.processes) { try { process.kill(-p.pid, 'SIGKILL') } catch { /* gone */ } }
    for (const n of namespaces) for (const pid of netnsPidsSync(n)) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
    detachMountsSync(this.root)
    for (const n of namespaces) { try { execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' }) } catch { /* gone */ } }
    try { rmSync(this.root, { recursive: true, force: true }) } catch { /* a busy mount point: nothing more to do */ }
  }
}

/** `scp HOST:PATH... DEST` between the hosts: HOST:PATH is PATH in that host's HOME (README's copy step). */
function scpShim (hosts: readonly Host[]): string {
  return [
    '#!/bin/bash',
    '# scp HOST:PATH... DEST between the multi-host test\'s hosts: a relative PATH is in that host\'s HOME.',
    'set -euo pipefail',
    'args=("$@"); dest="${args[-1]}"; unset \'args[-1]\'',
    'for src in "${args[@]}"; do',
    '  host="${src%%:*}"; path="${src#*:}"',
    '  case "$host" in',
    ...hosts.map((h) => `    ${h.address}) home=${JSON.stringify(h.home)} ;;`),
    '    *) echo "scp: no host $host here" >&2; exit 1 ;;',
    '  esac',
    '  case "$path" in /*) ;; *) path="$home/$path" ;; esac',
    '  cp -r "$path" "$dest"',
    'done',
    '',
  ].join('\n')
}

interface StartedProcess extends HostProcess { onLine: (f: (line: string) => void) => void }

/** Spawns `bash -c command` in a network namespace (or here, without one) in a process group of its own. */
function startIn (netns: string, command: string, options: { env: NodeJS.ProcessEnv, cwd: string, host?: Host }): StartedProcess {
  const child: ChildProcess = spawn('nsenter', [`--net=/var/run/netns/${netns}`, '--', 'bash', '-c', command], {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: options.env, cwd: options.cwd,
  })
  const lines: string[] = []
  const listeners: Array<(line: string) => void> = []
  let stderr = ''
  const onLine = (line: string): void => { for (const f of listeners) f(line) }
  createInterface({ input: child.stdout! }).on('line', (line) => { lines.push(line); onLine(line) })
  createInterface({ input: child.stderr! }).on('line', (line) => { stderr = (stderr + line + '\n').slice(-50_000); onLine(line) })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  if (child.pid === undefined) throw new Error(`could not start nsenter for: ${command}`)
  const pid = child.pid
  return {
    host: options.host as Host,
    command,
    pid,
    lines,
    stderr: () => stderr,
    alive,
    exited,
    onLine: (f) => { listeners.push(f) },
    kill: async (signal = 'SIGKILL') => {
      if (!alive()) return
      try { process.kill(-pid, signal) } catch { /* already gone */ }
      await exited
    },
  }
}

/** Runs a bash command (in a network namespace if given) in a process group of its own; on timeout the group is killed. */
async function shell (command: string, options: { timeoutMs?: number, env?: NodeJS.ProcessEnv, cwd?: string, netns?: string } = {}): Promise<ShResult> {
  const argv = options.netns === undefined ? ['bash', '-c', command] : ['nsenter', `--net=/var/run/netns/${options.netns}`, '--', 'bash', '-c', command]
  const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const timeoutMs = options.timeoutMs ?? 120_000
  const timer = setTimeout(() => {
    stderr += `\n(killed after ${timeoutMs} ms)`
    try { process.kill(-(child.pid as number), 'SIGKILL') } catch { /* gone */ }
  }, timeoutMs)
  const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null]
  clearTimeout(timer)
  return { code: code ?? (signal === null ? 1 : 128), stdout, stderr }
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mounts; octal escapes decoded). */
function mountsUnder (dir: string, table: string): string[] {
  return table.split('\n').map((l) => l.split(' ')[1]).filter((m): m is string => m !== undefined)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length)
}

async function detachMounts (dir: string): Promise<void> {
  for (const m of mountsUnder(dir, await readFile('/proc/self/mounts', 'utf8'))) {
    const r = await shell(`fusermount3 -uz ${JSON.stringify(m)} 2>/dev/null || umount -l ${JSON.stringify(m)}`)
    if (r.code !== 0) console.error(`multihost teardown: could not detach ${m}: ${r.stderr}`)
  }
}

function detachMountsSync (dir: string): void {
  for (const m of mountsUnder(dir, readFileSync('/proc/self/mounts', 'utf8'))) {
    try { execFileSync('fusermount3', ['-uz', m], { stdio: 'ignore' }) } catch {
      try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }) } catch { /* nothing more to do */ }
    }
  }
}

function netnsPidsSync (netns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).split('\n').filter((l) => l !== '').map(Number)
  } catch {
    return []
  }
}

/** Kills by PID every process still in these namespaces (mount daemons, anything a command left running). */
async function killNamespaceProcesses (namespaces: readonly string[]): Promise<void> {
  const pids = (await Promise.all(namespaces.map(async (n) => {
    const r = await shell(`ip netns pids ${n} 2>/dev/null`)
    return r.stdout.split('\n').filter((l) => l !== '').map(Number)
  }))).flat()
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
  // Wait (briefly) for them to be gone, so no mount is served while it is detached.
  const until = Date.now() + 5_000
  while (pids.some(isAlive) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
}

/** Whether a process runs (a zombie, killed but not yet reaped, does not). */
function isAlive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/** Namespaces, processes, mounts and directories of earlier runs whose test process is gone. */
async function removeLeftovers (): Promise<void> {
  const dead = (pid: number): boolean => pid !== process.pid && !isAlive(pid)
  const list = await shell('ip netns list')
  const namespaces = list.stdout.split('\n').map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NS_PREFIX) && dead(Number(n.slice(NS_PREFIX.length).split('-')[0])))
  await killNamespaceProcesses(namespaces)
  const dirs = (await shell(`ls -d ${tmpdir()}/${DIR_PREFIX}* 2>/dev/null`)).stdout.split('\n')
    .filter((d) => d !== '' && dead(Number(d.slice(join(tmpdir(), DIR_PREFIX).length).split('-')[0])))
  for (const d of dirs) await detachMounts(d)
  for (const n of namespaces) await shell(`ip netns del ${n}`)
  for (const d of dirs) await rm(d, { recursive: true, force: true })
  if (namespaces.length > 0 || dirs.length > 0) console.error(`multihost: removed what earlier runs left: ${[...namespaces, ...dirs].join(', ')}`)
}

function hookExit (): void {
  if (exitHooked) return
  exitHooked = true
  const all = (): void => { for (const n of [...live]) n.teardownSync() }
  process.on('exit', all)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      all()
      // Then end as the signal would have: vitest's workers make process.exit throw, and a
      // listener of the signal (vitest's among them) keeps the process from dying of it.
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
    })
  }
}
