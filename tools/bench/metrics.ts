/**
 * `npm run bench:metrics`: what the incremental rollups and the warehouse export cost for one day
 * of traffic, at 100,000 and 1,000,000 events a day (measured), and 10,000,000 (extrapolated from
 * the measured per-event and per-step costs, and labelled so).
 *
 * For each size it starts a local cloud in this process (so the database's own row counters are
 * readable) with the `analytics` function on a movable clock, and plays one day: the day's events
 * (the traffic model of docs/metrics.md: sessions of about nine events, 1–3 sessions a user, hours
 * weighted to lunch and evening, 30% returning users of the last 30 days, 1% of users sending a
 * session of the day before late) are stored hour by hour as `track` stores them, and the timers run
 * on schedule: `hourly` at minute 5 of each hour, `nightly` at 00:30 the next day (which also
 * exports the day). Each timer is called until it reports nothing left, as the scheduler's next firings would.
 * Events go into the database directly: generating them through the device modules runs at about
 * 2,400 events/s here (`npm run seed:traffic`), which would take 70 minutes for a million.
 *
 * Reported: rows the database read for the rollups (per event of the day) and for the export,
 * events the fold read (per event), invocations and the longest one, DB round trips, the worker's
 * peak memory, export bytes per event, and the dashboard's overview cost. The last line is one JSON
 * object for the largest size measured.
 *
 *   npm run bench:metrics                                  # 100,000 and 1,000,000 events/day, 10M extrapolated
 *   npm run bench:metrics -- --sizes 20000,100000          # other sizes (the largest is the JSON line)
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { EventDoc } from '../../cloudfunctions/_shared/models'
import { addDays, dayStart, shanghaiDay } from '../../cloudfunctions/_shared/time'
import type { AnalyticsOutputs, ExportReport, RollupReport } from '../../cloudfunctions/analytics/api'
import { uuidv7 } from '../../miniprogram/core/uuid'
import { prng } from '../../test/helpers/prng'
import { LocalCloud } from '../local-cloud/cloud'
import { callAction } from '../local-cloud/client'
import { ROOT } from '../paths'

const ADMIN = 'bench-admin'
const HOUR = 3600_000
const DAY = 24 * HOUR
const INSERT_BATCH = 5_000
/** Measured here: storing, folding, closing and exporting cost about this much per event in all. */
const ESTIMATE_US_PER_EVENT = 250

const HOME = 'pages/home/index'
const DETAIL = 'packages/guide/detail/index'
/** Share of sessions starting in each Shanghai hour (lunch and evening peaks). */
const HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 3, 3, 4, 6, 5, 3, 3, 3, 4, 5, 6, 7, 7, 5, 2]

const midnight = (day: string) => dayStart(day).getTime()

type EventRow = EventDoc

interface DayData {
  events: EventRow[]
  users: Record<string, unknown>[]
  sessions: number
  lateEvents: number
}

/** One day of traffic of about `target` events (deterministic for a seed). */
function generateDay(day: string, target: number, seed: number): DayData {
  const random = prng(seed)
  const pickHour = () => {
    const total = HOUR_WEIGHTS.reduce((a, b) => a + b, 0)
    let r = random() * total
    for (let h = 0; h < 24; h++) if ((r -= HOUR_WEIGHTS[h]!) < 0) return h
    return 23
  }
  const events: EventRow[] = []
  const users: Record<string, unknown>[] = []
  let sessions = 0
  let lateEvents = 0
  for (let n = 0; events.length < target; n++) {
    const openid = `bench-${n.toString(36).padStart(6, '0')}`
    const returning = random() < 0.3
    const firstDay = returning ? addDays(day, -1 - Math.floor(random() ** 2 * 30)) : day
    const touch = [{ scene: 1005 }, { scene: 1001 }, { scene: 1007, inviter: 'bench-0' }, { scene: 1047, channel: 'poster' }, { scene: 1001, utm_source: 'mp_article' }][n % 5]!
    users.push({ _id: openid, openid, appid: 'wx-bench', nickname: '', avatarUrl: '', firstSeenAt: new Date(midnight(firstDay)), firstSeenDay: firstDay, lastSeenAt: new Date(midnight(day)), lastSeenDay: day, updatedAt: new Date(midnight(day)), firstTouch: { ...touch, at: new Date(midnight(firstDay)), day: firstDay } })
    const anonymousId = uuidv7(midnight(firstDay))
    const late = random() < 0.01
    const count = 1 + (random() < 0.35 ? 1 : 0) + (random() < 0.1 ? 1 : 0)
    for (let s = 0; s < count; s++) {
      sessions++
      const sessionDay = late && s === 0 ? addDays(day, -1) : day
      let ts = midnight(sessionDay) + pickHour() * HOUR + Math.floor(random() * 55 * 60_000)
      const sessionId = uuidv7(ts)
      const batch: Omit<EventRow, 'receivedAt'>[] = []
      const ev = (name: string, page: string, props: Record<string, unknown>) => {
        ts += 2_000 + Math.floor(random() * 40_000)
        batch.push({ _id: uuidv7(ts), name, ts: new Date(ts), day: shanghaiDay(new Date(ts)), openid, anonymousId, sessionId, page, props })
      }
      const start = ts
      ev(s === 0 && !returning ? 'app_launch' : 'app_show', HOME, { path: HOME, scene: touch.scene })
      ev('page_view', HOME, { referrer: '' })
      for (let k = Math.floor(random() * 3); k >= 0; k--) {
        ev('element_tap', HOME, { element: 'home.card' })
        ev('page_view', DETAIL, { referrer: HOME })
        if (random() < 0.6) ev('content_open', DETAIL, { guideId: `g${k}`, category: 'home' })
        if (random() < 0.1) ev('share', DETAIL, { kind: 'message', target: DETAIL })
        ev('page_view', HOME, { referrer: DETAIL })
      }
      if (random() < 0.03) ev('js_error', HOME, { message: 'TypeError: x is undefined' })
      if (random() < 0.5) ev('cloud_calls', HOME, { calls: 3, failed: 0, slow: 0, totalMs: 420 })
      if (random() < 0.9) ev('app_hide', HOME, { durationMs: ts - start })
      // The batch arrives when the app hides (a late session: the next day, within its first hours).
      const receivedAt = new Date(late && s === 0 ? midnight(day) + Math.floor(random() * 12 * HOUR) : ts + 1_000)
      if (receivedAt.getTime() >= midnight(addDays(day, 1))) continue
      if (late && s === 0) lateEvents += batch.length
      for (const e of batch) events.push({ ...e, receivedAt })
    }
  }
  events.sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime())
  return { events, users, sessions, lateEvents }
}

interface Invocation {
  action: string
  seconds: number
  roundTrips: number
  rowsRead: number
  peakHeapMb: number
  peakRssMb: number
}

interface SizeResult {
  target: number
  events: number
  users: number
  sessions: number
  lateEvents: number
  storeSeconds: number
  rollupRowsRead: number
  foldEventsRead: number
  exportRowsRead: number
  exportBytes: number
  exportParts: number
  invocations: Invocation[]
  overviewDocsRead: number
  overviewRoundTrips: number
}

/** The analytics function on a clock this process moves (the tests' preloaded clock module, TEST_CLOCK_FILE). */
function clockedFunctions(dir: string): { clockFile: string } {
  const clockFile = path.join(dir, 'clock.txt')
  writeFileSync(clockFile, '')
  const src = path.join(ROOT, 'cloudfunctions/analytics')
  mkdirSync(path.join(dir, 'analytics'))
  for (const file of ['index.js', 'package.json']) copyFileSync(path.join(src, file), path.join(dir, 'analytics', file))
  const config = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')) as { envVariables?: Record<string, string> }
  config.envVariables = { ...config.envVariables, TEST_CLOCK_FILE: clockFile, NODE_OPTIONS: `--require ${path.join(ROOT, 'test/fixtures/preload/clock.js')}` }
  writeFileSync(path.join(dir, 'analytics', 'config.json'), JSON.stringify(config))
  return { clockFile }
}

/** What a Ctrl-C must clean up: the running size's local cloud and its temporary folder. */
let active: { cloud: LocalCloud; dir: string } | null = null

async function runSize(target: number, log: (line: string) => void): Promise<SizeResult> {
  // Inside the repository, so the function copy resolves wx-server-sdk from its node_modules.
  mkdirSync(path.join(ROOT, 'node_modules/.cache'), { recursive: true })
  const dir = mkdtempSync(path.join(ROOT, 'node_modules/.cache/bench-metrics-'))
  const { clockFile } = clockedFunctions(dir)
  const cloud = await LocalCloud.start({ port: 0, dataDir: path.join(dir, 'data'), functionsDir: dir, timers: false, maxWorkers: 1, log: process.env.BENCH_LOG ? (line) => console.error(line) : () => {} })
  active = { cloud, dir }
  try {
    // The day played is a week ago (any past day would do; `track`'s 30-day window is not involved).
    const day = addDays(shanghaiDay(new Date()), -7)
    const started = performance.now()
    const data = generateDay(day, target, 7)
    cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
    // A user's document is stored with their first events (as `track` creates it), returning users' before the day.
    const firstAt = new Map<string, number>()
    data.events.forEach((e, i) => firstAt.has(e.openid) || firstAt.set(e.openid, i))
    const userAt = (u: Record<string, unknown>) => (u.firstSeenDay === day ? (firstAt.get(String(u._id)) ?? 0) : -1)
    const returning = data.users.filter((u) => userAt(u) < 0)
    for (let at = 0; at < returning.length; at += INSERT_BATCH) cloud.store.insert('users', returning.slice(at, at + INSERT_BATCH))
    const fresh = data.users.filter((u) => userAt(u) >= 0).sort((a, b) => userAt(a) - userAt(b))
    let freshStored = 0
    // Steady state: the fold's cursor at the start of the day (a first run would start at the oldest event).
    cloud.store.insert('metrics_state', [{ _id: 'fold', through: midnight(day), provisional: [], seq: 0, dirty: {} }])
    const invocations: Invocation[] = []
    const invoke = async <K extends 'hourly' | 'nightly' | 'exportDaily'>(action: K, at: number): Promise<AnalyticsOutputs[K][]> => {
      writeFileSync(clockFile, new Date(at).toISOString())
      const reports: AnalyticsOutputs[K][] = []
      for (let calls = 0; calls < 10_000; calls++) {
        const rows = cloud.store.stats().rowsRead
        const reply = await callAction<AnalyticsOutputs[K]>(cloud.url, 'analytics', action, {}, ADMIN)
        if (!reply.ok) throw new Error(`${action}: ${reply.error.code} ${reply.error.message}`)
        const res = await fetch(`${cloud.url}/_/invocations?fn=analytics&limit=1`)
        const [record] = ((await res.json()) as { invocations: { durationMs?: number; dbTotal: number; peakHeapMb?: number; peakRssMb?: number }[] }).invocations
        invocations.push({
          action,
          seconds: (record?.durationMs ?? 0) / 1000,
          roundTrips: record?.dbTotal ?? 0,
          rowsRead: cloud.store.stats().rowsRead - rows,
          peakHeapMb: record?.peakHeapMb ?? 0,
          peakRssMb: record?.peakRssMb ?? 0,
        })
        reports.push(reply.data)
        if ((reply.data as RollupReport | ExportReport).next === null) return reports
      }
      throw new Error(`${action} did not finish`)
    }
    let stored = 0
    let storeMs = 0
    let foldEventsRead = 0
    const rowsBefore = cloud.store.stats().rowsRead
    for (let hour = 1; hour <= 24; hour++) {
      // Everything received before the run is stored (as `track` stores it when it arrives).
      const until = midnight(day) + hour * HOUR + 5 * 60_000
      const t0 = performance.now()
      let next = stored
      while (next < data.events.length && data.events[next]!.receivedAt.getTime() < until) next++
      let freshNext = freshStored
      while (freshNext < fresh.length && userAt(fresh[freshNext]!) < next) freshNext++
      if (freshNext > freshStored) cloud.store.insert('users', fresh.slice(freshStored, freshNext))
      freshStored = freshNext
      for (let at = stored; at < next; at += INSERT_BATCH) cloud.store.insert('events', data.events.slice(at, Math.min(at + INSERT_BATCH, next)) as never[])
      stored = next
      storeMs += performance.now() - t0
      for (const report of await invoke('hourly', until)) foldEventsRead += report.folded?.events ?? 0
      if (process.env.BENCH_DEBUG) log(`    ${hour}: ${invocations.slice(-3).map((i) => `${i.action} ${i.rowsRead} rows ${i.seconds.toFixed(2)} s`).join('; ')}`)
      if (hour % 6 === 0) log(`    ${String(hour).padStart(2)}:05  ${stored.toLocaleString('en')} events stored, ${invocations.length} invocations so far`)
    }
    // The nightly run (00:30) exports the day after its rollups; the bench runs that export on its
    // own just before (the same code, through the admin action), so its reads are counted apart.
    const exportRows = cloud.store.stats().rowsRead
    const exports = await invoke('exportDaily', midnight(day) + DAY + 25 * 60_000)
    const exportRowsRead = cloud.store.stats().rowsRead - exportRows
    for (const report of await invoke('nightly', midnight(day) + DAY + 30 * 60_000)) foldEventsRead += report.folded?.events ?? 0
    const rollupRowsRead = cloud.store.stats().rowsRead - rowsBefore - exportRowsRead
    const exported = exports.flatMap((r) => r.days).find((d) => d.day === day)
    if (!exported || exported.rows !== data.events.filter((e) => e.day === day).length) throw new Error(`the export of ${day} has ${exported?.rows} rows, expected ${data.events.filter((e) => e.day === day).length}`)
    // The day's numbers must be right, or the timings mean nothing: UV and PV against the generated events.
    const doc = cloud.store.find('metrics_daily', { query: { _id: day } })[0] as { uv: number; pv: number } | undefined
    const mine = data.events.filter((e) => e.day === day)
    const uv = new Set(mine.map((e) => e.openid)).size
    const pv = mine.filter((e) => e.name === 'page_view').length
    if (!doc || doc.uv !== uv || doc.pv !== pv) throw new Error(`${day}: uv/pv ${doc?.uv}/${doc?.pv}, expected ${uv}/${pv}`)
    const overview = await callAction(cloud.url, 'analytics', 'overview', { day }, ADMIN)
    if (!overview.ok) throw new Error('overview failed')
    const res = await fetch(`${cloud.url}/_/invocations?fn=analytics&limit=1`)
    const [record] = ((await res.json()) as { invocations: { dbTotal: number; docsRead: number }[] }).invocations
    log(`    generated and stored in ${((performance.now() - started) / 1000).toFixed(0)} s in all`)
    return {
      target,
      events: data.events.length,
      users: data.users.length,
      sessions: data.sessions,
      lateEvents: data.lateEvents,
      storeSeconds: storeMs / 1000,
      rollupRowsRead,
      foldEventsRead,
      exportRowsRead,
      exportBytes: exported.bytes,
      exportParts: exported.parts,
      invocations,
      overviewDocsRead: record?.docsRead ?? 0,
      overviewRoundTrips: record?.dbTotal ?? 0,
    }
  } finally {
    active = null
    await cloud.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })

function summary(r: SizeResult) {
  const worst = r.invocations.reduce((a, b) => (b.seconds > a.seconds ? b : a))
  const rollups = r.invocations.filter((i) => i.action !== 'exportDaily')
  const exports = r.invocations.filter((i) => i.action === 'exportDaily')
  return {
    rowsReadPerEvent: r.rollupRowsRead / r.events,
    foldReadsPerEvent: r.foldEventsRead / r.events,
    exportRowsPerEvent: r.exportRowsRead / r.events,
    exportBytesPerEvent: r.exportBytes / r.events,
    maxSeconds: worst.seconds,
    worst,
    rollupInvocations: rollups.length,
    rollupSeconds: rollups.reduce((n, i) => n + i.seconds, 0),
    exportInvocations: exports.length,
    exportSeconds: exports.reduce((n, i) => n + i.seconds, 0),
    maxRoundTrips: Math.max(...r.invocations.map((i) => i.roundTrips)),
    peakHeapMb: Math.max(...r.invocations.map((i) => i.peakHeapMb)),
    peakRssMb: Math.max(...r.invocations.map((i) => i.peakRssMb)),
    maxHourlySeconds: Math.max(...r.invocations.filter((i) => i.action === 'hourly').map((i) => i.seconds)),
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '100000,1000000' }, extrapolate: { type: 'string', default: '10000000' } } })
  const sizes = values.sizes.split(',').map(Number)
  const extrapolated = Number(values.extrapolate)
  if (sizes.some((n) => !Number.isInteger(n) || n < 1000) || !Number.isInteger(extrapolated)) throw new Error('--sizes: events per day, comma separated, each >= 1000')
  sizes.sort((a, b) => a - b)
  const total = sizes.reduce((a, b) => a + b, 0)
  console.log(`\nMetrics benchmark (node ${process.version}, ${os.cpus().length} cores): one simulated day per size, the analytics timers on schedule`)
  console.log(`will generate: ${sizes.map((n) => `${fmt(n)} events/day (~${fmt(n / 13)} users)`).join(', ')}; ${fmt(extrapolated)} events/day extrapolated from the largest`)
  console.log(`estimate: about ${fmt((total * ESTIMATE_US_PER_EVENT) / 60e6, 1)} min (~${ESTIMATE_US_PER_EVENT} µs per event: store, fold, close, export; slower on a loaded machine)\n`)
  process.once('SIGINT', () => {
    process.stderr.write('\nInterrupted: stopping the local cloud and removing its temporary data…\n')
    const running = active
    void (async () => {
      await running?.cloud.close().catch(() => undefined)
      if (running) rmSync(running.dir, { recursive: true, force: true })
    })().finally(() => process.exit(130))
  })
  const results: SizeResult[] = []
  for (const n of sizes) {
    console.log(`  ${fmt(n)} events/day:`)
    let r: SizeResult
    try {
      r = await runSize(n, (line) => console.log(line))
    } catch (err) {
      // Reported, not hidden: the sizes measured so far still count, and the JSON line is for the largest of them.
      console.log(`\n${fmt(n)} events/day — FAILED, not measured: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)
      break
    }
    results.push(r)
    const s = summary(r)
    console.log(`\n${fmt(r.events)} events/day (${fmt(r.users)} users, ${fmt(r.sessions)} sessions, ${fmt(r.lateEvents)} events of the day before arriving late) — measured`)
    console.log(`  rows read by the rollups (24 hourly + nightly)  ${fmt(r.rollupRowsRead)} = ${fmt(s.rowsReadPerEvent, 2)} per event (goal <= 2)`)
    console.log(`  events read by the fold                         ${fmt(r.foldEventsRead)} = ${fmt(s.foldReadsPerEvent, 3)} per event (first reads + refolded provisional slices)`)
    console.log(`  rollup invocations                              ${s.rollupInvocations}, ${fmt(s.rollupSeconds, 1)} s in all; longest hourly ${fmt(s.maxHourlySeconds, 2)} s`)
    console.log(`  longest invocation                              ${fmt(s.maxSeconds, 2)} s (${s.worst.action}, ${s.worst.roundTrips} DB round trips, ${fmt(s.worst.rowsRead)} rows read)`)
    console.log(`  most DB round trips in one invocation           ${s.maxRoundTrips}`)
    console.log(`  worker peak memory                              ${fmt(s.peakHeapMb)} MB heap, ${fmt(s.peakRssMb)} MB RSS`)
    console.log(`  export                                          ${s.exportInvocations} invocation(s), ${fmt(s.exportSeconds, 1)} s, ${r.exportParts} part(s), ${fmt(r.exportBytes)} bytes = ${fmt(s.exportBytesPerEvent, 1)} bytes/event, ${fmt(s.exportRowsPerEvent, 2)} rows read per event`)
    console.log(`  dashboard overview                              ${r.overviewDocsRead} documents read, ${r.overviewRoundTrips} DB round trips`)
  }
  const largest = results[results.length - 1]
  if (!largest) throw new Error('no size was measured')
  const s = summary(largest)
  if (extrapolated > largest.events) {
    const k = extrapolated / largest.events
    // Per event: rows read and export bytes stay per event. Per invocation: a fold step grows with the
    // events of a minute (k times more); close and export steps read a fixed 1,000 documents. A run
    // starts no step after its 30 s budget, so the longest invocation is the budget plus one step.
    const hourly = largest.invocations.filter((i) => i.action === 'hourly')
    const foldStep = Math.max(...hourly.map((i) => i.seconds / Math.max(1, i.rowsRead / (largest.events / 24 / 60))))
    console.log(`\n${fmt(extrapolated)} events/day — EXTRAPOLATED from ${fmt(largest.events)} (x${fmt(k, 1)}), not measured`)
    console.log(`  rows read by the rollups                        ~${fmt(largest.rollupRowsRead * k)} = ${fmt(s.rowsReadPerEvent, 2)} per event (per-event costs do not grow with traffic)`)
    console.log(`  rollup invocation time per day                  ~${fmt(s.rollupSeconds * k / 60, 0)} min over ~${fmt(Math.ceil((s.rollupSeconds * k) / 30))}+ invocations of at most 30 s + one step`)
    console.log(`  one fold step (a minute of events)              ~${fmt(foldStep * k, 2)} s; longest invocation ~${fmt(30 + foldStep * k, 1)} s (budget 30 s + one step; limit 60 s)`)
    console.log(`  export                                          ~${fmt(largest.exportBytes * k / 1e6)} MB gzipped, ${fmt(s.exportBytesPerEvent, 1)} bytes/event, ~${fmt(s.exportSeconds * k / 60, 0)} min of invocations`)
  }
  console.log(JSON.stringify({ eventsPerDay: largest.events, rowsReadPerEvent: Number(s.rowsReadPerEvent.toFixed(3)), maxInvocationSeconds: Number(s.maxSeconds.toFixed(2)), exportBytesPerEvent: Number(s.exportBytesPerEvent.toFixed(1)) }))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
