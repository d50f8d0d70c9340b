/**
 * The independent check: traffic from the data generator (`seed:traffic`, the real tracker into a
 * real local cloud), rolled up by the `analytics` function, and the same numbers computed a
 * completely different way — plain SQL over the `events` table in SQLite, and straightforward loops
 * for the funnel — must match exactly.
 */
import path from 'node:path'
import Database from 'better-sqlite3'
import type { AnalyticsOutputs } from '../../cloudfunctions/analytics/api'
import { DEFAULT_FUNNELS } from '../../cloudfunctions/analytics/funnels'
import { encodeDoc } from '../../tools/local-cloud/db/codec'
import { generateTraffic, type TrafficSummary } from '../../tools/seed/traffic'
import { callAction, startCloud, type TestCloud } from '../helpers/local-cloud'

jest.setTimeout(180_000)

const ADMIN = 'o-independent-admin'
let t: TestCloud
let traffic: TrafficSummary
let sql: Database.Database

async function query<K extends keyof AnalyticsOutputs>(action: K, data: unknown): Promise<AnalyticsOutputs[K]> {
  const reply = await callAction<AnalyticsOutputs[K]>(t.url, 'analytics', action, data, ADMIN)
  if (!reply.ok) throw new Error(`${action}: ${JSON.stringify(reply.error)}`)
  return reply.data
}

beforeAll(async () => {
  t = await startCloud({ maxWorkers: 2 })
  traffic = await generateTraffic({ url: t.url, users: 120, days: 12, seed: 424242, admin: ADMIN })
  const first = traffic.days[0]!
  const last = traffic.days[traffic.days.length - 1]!
  for (let from: string | null = first; from; ) from = (await query('rollup', { from, to: last })).next
  sql = new Database(path.join(t.dataDir, 'db.sqlite'), { readonly: true })
  // The events as plain rows, for the queries below.
  sql.exec(`CREATE TEMP VIEW ev AS
    SELECT rowid AS seq, json_extract(doc, '$.openid') AS openid, json_extract(doc, '$.day') AS day, json_extract(doc, '$.name') AS name,
           json_extract(doc, '$.page') AS page, json_extract(doc, '$.ts."$date"') AS ts
    FROM c_events`)
})
afterAll(async () => {
  sql?.close()
  await t?.stop()
})

interface StoredEvent {
  seq: number
  openid: string
  day: string
  name: string
  page: string
  /** The stored date text: relaxed EJSON drops the milliseconds of a whole second (`...:49Z`). */
  ts: string
}

/** Events by instant, then by insertion; never by the date text (`...:49.137Z` < `...:49Z` as text). */
function inTimeOrder(rows: StoredEvent[]): (StoredEvent & { t: number })[] {
  return rows.map((e) => ({ ...e, t: Date.parse(e.ts) })).sort((a, b) => a.t - b.t || a.seq - b.seq)
}

test('stored event times order as instants: a whole second (stored without milliseconds) comes before its later milliseconds', () => {
  const texts = [new Date('2026-05-01T10:00:49.137Z'), new Date('2026-05-01T10:00:49.000Z'), new Date('2026-05-01T10:00:48.999Z')].map(
    (ts) => (JSON.parse(encodeDoc({ ts })) as { ts: { $date: string } }).ts.$date,
  )
  expect(texts).toEqual(['2026-05-01T10:00:49.137Z', '2026-05-01T10:00:49Z', '2026-05-01T10:00:48.999Z'])
  const rows = texts.map((ts, i) => ({ seq: i + 1, openid: 'o', day: '2026-05-01', name: 'page_view', page: 'p', ts }))
  expect(inTimeOrder(rows).map((e) => e.seq)).toEqual([3, 2, 1])
})

test('the data set is real traffic: events on every day, new users on most, people coming back', () => {
  expect(traffic.events).toBeGreaterThan(1000)
  expect(traffic.rejected).toEqual([])
  const stored = sql.prepare('SELECT count(*) AS n FROM ev').get() as { n: number }
  expect(stored.n).toBe(traffic.events)
  expect((sql.prepare(`SELECT count(DISTINCT day) AS n FROM ev`).get() as { n: number }).n).toBe(traffic.days.length)
})

test('UV, PV and new users of every day', async () => {
  const uv = new Map((sql.prepare(`SELECT day, count(DISTINCT openid) AS n FROM ev GROUP BY day`).all() as { day: string; n: number }[]).map((r) => [r.day, r.n]))
  const pv = new Map((sql.prepare(`SELECT day, count(*) AS n FROM ev WHERE name = 'page_view' GROUP BY day`).all() as { day: string; n: number }[]).map((r) => [r.day, r.n]))
  // New: the day of a user's first event (not users.firstSeenDay, which the rollup reads).
  const fresh = new Map(
    (sql.prepare(`SELECT d0 AS day, count(*) AS n FROM (SELECT openid, min(day) AS d0 FROM ev GROUP BY openid) GROUP BY d0`).all() as { day: string; n: number }[]).map((r) => [r.day, r.n]),
  )
  const { days } = await query('trend', { from: traffic.days[0], to: traffic.days[traffic.days.length - 1] })
  expect(days.map((d) => [d.day, d.uv, d.pv, d.newUsers])).toEqual(traffic.days.map((day) => [day, uv.get(day) ?? 0, pv.get(day) ?? 0, fresh.get(day) ?? 0]))
})

test('D1 and D7 retention of every cohort', async () => {
  const rows = sql
    .prepare(
      `WITH first AS (SELECT openid, min(day) AS d0 FROM ev GROUP BY openid),
            active AS (SELECT DISTINCT openid, day FROM ev)
       SELECT d0 AS day, count(*) AS size,
              sum(EXISTS (SELECT 1 FROM active a WHERE a.openid = f.openid AND a.day = date(f.d0, '+1 day'))) AS d1,
              sum(EXISTS (SELECT 1 FROM active a WHERE a.openid = f.openid AND a.day = date(f.d0, '+7 day'))) AS d7
       FROM first f GROUP BY d0 ORDER BY d0`,
    )
    .all() as { day: string; size: number; d1: number; d7: number }[]
  const last = traffic.days[traffic.days.length - 1]!
  // A rate is known once its day is over: rolled up, and before today (still under way).
  const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
  const known = (day: string) => day <= last && day < today
  const { offsets, cohorts } = await query('retention', { from: traffic.days[0], to: last })
  const i1 = offsets.indexOf(1)
  const i7 = offsets.indexOf(7)
  let compared = 0
  for (const row of rows) {
    const cohort = cohorts.find((c) => c.day === row.day)!
    expect(cohort.size).toBe(row.size)
    const plus = (n: number) => new Date(Date.parse(`${row.day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)
    if (known(plus(1))) {
      expect(cohort.rates[i1]).toBeCloseTo(row.d1 / row.size, 12)
      compared++
    } else expect(cohort.rates[i1]).toBeNull()
    if (known(plus(7))) expect(cohort.rates[i7]).toBeCloseTo(row.d7 / row.size, 12)
    else expect(cohort.rates[i7]).toBeNull()
  }
  expect(compared).toBeGreaterThan(5)
  expect(rows.reduce((n, r) => n + r.d1, 0)).toBeGreaterThan(0)
})

test('the content funnel, counted step by step in plain loops', async () => {
  const def = DEFAULT_FUNNELS[0]!
  const events = inTimeOrder(sql.prepare(`SELECT seq, openid, day, name, page, ts FROM ev`).all() as StoredEvent[])
  const byUser = new Map<string, typeof events>()
  for (const e of events) byUser.set(e.openid, [...(byUser.get(e.openid) ?? []), e])
  const matches = (e: (typeof events)[number], j: number) => e.name === def.steps[j]!.event && (!def.steps[j]!.page || e.page === def.steps[j]!.page)
  const totals = def.steps.map(() => 0)
  for (const day of traffic.days) {
    for (const list of byUser.values()) {
      // In time order: the first step on that day, then each next step after the one before it.
      let at = list.findIndex((e) => matches(e, 0) && e.day === day)
      if (at < 0) continue
      const entry = list[at]!
      totals[0]!++
      for (let j = 1; j < def.steps.length; j++) {
        const next = list.findIndex((e, i) => i > at && matches(e, j) && e.t - entry.t <= def.windowDays * 86_400_000)
        if (next < 0) break
        totals[j]!++
        at = next
      }
    }
  }
  const { funnels } = await query('funnels', { from: traffic.days[0], to: traffic.days[traffic.days.length - 1] })
  expect(funnels[0]!.steps.map((s) => s.users)).toEqual(totals)
  expect(totals[0]).toBeGreaterThan(totals[totals.length - 1]!)
  expect(totals[totals.length - 1]).toBeGreaterThan(0)
})
