/**
 * `npm run bench:metrics`: what the analytics rollups and the dashboard cost at real traffic.
 *
 * Generates traffic through the real tracker into a fresh local cloud (`seed:traffic`'s generator),
 * then times, on the `analytics` function: one day's rollup, a full backfill, and the dashboard's
 * overview query, with DB round trips, documents read and the rollup's peak memory from the local
 * cloud's own accounting. The same again on a data set with 10x fewer users: the overview must cost
 * the same.
 *
 *   npm run bench:metrics                               # 45,000 users over 30 days (~1M events), and 4,500
 *   npm run bench:metrics -- --users 20000 --days 14 --json
 */
import { parseArgs } from 'node:util'
import { type CloudProcess, callAction, startCloudProcess } from '../local-cloud/client'
import { generateTraffic, type TrafficSummary } from '../seed/traffic'

const ADMIN = 'bench-admin'
/** What the generator makes per user over 30 days, and how fast (measured: docs/benchmarks.md), for the plan printed first. */
const EVENTS_PER_USER = 22
const GENERATED_PER_SECOND = 2000

/** The local cloud of the run (also while it starts), stopped and its temporary data folder removed on Ctrl-C too. */
let active: Promise<CloudProcess> | undefined

interface Invocation {
  action?: string
  durationMs?: number
  dbTotal: number
  db: Record<string, number>
  docsRead: number
  peakHeapMb?: number
  peakRssMb?: number
}

interface CallCost {
  ms: number
  dbRoundTrips: number
  docsRead: number
  peakHeapMb: number
  peakRssMb: number
}

async function lastInvocation(url: string): Promise<Invocation> {
  const res = await fetch(`${url}/_/invocations?fn=analytics&limit=1`)
  const [record] = ((await res.json()) as { invocations: Invocation[] }).invocations
  if (!record) throw new Error('no analytics invocation recorded')
  return record
}

/** Calls an analytics action as the admin and returns what it cost, from the local cloud's ledger. */
async function measured(url: string, action: string, data: unknown): Promise<CallCost & { data: unknown }> {
  const started = performance.now()
  const reply = await callAction(url, 'analytics', action, data, ADMIN)
  const ms = performance.now() - started
  if (!reply.ok) throw new Error(`analytics.${action}: ${reply.error.code} ${reply.error.message}`)
  const record = await lastInvocation(url)
  return { ms, dbRoundTrips: record.dbTotal, docsRead: record.docsRead, peakHeapMb: record.peakHeapMb ?? 0, peakRssMb: record.peakRssMb ?? 0, data: reply.data }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

interface Run {
  users: number
  events: number
  days: number
  seedSeconds: number
  eventsPerSecond: number
  dayRollup: CallCost & { day: string; eventsThatDay: number }
  backfill: CallCost & { calls: number }
  overview: CallCost
}

async function run(users: number, days: number, log: (line: string) => void): Promise<Run> {
  active = startCloudProcess({ workers: 2, prefix: 'bench-metrics-' })
  const cloud: CloudProcess = await active
  try {
    log(`  generating ${users.toLocaleString('en')} users over ${days} days through the tracker…`)
    const started = performance.now()
    const traffic: TrafficSummary = await generateTraffic({ url: cloud.url, users, days, seed: 7, admin: ADMIN, verify: false })
    const seedSeconds = (performance.now() - started) / 1000
    log(`  ${traffic.events.toLocaleString('en')} events in ${seedSeconds.toFixed(0)} s; rolling up…`)

    // One day in the middle of the range (complete: not today).
    const day = traffic.days[Math.floor(traffic.days.length / 2)]!
    const dayRollup = await measured(cloud.url, 'rollup', { from: day, to: day })

    // The full backfill, as an admin runs it: the whole range, called again from `next` while the
    // function stops short of its time limit.
    const backfill: CallCost & { calls: number } = { ms: 0, dbRoundTrips: 0, docsRead: 0, peakHeapMb: 0, peakRssMb: 0, calls: 0 }
    const lastDay = traffic.days[traffic.days.length - 1]!
    for (let from: string | null = traffic.days[0]!; from; ) {
      const cost = await measured(cloud.url, 'rollup', { from, to: lastDay })
      from = (cost.data as { next: string | null }).next
      backfill.ms += cost.ms
      backfill.dbRoundTrips += cost.dbRoundTrips
      backfill.docsRead += cost.docsRead
      backfill.peakHeapMb = Math.max(backfill.peakHeapMb, cost.peakHeapMb)
      backfill.peakRssMb = Math.max(backfill.peakRssMb, cost.peakRssMb)
      backfill.calls++
    }

    // The overview of the last day, warm (the first call may start a worker).
    const last = traffic.days[traffic.days.length - 1]!
    await measured(cloud.url, 'overview', { day: last })
    const samples: CallCost[] = []
    for (let i = 0; i < 20; i++) samples.push(await measured(cloud.url, 'overview', { day: last }))
    const overview: CallCost = { ...samples[0]!, ms: median(samples.map((s) => s.ms)) }

    return {
      users,
      events: traffic.events,
      days,
      seedSeconds,
      eventsPerSecond: traffic.events / seedSeconds,
      dayRollup: { ...dayRollup, day, eventsThatDay: traffic.eventsByDay[day] ?? 0 },
      backfill,
      overview,
    }
  } finally {
    active = undefined
    await cloud.stop()
  }
}

/** What the run will generate and about how long it takes, before it starts. */
function plan(runs: number[], days: number): string {
  const events = runs.map((n) => Math.round((n * EVENTS_PER_USER * days) / 30))
  const minutes = events.reduce((a, b) => a + b, 0) / GENERATED_PER_SECOND / 60
  return `Generates ${runs.map((n, i) => `${n.toLocaleString('en')} users (~${(events[i]! / 1e6).toFixed(1)}M events)`).join(', then ')} over ${days} days through the tracker into temporary local clouds, then times the rollups: about ${Math.max(1, Math.round(minutes * 1.2))} min here. Ctrl-C stops it and removes the temporary data.`
}

function row(label: string, c: CallCost, extra = ''): string {
  const mem = c.peakHeapMb ? `, peak heap ${c.peakHeapMb.toFixed(0)} MB (rss ${c.peakRssMb.toFixed(0)} MB)` : ''
  return `  ${label.padEnd(28)} ${c.ms >= 1000 ? `${(c.ms / 1000).toFixed(1)} s` : `${c.ms.toFixed(1)} ms`}, ${c.dbRoundTrips} DB round trips, ${c.docsRead} documents read${mem}${extra}`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '45000' },
      days: { type: 'string', default: '30' },
      small: { type: 'string', description: 'users of the second, smaller run (default users / 10)' },
      json: { type: 'boolean', default: false },
    },
  })
  const users = Number(values.users)
  const days = Number(values.days)
  const small = Number(values.small ?? Math.round(users / 10))
  if (!Number.isInteger(users) || users < 10 || !Number.isInteger(days) || days < 2 || days > 30) {
    throw new Error('--users must be an integer >= 10, --days 2..30')
  }
  const log = values.json ? () => {} : (line: string) => console.log(line)
  log(`\nMetrics benchmark (node ${process.version})\n`)
  log(`${plan([users, small], days)}\n`)
  process.once('SIGINT', () => {
    process.stderr.write('\nInterrupted: stopping the local cloud and removing its temporary data…\n')
    void (async () => {
      const cloud = await active?.catch(() => undefined)
      await cloud?.stop()
    })().finally(() => process.exit(130))
  })
  const runs: Run[] = []
  for (const n of [users, small]) {
    log(`data set: ${n.toLocaleString('en')} users`)
    runs.push(await run(n, days, log))
  }
  if (values.json) {
    console.log(JSON.stringify(runs, null, 2))
    return
  }
  for (const r of runs) {
    console.log(`\n${r.users.toLocaleString('en')} users, ${r.events.toLocaleString('en')} events over ${r.days} days (generated at ${Math.round(r.eventsPerSecond).toLocaleString('en')} events/s)`)
    console.log(row(`one day's rollup (${r.dayRollup.day})`, r.dayRollup, `; ${r.dayRollup.eventsThatDay.toLocaleString('en')} events that day`))
    console.log(row(`full backfill (${r.days} days)`, r.backfill, ` in ${r.backfill.calls} call(s)`))
    console.log(row('overview query (median)', r.overview))
  }
  const [big, little] = runs as [Run, Run]
  console.log(
    `\noverview at ${(big.events / little.events).toFixed(1)}x the events: ${big.overview.docsRead} vs ${little.overview.docsRead} documents read, ${big.overview.dbRoundTrips} vs ${little.overview.dbRoundTrips} round trips`,
  )
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
