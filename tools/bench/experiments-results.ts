/**
 * `bench:experiments`: what an experiment's results cost at 100,000 exposed users.
 *
 * Starts a local cloud in this process (so the database's own counters are readable), stores the
 * events of N exposed users directly (exposures, 1–3 per user; conversions, some outside the
 * window; a page view each and goal events of users never exposed, as noise the index must skip),
 * then runs the `experiments` rollup through the gateway and reports its time, DB round trips,
 * documents the function received, rows the database read, and peak memory (the function's worker
 * and this process, which hosts the database). The result is checked against the counts made while
 * generating, so a fast but wrong rollup fails the bench.
 *
 *   npm run bench:experiments                     # 100,000 exposed users
 *   npm run bench:experiments -- --users 20000 --json
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { ExperimentResults, ExperimentsOutputs } from '../../cloudfunctions/experiments/api'
import { assignVariant } from '../../miniprogram/core/bucketing'
import { uuidv7 } from '../../miniprogram/core/uuid'
import { LocalCloud } from '../local-cloud/cloud'
import { callAction } from '../local-cloud/client'
import { prng } from '../../test/helpers/prng'

const ADMIN = 'bench-admin'
const KEY = 'bench_home_copy'
const DAY = 86_400_000
const WINDOW_DAYS = 7
const VARIANTS = [
  { key: 'control', name: '对照', weight: 0.5 },
  { key: 'b', name: 'B', weight: 0.5 },
]
/** True conversion rates within the window. */
const RATES: Record<string, number> = { control: 0.1, b: 0.11 }
const INSERT_BATCH = 10_000

export interface ResultsBenchOptions {
  users?: number
  seed?: number
  log?: (line: string) => void
}

export interface RollupCost {
  ms: number
  dbRoundTrips: number
  db: Record<string, number>
  /** Documents the database returned to the function (the ledger's x-db-docs-read). */
  docsRead: number
  /** Rows the database itself read from its tables (index candidates). */
  rowsScanned: number
  peakHeapMb: number
  peakRssMb: number
}

export interface ResultsBenchReport {
  users: number
  events: number
  exposures: number
  goalEvents: number
  insertSeconds: number
  /** First run (worker warm-up included) and a second run. */
  rollup: RollupCost
  rollupAgain: RollupCost
  results: { ms: number; dbRoundTrips: number; docsRead: number }
  /** Peak RSS of this process (the local cloud and its database), MB. */
  cloudPeakRssMb: number
  verdict: string
  srmP: number | null
}

const shanghaiDay = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10)

export async function runResultsBench(opts: ResultsBenchOptions = {}): Promise<ResultsBenchReport> {
  const users = opts.users ?? 100_000
  const log = opts.log ?? (() => {})
  const random = prng(opts.seed ?? 11)
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-experiments-'))
  const cloud = await LocalCloud.start({ port: 0, dataDir, timers: false, maxWorkers: 1, log: process.env.BENCH_LOG ? (line) => console.error(line) : () => {} })
  try {
    cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
    const now = Date.now()
    const start = now - 21 * DAY
    const saved = await callAction<ExperimentsOutputs['save']>(
      cloud.url,
      'experiments',
      'save',
      {
        doc: {
          _id: KEY,
          kind: 'experiment',
          name: '基准实验',
          hypothesis: 'A benchmark: does the rollup scale to 100,000 exposed users?',
          variants: VARIANTS,
          coverage: 1,
          goal: { event: 'content_open', withinDays: WINDOW_DAYS },
          status: 'running',
          startedAt: new Date(start).toISOString(),
        },
      },
      ADMIN,
    )
    if (!saved.ok) throw new Error(`save: ${saved.error.message}`)

    log(`  storing the events of ${users.toLocaleString('en')} exposed users…`)
    const expected: Record<string, { users: number; conversions: number }> = { control: { users: 0, conversions: 0 }, b: { users: 0, conversions: 0 } }
    let batch: Record<string, unknown>[] = []
    let events = 0
    let exposures = 0
    let goalEvents = 0
    const insertStarted = performance.now()
    const flush = () => {
      if (batch.length === 0) return
      cloud.store.insert('events', batch)
      events += batch.length
      batch = []
    }
    const push = (openid: string, name: string, ts: number, props: Record<string, unknown>, page = 'pages/home/index') => {
      batch.push({ _id: uuidv7(ts), name, ts: new Date(ts), day: shanghaiDay(ts), receivedAt: new Date(ts + 2000), openid, anonymousId: uuidv7(ts), sessionId: uuidv7(ts), page, props })
      if (batch.length >= INSERT_BATCH) flush()
    }
    for (let i = 0; i < users; i++) {
      const openid = `oBench${i.toString(36).padStart(6, '0')}`
      const { variant } = assignVariant({ key: KEY, variants: VARIANTS, coverage: 1 }, openid)
      const first = start + Math.floor(random() * 19 * DAY)
      push(openid, 'page_view', first - 1000, { referrer: '' })
      push(openid, 'experiment_viewed', first, { experiment: KEY, variant })
      exposures++
      for (let k = random() < 0.3 ? 1 + Math.floor(random() * 2) : 0; k > 0; k--) {
        push(openid, 'experiment_viewed', Math.min(now - 1000, first + Math.floor(random() * 3 * DAY)), { experiment: KEY, variant })
        exposures++
      }
      expected[variant]!.users++
      // Converters open 1–3 guides, the first inside the window; others may open one after it.
      let converted = false
      if (random() < RATES[variant]!) {
        const opens = 1 + Math.floor(random() * 3)
        for (let k = 0; k < opens; k++) {
          const ts = Math.min(now - 1000, first + Math.floor(random() * (k === 0 ? WINDOW_DAYS : 2 * WINDOW_DAYS) * DAY))
          converted ||= ts < first + WINDOW_DAYS * DAY
          push(openid, 'content_open', ts, { guideId: 'g1', category: 'home' }, 'packages/guide/detail/index')
          goalEvents++
        }
      } else if (random() < 0.05) {
        push(openid, 'content_open', first + WINDOW_DAYS * DAY + 3600_000, { guideId: 'g1', category: 'home' }, 'packages/guide/detail/index')
        goalEvents++
        converted ||= first + WINDOW_DAYS * DAY + 3600_000 < first + WINDOW_DAYS * DAY // never: late
      }
      if (converted) expected[variant]!.conversions++
    }
    // Users who were never exposed but open guides: read by the goal range, dropped by the pipeline.
    for (let i = 0; i < users / 5; i++) {
      push(`oOther${i}`, 'content_open', start + Math.floor(random() * 20 * DAY), { guideId: 'g2', category: 'home' }, 'packages/guide/detail/index')
      goalEvents++
    }
    flush()
    const insertSeconds = (performance.now() - insertStarted) / 1000
    log(`  ${events.toLocaleString('en')} events stored in ${insertSeconds.toFixed(1)} s; rolling up…`)

    const measure = async (): Promise<RollupCost> => {
      const rows = cloud.store.stats().rowsRead
      const started = performance.now()
      const reply = await callAction<ExperimentsOutputs['rollup']>(cloud.url, 'experiments', 'rollup', { key: KEY }, ADMIN)
      const ms = performance.now() - started
      if (!reply.ok) throw new Error(`rollup: ${reply.error.code} ${reply.error.message}`)
      const record = cloud.ledger.recentInvocations(1, 'experiments')[0]!
      return {
        ms,
        dbRoundTrips: record.dbTotal,
        db: record.db,
        docsRead: record.docsRead,
        rowsScanned: cloud.store.stats().rowsRead - rows,
        peakHeapMb: record.peakHeapMb ?? 0,
        peakRssMb: record.peakRssMb ?? 0,
      }
    }
    const rollup = await measure()
    const rollupAgain = await measure()

    const started = performance.now()
    const reply = await callAction<ExperimentsOutputs['results']>(cloud.url, 'experiments', 'results', { key: KEY }, ADMIN)
    const resultsMs = performance.now() - started
    if (!reply.ok) throw new Error(`results: ${reply.error.message}`)
    const record = cloud.ledger.recentInvocations(1, 'experiments')[0]!
    const result = reply.data.items[0] as ExperimentResults
    for (const v of result.variants) {
      const want = expected[v.key]!
      if (v.users !== want.users || v.conversions !== want.conversions) {
        throw new Error(`wrong result for ${v.key}: ${v.users} users / ${v.conversions} conversions, expected ${want.users} / ${want.conversions}`)
      }
    }
    return {
      users,
      events,
      exposures,
      goalEvents,
      insertSeconds,
      rollup,
      rollupAgain,
      results: { ms: resultsMs, dbRoundTrips: record.dbTotal, docsRead: record.docsRead },
      cloudPeakRssMb: process.resourceUsage().maxRSS / 1024,
      verdict: result.verdict.text,
      srmP: result.srm?.pValue ?? null,
    }
  } finally {
    await cloud.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function row(label: string, c: RollupCost): string {
  const ops = Object.entries(c.db)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
  return `  ${label.padEnd(22)} ${(c.ms / 1000).toFixed(2)} s, ${c.dbRoundTrips} DB round trips (${ops}), ${c.docsRead} documents to the function, ${c.rowsScanned.toLocaleString('en')} rows read by the database, function peak heap ${c.peakHeapMb.toFixed(0)} MB (rss ${c.peakRssMb.toFixed(0)} MB)`
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { users: { type: 'string', default: '100000' }, json: { type: 'boolean', default: false } } })
  const users = Number(values.users)
  if (!Number.isInteger(users) || users < 100) throw new Error('--users must be an integer >= 100')
  const log = values.json ? () => {} : (line: string) => console.log(line)
  log(`\nExperiment results benchmark (node ${process.version})\n`)
  const r = await runResultsBench({ users, log })
  if (values.json) {
    console.log(JSON.stringify(r, null, 2))
    return
  }
  console.log(`\n${r.users.toLocaleString('en')} exposed users, ${r.events.toLocaleString('en')} events (${r.exposures.toLocaleString('en')} exposures, ${r.goalEvents.toLocaleString('en')} goal events)`)
  console.log(row('rollup (first run)', r.rollup))
  console.log(row('rollup (again)', r.rollupAgain))
  console.log(`  results query          ${r.results.ms.toFixed(1)} ms, ${r.results.dbRoundTrips} DB round trips, ${r.results.docsRead} documents read`)
  console.log(`  local cloud peak RSS   ${r.cloudPeakRssMb.toFixed(0)} MB (this process: database, aggregation, data generation)`)
  console.log(`  verdict                ${r.verdict} (SRM p = ${r.srmP?.toFixed(3) ?? '-'})`)
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
}
