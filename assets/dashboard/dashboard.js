// The cfs ring dashboard: draws the snapshot served at /ring and pushed on /events.
// Read-only; every string from the node goes into the page as text (textContent or an
// attribute value), never as markup. No framework, no build step.
/* global document, fetch, EventSource */
'use strict'

const SVG = 'http://www.w3.org/2000/svg'
const CENTER = 200
const RADIUS = 160

let last = 0

function el (tag, attrs = {}, text) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = String(text)
  return e
}

function svgEl (tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = String(text)
  return e
}

function bytes (n) {
  if (n === null) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`
}

/** The time of day for today's times, with the date for older ones. */
function time (ms) {
  if (ms === null) return '-'
  const d = new Date(ms)
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString()
}
const num = (v) => (v === null ? '-' : String(v))
const short = (hex) => `${hex.slice(0, 12)}…`

/** A point at ring position f (0 at the top, clockwise). */
function point (f, r = RADIUS) {
  const a = 2 * Math.PI * f - Math.PI / 2
  return [CENTER + r * Math.cos(a), CENTER + r * Math.sin(a)]
}

/** The arc (from, to] clockwise; `whole` draws the full circle. */
function arcPath (from, to, whole) {
  if (whole) return `M ${CENTER} ${CENTER - RADIUS} a ${RADIUS} ${RADIUS} 0 1 1 0 ${2 * RADIUS} a ${RADIUS} ${RADIUS} 0 1 1 0 ${-2 * RADIUS}`
  const span = ((to - from) % 1 + 1) % 1
  const [x1, y1] = point(from)
  const [x2, y2] = point(to)
  return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${RADIUS} ${RADIUS} 0 ${span > 0.5 ? 1 : 0} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`
}

/** A colour per node: hues from green to purple for live nodes (red is kept for failed ones). */
function colors (nodes) {
  const map = new Map()
  nodes.forEach((n, i) => { map.set(n.address, n.state === 'live' ? `hsl(${120 + ((i * 71) % 190)} 55% 45%)` : 'var(--bad)') })
  return map
}

function drawRing (s, color) {
  const ring = document.getElementById('ring')
  const parts = [svgEl('circle', { class: 'base', cx: CENTER, cy: CENTER, r: RADIUS })]
  for (const node of s.nodes) {
    const g = svgEl('g', { class: 'node', 'data-node-address': node.address, 'data-state': node.state })
    g.append(svgEl('title', {}, `${node.address} (${node.state})`))
    const vnodes = s.vnodes.filter((v) => v.address === node.address)
    for (const v of vnodes) {
      if (v.state === 'live' && v.owns > 0) {
        g.append(svgEl('path', { class: 'arc', d: arcPath(v.from, v.at, v.owns >= 1), stroke: color.get(node.address) }))
      }
    }
    for (const v of vnodes) {
      const [x, y] = point(v.at)
      const dot = svgEl('circle', { class: 'vnode', cx: x.toFixed(2), cy: y.toFixed(2), r: 6, stroke: color.get(node.address), 'data-vnode-id': v.id, 'data-state': v.state })
      dot.append(svgEl('title', {}, `${node.address} vnode ${v.vnode}, id ${short(v.id)}, ${v.state}, owns ${(v.owns * 100).toFixed(2)}%`))
      g.append(dot)
      if (v.state === 'failed') {
        g.append(svgEl('path', { class: 'cross', d: `M ${x - 9} ${y - 9} L ${x + 9} ${y + 9} M ${x - 9} ${y + 9} L ${x + 9} ${y - 9}` }))
      }
    }
    parts.push(g)
  }
  parts.push(svgEl('text', { class: 'center big', x: CENTER, y: CENTER - 4 }, `${s.summary.live} live`))
  parts.push(svgEl('text', { class: 'center', x: CENTER, y: CENTER + 20 }, `${s.summary.failed} failed · ${s.summary.vnodes} vnodes`))
  ring.replaceChildren(...parts)
}

function drawNodes (s, color) {
  const rows = s.nodes.map((n) => {
    const tr = el('tr', { 'data-node-address': n.address, 'data-state': n.state })
    const name = el('td')
    const swatch = el('span', { class: 'swatch' })
    swatch.style.background = color.get(n.address)
    name.append(swatch, el('code', {}, n.address))
    const under = el('td', { class: n.underReplicated > 0 ? 'num warn' : 'num' }, num(n.underReplicated))
    const backlog = el('td', { class: n.backlog > 0 ? 'num warn' : 'num' }, num(n.backlog))
    tr.append(
      name,
      el('td', { class: 'state' }, n.state),
      el('td', { class: 'num' }, n.vnodes),
      el('td', { class: 'num' }, n.state === 'live' ? `${(n.owns * 100).toFixed(1)}%` : '-'),
      el('td', { class: 'num' }, num(n.blocks)),
      el('td', { class: 'num' }, bytes(n.bytes)),
      under,
      backlog,
      el('td', {}, n.state === 'live' ? time(n.lastRepairAt) : `last seen ${n.lastSeen === null ? 'never' : time(n.lastSeen)}`),
    )
    return tr
  })
  document.getElementById('nodes').replaceChildren(...rows)
}

function drawVolumes (s) {
  const rows = s.volumes.map((v) => {
    const tr = el('tr', { 'data-volume-key': v.key })
    tr.append(
      el('td', {}, ''),
      el('td', { class: 'num' }, v.seq),
      el('td', {}, time(v.publishedAt)),
      el('td', {}, v.holders.map((h) => `${h.address} (${h.seq})`).join(', ')),
      el('td', {}, ''),
    )
    tr.cells[0].append(el('code', { title: v.owner }, short(v.owner)))
    tr.cells[4].append(el('code', { title: v.key }, short(v.key)))
    return tr
  })
  if (rows.length === 0) {
    const tr = el('tr')
    tr.append(el('td', { colspan: 5, class: 'muted' }, 'no volume roots on the nodes seen'))
    rows.push(tr)
  }
  document.getElementById('volumes').replaceChildren(...rows)
}

function drawSummary (s) {
  const t = s.summary
  const items = [
    `${t.live} live`, `${t.failed} failed`, `${t.blocks} blocks`, bytes(t.bytes),
    `${t.underReplicated} under-replicated`, `backlog ${t.backlog}`, `${t.volumes} volume${t.volumes === 1 ? '' : 's'}`,
  ]
  document.getElementById('summary').replaceChildren(...items.map((text) => el('span', {}, text)))
}

function render (s) {
  if (s.at < last) return // an older snapshot arriving late
  last = s.at
  const color = colors(s.nodes)
  document.getElementById('from').textContent = s.from
  document.getElementById('updated').textContent = new Date(s.at).toLocaleTimeString()
  drawSummary(s)
  drawRing(s, color)
  drawNodes(s, color)
  drawVolumes(s)
  document.body.dataset.snapshotAt = String(s.at)
}

function connection (state, text) {
  const c = document.getElementById('connection')
  c.dataset.state = state
  c.textContent = text
}

function start () {
  // First paint from /ring; from then on the event stream pushes every change.
  fetch('/ring').then((r) => (r.ok ? r.json() : undefined)).then((s) => { if (s !== undefined) render(s) }).catch(() => {})
  const events = new EventSource('/events')
  events.addEventListener('open', () => { connection('live', 'live') })
  events.addEventListener('error', () => { connection('lost', 'reconnecting…') })
  events.addEventListener('ring', (e) => { render(JSON.parse(e.data)) })
  events.addEventListener('heartbeat', () => { connection('live', 'live') })
}

document.addEventListener('DOMContentLoaded', start)
