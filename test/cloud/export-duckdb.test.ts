/**
 * The warehouse export, loaded into a real warehouse engine: traffic through `track`, the days
 * rolled up and exported by the `analytics` function (gzipped NDJSON parts and a manifest in the
 * local cloud's storage), then DuckDB (@duckdb/node-api) reads the files as a warehouse would and
 * recomputes UV, PV, new users and D1 retention per day in SQL: they must equal the dashboard's.
 * Parts are 15 rows and the function's budget is zero, so a day spans several parts written by
 * several calls (resumed from the saved state); exporting again gives the same bytes.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { DuckDBInstance } from '@duckdb/node-api'
import type { AnalyticsOutputs, ExportReport, RollupReport } from '../../cloudfunctions/analytics/api'
import { type ExportManifest } from '../../cloudfunctions/analytics/export'
import { analyticsCalls, makeSession, makeTraffic } from '../helpers/analytics-traffic'
import { shanghaiDayOf } from '../helpers/events'
import { uuidv7 } from '../../miniprogram/core/uuid'
import { startCloud, type TestCloud } from '../helpers/local-cloud'
import { prng } from '../helpers/prng'
import { type RiggedFunctions, riggedFunctions } from '../helpers/rigged-functions'

jest.setTimeout(240_000)

const ADMIN = 'o-export-admin'
const DAY = 86_400_000
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10)
const TODAY = shanghaiDayOf(Date.now())
const FIRST = addDays(TODAY, -8)
const LAST = addDays(TODAY, -1)
const DAYS = Array.from({ length: 8 }, (_, i) => addDays(FIRST, i))

let rigged: RiggedFunctions
let t: TestCloud

const { call, ingest } = analyticsCalls(() => t.url, ADMIN)

async function untilDone<A extends 'rollup' | 'exportEvents'>(action: A, data: { from: string; to: string }): Promise<AnalyticsOutputs[A][]> {
  const reports: AnalyticsOutputs[A][] = []
  for (let input = data, calls = 0; calls < 1000; calls++) {
    const report = (await call(action, input)) as RollupReport | ExportReport
    reports.push(report as AnalyticsOutputs[A])
    if (report.next === null) return reports
    input = { ...data, from: report.next }
  }
  throw new Error(`${action} did not finish`)
}

const stored = (cloudPath: string) => readFileSync(path.join(t.dataDir, 'storage', ...cloudPath.split('/')))
const manifestOf = (day: string) => JSON.parse(stored(`exports/events/day=${day}/manifest.json`).toString('utf8')) as ExportManifest

beforeAll(async () => {
  rigged = riggedFunctions(['analytics', 'track'], { preload: ['clock'], perFunctionEnv: { analytics: { EXPORT_PART_ROWS: '15', ROLLUP_BUDGET_MS: '0' } } })
  rigged.setClock(`${TODAY}T23:50:00+08:00`)
  t = await startCloud({ functionsDir: rigged.dir })
  t.cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
  t.cloud.store.insert('channel_codes', [
    { _id: 'PosterXY', channel: 'poster', campaign: 'autumn', page: 'pages/home/index', note: '', createdBy: ADMIN, createdAt: new Date(), qrFileId: '' },
  ])
  await makeTraffic({ random: prng(2026_12_07), ingest, from: FIRST, to: LAST, prefix: 'o-x' })
  await untilDone('rollup', { from: FIRST, to: LAST })
})
afterAll(async () => {
  await t?.stop()
  rigged?.remove()
})

test('each day is exported as gzipped NDJSON parts with a manifest: every event once, counts and sizes as stated', async () => {
  const reports = await untilDone('exportEvents', { from: FIRST, to: LAST })
  expect(reports.length).toBeGreaterThan(DAYS.length) // resumed: several calls per day
  expect(reports.flatMap((r) => r.days.map((d) => d.day))).toEqual(DAYS)
  for (const day of DAYS) {
    const manifest = manifestOf(day)
    expect(manifest).toMatchObject({ schemaVersion: 1, day })
    expect(manifest.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'id VARCHAR',
      'name VARCHAR',
      'ts TIMESTAMP',
      'day DATE',
      'received_at TIMESTAMP',
      'openid VARCHAR',
      'anonymous_id VARCHAR',
      'session_id VARCHAR',
      'page VARCHAR',
      'props JSON',
    ])
    const events = t.cloud.store.find('events', { query: { day }, limit: 100_000 })
    expect(manifest.rows).toBe(events.length)
    // Parts of at most 15 rows (a part ends where the next time window would not fit).
    expect(manifest.parts.length).toBeGreaterThanOrEqual(Math.ceil(events.length / 15))
    expect(manifest.parts.every((p) => p.rows > 0 && p.rows <= 15)).toBe(true)
    const ids: string[] = []
    manifest.parts.forEach((part, i) => {
      expect(part.path).toBe(`exports/events/day=${day}/part-${String(i).padStart(5, '0')}.ndjson.gz`)
      const bytes = stored(part.path)
      expect(bytes.length).toBe(part.bytes)
      const lines = gunzipSync(bytes).toString('utf8').trimEnd().split('\n')
      expect(lines).toHaveLength(part.rows)
      for (const line of lines) ids.push((JSON.parse(line) as { id: string }).id)
    })
    expect(ids.sort()).toEqual(events.map((e) => String(e._id)).sort())
    expect(manifest.bytes).toBe(manifest.parts.reduce((n, p) => n + p.bytes, 0))
  }
})

test('DuckDB loads the export and recomputes UV, PV, new users and D1 retention of every day, equal to the dashboard', async () => {
  const instance = await DuckDBInstance.create(':memory:')
  const db = await instance.connect()
  try {
    const files = path.join(t.dataDir, 'storage', 'exports', 'events', 'day=*', 'part-*.ndjson.gz')
    await db.run(`CREATE TABLE events AS SELECT * FROM read_ndjson('${files}', hive_partitioning = false, columns = {
      id: 'VARCHAR', name: 'VARCHAR', ts: 'TIMESTAMP', day: 'DATE', received_at: 'TIMESTAMP',
      openid: 'VARCHAR', anonymous_id: 'VARCHAR', session_id: 'VARCHAR', page: 'VARCHAR', props: 'JSON'})`)
    const reader = await db.runAndReadAll(`
      WITH first AS (SELECT openid, min(day) AS d0 FROM events GROUP BY openid),
           active AS (SELECT DISTINCT openid, day FROM events),
           days AS (SELECT DISTINCT day FROM events)
      SELECT strftime(days.day, '%Y-%m-%d') AS day,
             (SELECT count(DISTINCT openid) FROM events e WHERE e.day = days.day) AS uv,
             (SELECT count(*) FROM events e WHERE e.day = days.day AND e.name = 'page_view') AS pv,
             (SELECT count(*) FROM first f WHERE f.d0 = days.day) AS new_users,
             (SELECT count(*) FROM first f WHERE f.d0 = days.day - 1) AS cohort,
             (SELECT count(*) FROM first f JOIN active a ON a.openid = f.openid AND a.day = days.day WHERE f.d0 = days.day - 1) AS returned
      FROM days ORDER BY days.day`)
    const rows = reader.getRowObjectsJson() as { day: string; uv: string; pv: string; new_users: string; cohort: string; returned: string }[]
    const { days } = await call('trend', { from: FIRST, to: LAST })
    expect(rows.map((r) => r.day)).toEqual(DAYS)
    expect(days.map((d) => [d.day, d.uv, d.pv, d.newUsers])).toEqual(rows.map((r) => [r.day, Number(r.uv), Number(r.pv), Number(r.new_users)]))
    // D1: of the users new the day before, the share active on the day (the first day has no cohort in the data).
    for (const [i, d] of days.entries()) {
      const r = rows[i]!
      if (i === 0) continue
      expect([d.day, d.d1Retention]).toEqual([r.day, Number(r.cohort) > 0 ? Number(r.returned) / Number(r.cohort) : null])
    }
    expect(rows.reduce((n, r) => n + Number(r.returned), 0)).toBeGreaterThan(0)
    // The JSON column is queryable as a warehouse would: error messages by count.
    const errors = await db.runAndReadAll(`SELECT count(*) AS n FROM events WHERE name = 'js_error' AND json_extract_string(props, '$.message') IS NOT NULL`)
    expect(Number((errors.getRowObjectsJson()[0] as { n: string }).n)).toBe(t.cloud.store.count('events', { name: 'js_error' }))
  } finally {
    db.closeSync()
    instance.closeSync()
  }
})

test('exporting again is idempotent: the same parts, byte for byte', async () => {
  const digest = () => DAYS.flatMap((day) => manifestOf(day).parts.map((p) => createHash('sha256').update(stored(p.path)).digest('hex')))
  const before = digest()
  await untilDone('exportEvents', { from: FIRST, to: LAST })
  expect(digest()).toEqual(before)
})

test('the nightly run exports yesterday once, and again only a day that received late events', async () => {
  const nightly = async () => {
    const days: string[] = []
    for (let calls = 0; calls < 1000; calls++) {
      const report = await call('nightly', {})
      days.push(...(report.exported ?? []).map((d) => d.day))
      if (report.next === null) return days
    }
    throw new Error('nightly did not finish')
  }
  // Every day was exported above and nothing changed since: nothing to do.
  expect(await call('exportDaily', {})).toEqual({ days: [], next: null })
  expect(await nightly()).toEqual([])
  const late = addDays(FIRST, 2)
  const before = manifestOf(late).rows
  const events = makeSession(prng(7), late, uuidv7(), null)
  await ingest('o-x1', events)
  // The next run's fold notices the late events and marks their day; the nightly export redoes that day alone.
  expect(await nightly()).toEqual([late])
  expect(manifestOf(late).rows).toBe(before + events.length)
  expect(await nightly()).toEqual([])
})
