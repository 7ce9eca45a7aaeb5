#!/usr/bin/env node
// Summarises V8 .cpuprofile files (from `node --cpu-prof`, e.g. `npm run bench -- --cpu-prof DIR`):
// the functions with the most self time, and self time per package or file area.
//
//   node bench/profile-summary.mjs PROFILE.cpuprofile [--top 30]
//   node bench/profile-summary.mjs DIR            (the busiest profile in DIR: a worker's)
//   --skip S        leave out the first S seconds (start-up: module loading, model loading);
//                   --skip auto keeps only the span from the first to the last sample in node:http's
//                   request handling, i.e. the time under load
//   --requests N    also print microseconds per request (N requests served in the profiled window)
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, skip: { type: 'string', default: '0' }, requests: { type: 'string' } } })
if (positionals.length !== 1) {
  console.error('usage: node bench/profile-summary.mjs PROFILE.cpuprofile|DIR [--top N]')
  process.exit(2)
}
let file = positionals[0]
let profile
if (statSync(file).isDirectory()) {
  // The busiest process's profile (a worker's): the most samples that are not idle.
  let best = -1
  for (const f of readdirSync(file).filter((f) => f.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(positionals[0], f), 'utf8'))
    const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id))
    const busy = p.samples.filter((id) => !idle.has(id)).length
    if (busy > best) [best, profile, file] = [busy, p, join(positionals[0], f)]
  }
  if (profile === undefined) throw new Error(`no .cpuprofile in ${positionals[0]}`)
} else {
  profile = JSON.parse(readFileSync(file, 'utf8'))
}

// Self time per node: samples x the interval that follows each sample.
const selfUs = new Map()
const times = []
let t = 0
for (let i = 0; i < profile.samples.length; i++) times.push((t += profile.timeDeltas[i] ?? 0))
let from = Number(flags.skip) * 1e6
let to = Infinity
if (flags.skip === 'auto') {
  const handlers = new Set(['parserOnIncoming', 'parserOnHeadersComplete', 'parserOnMessageComplete', 'resOnFinish', 'writeHead'])
  const http = new Set(profile.nodes.filter((n) => n.callFrame.url.startsWith('node:_http_') && handlers.has(n.callFrame.functionName)).map((n) => n.id))
  const hits = profile.samples.flatMap((id, i) => (http.has(id) ? [times[i]] : []))
  if (hits.length === 0) throw new Error('--skip auto: no sample in node:http code (was the server under load?)')
  from = hits[0]
  to = hits[hits.length - 1]
  console.log(`window: ${(from / 1e6).toFixed(2)} s to ${(to / 1e6).toFixed(2)} s of the profile`)
}
for (let i = 0; i < profile.samples.length; i++) {
  const at = times[i]
  if (at < from || at > to) continue
  const dt = profile.timeDeltas[i + 1] ?? 0
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt)
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

const byFunction = new Map()
const byArea = new Map()
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0
  if (us === 0) continue
  const cf = node.callFrame
  const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : ''
  const key = `${cf.functionName || '(anonymous)'} ${where}`.trim()
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  const area = areaOf(cf)
  byArea.set(area, (byArea.get(area) ?? 0) + us)
}

function shortUrl(url) {
  return url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/').replace(/^.*\/(dist|src|bench)\//, '$1/')
}
function areaOf(cf) {
  const url = cf.url
  if (!url) return cf.functionName.startsWith('(') ? cf.functionName : '(native/builtin)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]
  const d = /\/(dist|src)\/(.*)$/.exec(url)
  if (d) return `servekit ${d[2]}`
  return shortUrl(url)
}

const perRequest = flags.requests ? Number(flags.requests) : undefined
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%${perRequest ? ` ${(us / perRequest).toFixed(2).padStart(6)} µs/req` : ''}`
const top = Number(flags.top)
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n`)
if (perRequest) {
  // The kernel's share of sending a response (writev) varies with what else runs on the machine;
  // the rest is the process's own work and is what a code change moves.
  const idle = byFunction.get('(idle)') ?? 0
  const writev = byFunction.get('writev') ?? 0
  const gc = byFunction.get('(garbage collector)') ?? 0
  const us = (x) => (x / perRequest).toFixed(1)
  console.log(`per request: ${us(total - idle)} µs busy = ${us(writev)} µs in writev (the kernel sending the response) + ${us(total - idle - writev)} µs of JS, runtime and GC (${us(gc)} µs GC)\n`)
}
console.log('self time by area:')
for (const [k, us] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${pct(us)}  ${k}`)
console.log(`\ntop ${top} functions by self time:`)
for (const [k, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`)
