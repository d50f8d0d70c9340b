/**
 * `npm run bench:launch`: what the first screen costs. The real app launch (tools/miniprogram/simulate/
 * launch.ts, what app.ts's onLaunch does) and the real home page with its TDesign components,
 * rendered by miniprogram-simulate with the official WXML compiler, against a fresh local cloud with
 * the demo content, three times on one device:
 *
 *  - cold: a new device and a new user (empty storage, cold function instances);
 *  - warm-fresh: the next launch a moment later (every cache fresh, the day's visit recorded; the
 *    user has skipped the onboarding guide);
 *  - warm-stale: the same device 7 hours later the same day (caches past their freshness, not their
 *    staleness: the page renders from storage and refreshes).
 *
 * Each: the invocations in order (those before the first render marked), database round trips and
 * documents read (the local cloud's own count per invocation), bytes on the wire each way, setData
 * calls and bytes per component, the tracker's queue writes to storage, and the time from launch to
 * the guides on screen. After the page
 * settles the tracker is flushed once: its batch is the launch's one invocation after first render.
 * The main package's size comes from the official compiler (tools/miniprogram/ci.ts).
 *
 * The last line printed is one JSON object:
 *   {"cold":{"invocations":N,"dbRoundTrips":N},"warm":{"invocations":N,"dbRoundTrips":N},"mainKB":N}
 *
 *   npm run bench:launch                 # figures, then the JSON line
 *   npm run bench:launch -- --write-docs # also rewrites the generated tables in docs/
 *   npm run bench:launch -- --no-size    # skip the compile (mainKB is then null)
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { InvocationRecord } from '../local-cloud/ledger'
import { startCloudProcess } from '../local-cloud/client'
import { compile } from '../miniprogram/ci'
import { createWx, type FakeWx } from '../miniprogram/fake-wx'
import { readAppJson } from '../miniprogram/project'
import { launchApp } from '../miniprogram/simulate/launch'
import { MP_ROOT, mountPageWith, unmountAll } from '../miniprogram/simulate/mount'
import { clearDocument, freshMiniprogramModules, installPageEnvironment } from '../miniprogram/simulate/node-env'
import { measure, type SizeReport } from '../miniprogram/size'
import { GENERATED, writeBetweenMarkers } from './docs'

const HOME = 'pages/home/index'
const OPENID_KEY = 'local-cloud:openid'
/** How long after the last request a launch counts as settled (the tagline waits up to 1 s for a config). */
const QUIET_MS = 1200

interface Request {
  fn: string
  action: string
  beforeRender: boolean
  bytesOut: number
  bytesIn: number
}

interface ComponentSetData {
  calls: number
  bytes: number
}

export interface LaunchFigures {
  invocations: string[]
  beforeRender: string[]
  dbRoundTrips: number
  docsRead: number
  coldStarts: number
  bytesOut: number
  bytesIn: number
  setData: Record<string, ComponentSetData>
  setDataCalls: number
  setDataBytes: number
  /** The tracker's writes of its queue to storage (wx.setStorageSync('tracker:queue')). */
  queueWrites: number
  firstRenderMs: number
}

/** Byte length of a value as JSON in UTF-8 (what crosses the wire, or the view-layer bridge for setData). */
const jsonBytes = (value: unknown): number => (value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value), 'utf8'))

// ---- setData per component --------------------------------------------------------------------

interface ExparserComponent {
  is?: string
  setData(this: ExparserComponent, data: Record<string, unknown>): void
}

let recording: Record<string, ComponentSetData> | null = null
/** Registered component id → the tag its owner uses (`t-skeleton`; `main` for the page). */
const tags = new Map<string, string>()

/** Counts every setData of every component (the page included) through exparser, which all of them go through. */
function recordSetData(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exparser = require('miniprogram-exparser') as { Component: { prototype: ExparserComponent } }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const jComponent = require('j-component') as { register(definition: { tagName?: string }): string }
  const register = jComponent.register.bind(jComponent)
  jComponent.register = (definition) => {
    const id = register(definition)
    if (definition.tagName) tags.set(id, definition.tagName)
    return id
  }
  const proto = exparser.Component.prototype
  const original = proto.setData
  proto.setData = function (data) {
    if (recording) {
      const tag = tags.get(this.is ?? '') ?? '?'
      const name = tag === 'main' ? 'home (the page)' : tag
      const entry = (recording[name] ??= { calls: 0, bytes: 0 })
      entry.calls++
      entry.bytes += jsonBytes(data)
    }
    return original.call(this, data)
  }
}

// ---- one launch -------------------------------------------------------------------------------

function wrapRequests(fake: FakeWx, requests: Request[], rendered: () => boolean, inflight: { n: number; last: number }): void {
  const request = fake.wx.request as (options: Record<string, any>) => void
  ;(fake.wx as Record<string, unknown>).request = (options: Record<string, any>) => {
    const match = /\/functions\/([a-z]+)$/.exec(String(options.url))
    const entry: Request = {
      fn: match?.[1] ?? String(options.url),
      action: String(options.data?.action ?? ''),
      beforeRender: !rendered(),
      bytesOut: jsonBytes(options.data),
      bytesIn: 0,
    }
    requests.push(entry)
    inflight.n++
    const done = () => {
      inflight.n--
      inflight.last = performance.now()
    }
    request({
      ...options,
      success: (res: { data: unknown }) => {
        entry.bytesIn = jsonBytes(res.data)
        done()
        options.success?.(res)
      },
      fail: (err: unknown) => {
        done()
        options.fail?.(err)
      },
    })
  }
}

/** Counts the tracker's queue writes to storage until the returned function is called (which restores wx). */
function countQueueWrites(fake: FakeWx): () => number {
  const set = fake.wx.setStorageSync as (key: string, value: unknown) => void
  let n = 0
  fake.wx.setStorageSync = (key: string, value: unknown) => {
    if (key === 'tracker:queue') n++
    return set(key, value)
  }
  return () => {
    fake.wx.setStorageSync = set
    return n
  }
}

async function invocationsSince(url: string, since: number): Promise<InvocationRecord[]> {
  const res = await fetch(`${url}/_/invocations?limit=2000`)
  const body = (await res.json()) as { invocations: InvocationRecord[] }
  return body.invocations.filter((r) => r.startedAt >= since).reverse()
}

async function launch(url: string, fake: FakeWx): Promise<LaunchFigures> {
  const requests: Request[] = []
  const inflight = { n: 0, last: performance.now() }
  let renderedAt = 0
  const since = Date.now()
  recording = {}
  fake.log.requests.length = 0
  let page: Record<string, unknown> | undefined
  let tracker: { flush(): Promise<void>; stopTracker(): void } | undefined
  wrapRequests(fake, requests, () => renderedAt > 0, inflight)
  const queueWrites = countQueueWrites(fake)
  const started = performance.now()
  const m = await mountPageWith(freshMiniprogramModules, HOME, {
    cloudUrl: url,
    fake,
    stackDepth: 1,
    timeoutMs: 30_000,
    beforeLoad: () => {
      const g = globalThis as Record<string, unknown>
      g.getCurrentPages = () => (page ? [page] : [{ route: HOME }])
      launchApp(MP_ROOT, fake, { experiments: true })
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      tracker = require(path.join(MP_ROOT, 'core/tracker')) as typeof tracker
    },
  })
  page = m.page
  // First render: the guides on screen (from storage or from the cloud).
  await m.waitFor(() => m.page.data.status === 'ready', 'the guides', 30_000)
  renderedAt = performance.now()
  const settled = async () => {
    while (inflight.n > 0 || performance.now() - inflight.last < QUIET_MS) await new Promise((r) => setTimeout(r, 20))
  }
  await settled()
  await tracker!.flush()
  await settled()
  tracker!.stopTracker()
  m.unmount()
  unmountAll()
  clearDocument()
  const setData = recording
  recording = null
  const records = await invocationsSince(url, since)
  const name = (r: { fn: string; action?: string }) => `${r.fn}.${r.action ?? ''}`
  const total = (pick: (s: ComponentSetData) => number) => Object.values(setData).reduce((sum, s) => sum + pick(s), 0)
  return {
    invocations: requests.map(name),
    beforeRender: requests.filter((r) => r.beforeRender).map(name),
    dbRoundTrips: records.reduce((sum, r) => sum + r.dbTotal, 0),
    docsRead: records.reduce((sum, r) => sum + r.docsRead, 0),
    coldStarts: records.filter((r) => r.coldStart).length,
    bytesOut: requests.reduce((sum, r) => sum + r.bytesOut, 0),
    bytesIn: requests.reduce((sum, r) => sum + r.bytesIn, 0),
    setData: Object.fromEntries(Object.entries(setData).sort((a, b) => b[1].bytes - a[1].bytes)),
    setDataCalls: total((s) => s.calls),
    setDataBytes: total((s) => s.bytes),
    queueWrites: queueWrites(),
    firstRenderMs: Math.round(renderedAt - started),
  }
}

/** Every cache entry saved `ms` earlier (the device's clock moved on). */
function age(fake: FakeWx, ms: number): void {
  for (const [key, value] of fake.storage) {
    if (key.startsWith('cache:') && typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'number') {
      fake.storage.set(key, { ...(value as object), t: (value as { t: number }).t - ms })
    }
  }
}

// ---- report -----------------------------------------------------------------------------------

const kb = (bytes: number) => (bytes / 1024).toFixed(1)

function table(runs: Record<string, LaunchFigures>): string {
  const names = Object.keys(runs)
  const row = (label: string, pick: (f: LaunchFigures) => string | number) => `| ${label} | ${names.map((n) => pick(runs[n]!)).join(' | ')} |`
  const lines = [
    `| | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---').join('|')}|`,
    row('invocations before first render', (f) => `${f.beforeRender.length}${f.beforeRender.length ? ` (${f.beforeRender.join(', ')})` : ''}`),
    row('invocations in all, in order', (f) => `${f.invocations.length} (${f.invocations.join(', ')})`),
    row('DB round trips', (f) => f.dbRoundTrips),
    row('documents read', (f) => f.docsRead),
    row('cold function starts', (f) => f.coldStarts),
    row('bytes out / in', (f) => `${kb(f.bytesOut)} KB / ${kb(f.bytesIn)} KB`),
    row('setData calls / bytes (all components)', (f) => `${f.setDataCalls} / ${kb(f.setDataBytes)} KB`),
    row('tracker queue writes to storage', (f) => f.queueWrites),
    row('time to first render (local cloud)', (f) => `${f.firstRenderMs} ms`),
  ]
  return lines.join('\n')
}

function setDataTable(runs: Record<string, LaunchFigures>): string {
  const names = Object.keys(runs)
  const components = [...new Set(names.flatMap((n) => Object.keys(runs[n]!.setData)))]
  const cell = (f: LaunchFigures, c: string) => (f.setData[c] ? `${f.setData[c]!.calls} / ${f.setData[c]!.bytes} B` : '—')
  return [`| setData calls / bytes | ${names.join(' | ')} |`, `|---|${names.map(() => '---').join('|')}|`, ...components.map((c) => `| ${c} | ${names.map((n) => cell(runs[n]!, c)).join(' | ')} |`)].join('\n')
}

function sizeTable(sizes: SizeReport): string {
  const all = [sizes.main, ...sizes.subpackages]
  const name = (n: string) => n.replace(/^packages\//, '')
  return [
    `| official compiler | ${all.map((p) => name(p.name)).join(' | ')} | total |`,
    `|---|${all.map(() => '---:').join('|')}|---:|`,
    `| KB | ${all.map((p) => kb(p.bytes)).join(' | ')} | ${kb(sizes.totalBytes)} |`,
    `| of which TDesign | ${all.map((p) => kb(p.tdesignBytes)).join(' | ')} | ${kb(sizes.tdesignBytes)} |`,
  ].join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'write-docs': { type: 'boolean', default: false }, 'no-size': { type: 'boolean', default: false } } })
  installPageEnvironment(MP_ROOT)
  recordSetData()
  // The app's own console output (the tracker's warnings when a call fails...) is not the bench's.
  const cloud = await startCloudProcess({ seed: true, prefix: 'bench-launch-' })
  const runs: Record<string, LaunchFigures> = {}
  try {
    const fake = createWx()
    fake.storage.set(OPENID_KEY, 'dev-benchlaunch1')
    fake.privacy = { needAuthorization: false, held: false }
    runs.cold = await launch(cloud.url, fake)
    fake.storage.set('onboarding', { status: 'skipped', step: 'tabs', synced: true })
    runs['warm-fresh'] = await launch(cloud.url, fake)
    age(fake, 7 * 3600_000)
    runs['warm-stale'] = await launch(cloud.url, fake)
  } finally {
    await cloud.stop()
  }
  const sizes = values['no-size'] ? null : measure(await compile(), readAppJson())
  const mainKB = sizes ? Math.round((sizes.main.bytes / 1024) * 10) / 10 : null

  const report = [table(runs), '', setDataTable(runs), '', sizes ? sizeTable(sizes) : 'Package sizes: not measured (--no-size)'].join('\n')
  console.log(report)
  if (values['write-docs']) {
    if (!sizes) throw new Error('--write-docs needs the package sizes: leave out --no-size')
    const stamp = GENERATED('npm run bench:launch -- --write-docs')
    writeBetweenMarkers('docs/benchmarks.md', 'bench:launch', `${stamp}\n${report}`)
    writeBetweenMarkers('docs/miniprogram.md', 'bench:launch', `${stamp}\n${table(runs)}\n\n${sizeTable(sizes)}`)
    console.log('\ndocs/benchmarks.md and docs/miniprogram.md updated')
  }
  const warm = runs['warm-fresh']!
  console.log(JSON.stringify({ cold: { invocations: runs.cold!.invocations.length, dbRoundTrips: runs.cold!.dbRoundTrips }, warm: { invocations: warm.invocations.length, dbRoundTrips: warm.dbRoundTrips }, mainKB }))
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
