/**
 * `npm run bench:tracking`: what tracking costs and whether it keeps its promise.
 *
 *  1. size: the device code (tracker + attribution + monitor + page behavior), minified and gzipped;
 *  2. cost: events per `track` invocation, DB round trips per batch, bytes per event on the wire;
 *  3. loss and duplication: simulated sessions through the real tracker and the local cloud, with a
 *     share of calls failing at random and the app killed and restarted mid-way;
 *  4. ingestion throughput of `track`: events per second and p99 latency per batch.
 *
 *   npm run bench:tracking -- --events 10000 --fail 0.3 --json
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'
import { CloudDatabase, startCloudProcess } from '../local-cloud/client'
import { createWx, type FakeWx } from '../miniprogram/fake-wx'
import { ROOT } from '../paths'

const CORE = path.join(ROOT, 'miniprogram/core')

// ---- 1. size ---------------------------------------------------------------------------------

interface CodeSize {
  modules: string[]
  minified: number
  gzip: number
}

async function codeSize(modules: string[]): Promise<CodeSize> {
  const result = await esbuild.build({
    stdin: { contents: modules.map((m) => `export * from './${m}'`).join('\n'), resolveDir: CORE, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'cjs',
    target: 'es2020',
    write: false,
    // The cloud client is the app's shared transport, not part of tracking.
    external: ['./cloud'],
  })
  const code = result.outputFiles[0]!.contents
  return { minified: code.length, gzip: gzipSync(code).length, modules }
}

/** The issue's measure (tracker + attribution + monitor, with the id generator they need), and all of the device's tracking code. */
async function deviceCodeSize(): Promise<{ core: CodeSize; all: CodeSize }> {
  return {
    core: await codeSize(['tracker', 'attribution', 'monitor', 'uuid']),
    all: await codeSize(['tracker', 'attribution', 'monitor', 'uuid', 'tracked-page', 'app-tracking']),
  }
}

// ---- a local cloud and a flaky proxy in front of it ------------------------------------------

interface Flaky {
  url: string
  failedBefore: number
  failedAfter: number
  forwarded: number
  close(): Promise<void>
}

/**
 * Forwards to the cloud; fails a share of calls: half before they reach the cloud, half after
 * (the events are stored but the reply is lost, so the device retries what was already stored).
 */
async function flakyProxy(target: string, failRate: number): Promise<Flaky> {
  const stats = { failedBefore: 0, failedAfter: 0, forwarded: 0 }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const roll = Math.random()
      if (roll < failRate / 2) {
        stats.failedBefore++
        res.socket?.destroy()
        return
      }
      const body = Buffer.concat(chunks)
      const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
        const parts: Buffer[] = []
        up.on('data', (c: Buffer) => parts.push(c))
        up.on('end', () => {
          if (roll < failRate) {
            stats.failedAfter++
            res.socket?.destroy()
            return
          }
          stats.forwarded++
          res.writeHead(up.statusCode ?? 502, up.headers)
          res.end(Buffer.concat(parts))
        })
      })
      upstream.on('error', () => res.socket?.destroy())
      upstream.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get failedBefore() {
      return stats.failedBefore
    },
    get failedAfter() {
      return stats.failedAfter
    },
    get forwarded() {
      return stats.forwarded
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

// ---- the real device code, one instance per simulated device ----------------------------------

// The device modules, as this Node process sees them (their own types need the mini-program's `wx` typings).
interface Tracker {
  initTracker(options?: Record<string, number>): void
  setConsent(granted: boolean): void
  track(name: string, props: Record<string, unknown>): void
  flush(): Promise<void>
  pending(): readonly { id: string }[]
  stopTracker(): void
  newSession(): string
  setPage(route: string): void
}
interface Cloud {
  configureCloud(overrides: Record<string, unknown>): void
}
interface Device {
  fake: FakeWx
  tracker: Tracker
  cloud: Cloud
}

/** Fresh module instances of the device code bound to `fake` (what a restart of the app gives). */
function boot(fake: FakeWx, url: string, options: Record<string, number>): Device {
  for (const key of Object.keys(require.cache)) if (key.startsWith(CORE)) delete require.cache[key]
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const cloud = require(path.join(CORE, 'cloud')) as Cloud
  cloud.configureCloud({ mode: 'local', localCloudUrl: url, timeoutMs: 3000 })
  const tracker = require(path.join(CORE, 'tracker')) as Tracker
  tracker.initTracker({ flushIntervalMs: 60_000, retryBaseMs: 1, retryMaxMs: 20, ...options })
  return { fake, tracker, cloud }
}

/** Flushes until the device's queue is empty (each failure is retried, as the device would). */
async function drain(device: Device): Promise<number> {
  let calls = 0
  const deadline = Date.now() + 120_000
  while (device.tracker.pending().length > 0) {
    await device.tracker.flush()
    calls++
    // A flush already under way (started by track() or the retry timer) returns at once: let it finish.
    await new Promise((resolve) => setTimeout(resolve, 2))
    if (Date.now() > deadline) throw new Error(`the queue does not drain (${device.tracker.pending().length} left)`)
  }
  return calls
}

function storedEvents(url: string): Promise<string[]> {
  return new CloudDatabase(url).ids('events')
}

const PAGES = ['pages/home/index', 'packages/guide/detail/index', 'packages/me/index']

/** One session of a simulated user: show, a few pages and taps, a guide opened, hide. */
function session(t: Tracker, n: number, generated: Set<string>): void {
  const record = () => {
    const last = t.pending()[t.pending().length - 1]
    if (last) generated.add(last.id)
  }
  t.newSession()
  t.track('app_show', { path: PAGES[0]!, scene: 1001 + (n % 50) })
  record()
  for (let i = 0; i < 6; i++) {
    t.setPage(PAGES[i % PAGES.length]!)
    t.track('page_view', i ? { referrer: PAGES[(i - 1) % PAGES.length]! } : {})
    record()
    t.track('element_tap', { element: 'home_card' })
    record()
  }
  t.track('content_open', { guideId: 'power-strip-safety', category: 'home' })
  record()
  t.track('app_hide', { durationMs: 30_000 + n })
  record()
}

async function lossRun(cloudUrl: string, events: number, failRate: number) {
  const before = new Set(await storedEvents(cloudUrl))
  const proxy = await flakyProxy(cloudUrl, failRate)
  const generated = new Set<string>()
  const perSession = 15
  const devices = 20
  const sessionsPerDevice = Math.ceil(events / perSession / devices)
  let kills = 0
  for (let d = 0; d < devices && generated.size < events; d++) {
    const fake = createWx()
    let device = boot(fake, proxy.url, { flushAt: 30 })
    device.tracker.setConsent(true)
    // first_launch is made by consent; record it too.
    for (const e of device.tracker.pending()) generated.add(e.id)
    for (let s = 0; s < sessionsPerDevice && generated.size < events; s++) {
      session(device.tracker, s, generated)
      await device.tracker.flush()
      if (s === Math.floor(sessionsPerDevice / 2)) {
        // Killed mid-way: whatever is in memory is gone; storage survives.
        device.tracker.stopTracker()
        device = boot(fake, proxy.url, { flushAt: 30 })
        kills++
      }
    }
    await drain(device)
    device.tracker.stopTracker()
  }
  const stored = (await storedEvents(cloudUrl)).filter((id) => !before.has(id))
  const storedSet = new Set(stored)
  const lost = [...generated].filter((id) => !storedSet.has(id)).length
  const unexpected = stored.filter((id) => !generated.has(id)).length
  const result = {
    generated: generated.size,
    stored: stored.length,
    lost,
    duplicated: stored.length - storedSet.size + unexpected,
    kills,
    trackCalls: proxy.forwarded + proxy.failedBefore + proxy.failedAfter,
    callsFailedBeforeCloud: proxy.failedBefore,
    callsFailedAfterStore: proxy.failedAfter,
  }
  await proxy.close()
  return result
}

// ---- 2. cost per batch -----------------------------------------------------------------------

interface Invocation {
  action?: string
  dbTotal: number
  db: Record<string, number>
  startedAt: number
}

async function costRun(cloudUrl: string) {
  const fake = createWx()
  const device = boot(fake, cloudUrl, { flushAt: 1000, maxBatch: 50 })
  device.tracker.setConsent(true)
  await device.tracker.flush() // first_launch alone: the device's first batch
  const since = Date.now()
  const generated = new Set<string>()
  for (let s = 0; s < 10; s++) session(device.tracker, s, generated)
  const before = fake.log.requests.length
  await drain(device)
  const requests = fake.log.requests.slice(before)
  const bytes = requests.reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r.data)), 0)
  const events = requests.reduce((n, r) => n + ((r.data as { data: { events: unknown[] } }).data.events.length), 0)
  const res = await fetch(`${cloudUrl}/_/invocations?fn=track&limit=100`)
  const invocations = ((await res.json()) as { invocations: Invocation[] }).invocations.filter((i) => i.startedAt >= since)
  device.tracker.stopTracker()
  return {
    batches: requests.length,
    eventsPerInvocation: Math.round(events / requests.length),
    dbRoundTripsPerBatch: invocations.map((i) => i.dbTotal).reverse(),
    bytesPerEvent: Math.round(bytes / events),
  }
}

// ---- 4. ingestion throughput -----------------------------------------------------------------

function makeEvent(anonymousId: string, sessionId: string, uuid: () => string) {
  return { id: uuid(), name: 'page_view', ts: Date.now(), anonymousId, sessionId, page: 'pages/home/index', props: {} }
}

async function throughput(cloudUrl: string, clients: number, seconds: number) {
  const { uuidv7 } = require(path.join(CORE, 'uuid')) as { uuidv7(): string }
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
  const latencies: number[] = []
  let events = 0
  const deadline = Date.now() + seconds * 1000
  const post = (body: string, openid: string) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now()
      const req = http.request(`${cloudUrl}/functions/track`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-wx-openid': openid, 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`))))
      })
      req.on('error', reject)
      req.end(body)
    })
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const anonymousId = uuidv7()
      const sessionId = uuidv7()
      while (Date.now() < deadline) {
        const batch = Array.from({ length: 50 }, () => makeEvent(anonymousId, sessionId, uuidv7))
        latencies.push(await post(JSON.stringify({ action: 'ingest', data: { events: batch } }), `bench-${c}`))
        events += batch.length
      }
    }),
  )
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return {
    clients,
    eventsPerSecond: Math.round(events / seconds),
    batchesPerSecond: Math.round(latencies.length / seconds),
    p50Ms: Math.round(latencies[Math.floor(latencies.length * 0.5)]!),
    p99Ms: Math.round(latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)]!),
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '10000' },
      fail: { type: 'string', default: '0.3' },
      seconds: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
    },
  })
  const size = await deviceCodeSize()
  const cloud = await startCloudProcess({ workers: 2, prefix: 'bench-tracking-' })
  try {
    const cost = await costRun(cloud.url)
    const loss = await lossRun(cloud.url, Number(values.events), Number(values.fail))
    const rates = [await throughput(cloud.url, 1, Number(values.seconds)), await throughput(cloud.url, 8, Number(values.seconds))]
    const report = { size, cost, loss, throughput: rates }
    if (values.json) {
      console.log(JSON.stringify(report, null, 2))
      return
    }
    console.log(`
Tracking benchmark (${os.cpus().length} cores, node ${process.version})

device code, minified (gzipped):
  ${size.core.modules.join(' + ')}: ${(size.core.minified / 1024).toFixed(1)} KB (${(size.core.gzip / 1024).toFixed(1)} KB)
  with the page behavior and app glue (${size.all.modules.slice(size.core.modules.length).join(' + ')}): ${(size.all.minified / 1024).toFixed(1)} KB (${(size.all.gzip / 1024).toFixed(1)} KB)
  (anchors: Sensors Data ~64 KB, GrowingIO ~70 KB, Umeng ~38 KB minified)

per batch: ${cost.eventsPerInvocation} events per track invocation, ${cost.bytesPerEvent} bytes per event on the wire
  DB round trips per batch, in order: ${cost.dbRoundTripsPerBatch.join(', ')} (the batch with the device's first app_launch: events, first touch, user lookup and insert; then steady state)

loss and duplication: ${loss.generated} events generated in simulated sessions, ${(Number(values.fail) * 100).toFixed(0)}% of calls failing, ${loss.kills} kills
  stored ${loss.stored}, lost ${loss.lost}, duplicated ${loss.duplicated}
  ${loss.trackCalls} track calls: ${loss.callsFailedBeforeCloud} failed before reaching the cloud, ${loss.callsFailedAfterStore} after storing (reply lost)

ingestion (batches of 50 distinct events):
${rates.map((r) => `  ${r.clients} client(s): ${r.eventsPerSecond} events/s, ${r.batchesPerSecond} batches/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms per batch`).join('\n')}
`)
  } finally {
    await cloud.stop()
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
