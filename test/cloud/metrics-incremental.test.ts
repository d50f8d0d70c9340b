/**
 * The incremental rollup (fold + close, cloudfunctions/analytics/fold.ts and close.ts) against the
 * full recomputation from raw events it replaced (recompute.ts, the `recompute` action): on the
 * same traffic every day's document and every funnel result must be equal — after the first runs,
 * after late events (up to 29 days late, a new-user day moving earlier), and on re-runs. The
 * analytics function runs with a 6-partial read size and no time budget, so every call stops after
 * one step and the next resumes from the saved cursor: the chunked, resumable path is the one tested.
 */
import { uuidv7 } from '../../miniprogram/core/uuid'
import type { AnalyticsOutputs, RollupReport } from '../../cloudfunctions/analytics/api'
import { shanghaiDayOf } from '../helpers/events'
import { callAction, startCloud, type TestCloud } from '../helpers/local-cloud'
import { prng } from '../helpers/prng'
import { analyticsCalls, makeSession, makeTraffic, type SessionOptions } from '../helpers/analytics-traffic'
import { type RiggedFunctions, riggedFunctions } from '../helpers/rigged-functions'

jest.setTimeout(240_000)

const ADMIN = 'o-incremental-admin'
const DAY = 86_400_000
const HOME = 'pages/home/index'
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10)

let rigged: RiggedFunctions
let t: TestCloud
const TODAY = shanghaiDayOf(Date.now())
const FIRST = addDays(TODAY, -9)
const LAST = addDays(TODAY, -1)
const random = prng(18_2026)
const session = (day: string, anonymousId: string, launch: Record<string, unknown> | null, options: SessionOptions = {}) => makeSession(random, day, anonymousId, launch, options)

const { call, ingest } = analyticsCalls(() => t.url, ADMIN)

/** Calls an action until it reports nothing left (each call does one step); returns how many calls. */
async function untilDone(action: 'hourly' | 'nightly' | 'rollup', data: Record<string, unknown> = {}): Promise<RollupReport[]> {
  const reports: RollupReport[] = []
  let input = data
  for (let calls = 0; calls < 2000; calls++) {
    const report = await call(action, input)
    reports.push(report)
    if (report.next === null) return reports
    if (action === 'rollup') input = { ...data, from: report.next }
  }
  throw new Error(`${action} did not finish in 2000 calls`)
}

const withoutTimes = ({ computedAt: _c, partial: _p, _id: _i, ...rest }: Record<string, unknown>) => rest

/** Every day of the range: the stored day and funnels equal the recomputation from raw events. */
async function expectEqualToRecomputation(days: string[]): Promise<void> {
  for (const day of days) {
    const stored = t.cloud.store.find('metrics_daily', { query: { _id: day } })[0]
    const reference = await call('recompute', { day })
    expect([day, stored && withoutTimes(stored)]).toEqual([day, reference.daily])
    for (const funnel of reference.funnels) {
      const doc = t.cloud.store.find('metrics_funnels', { query: { _id: `${funnel.id}:${day}` } })[0] as { users: number[]; medianMs: unknown[] } | undefined
      expect([day, funnel.id, doc?.users, doc?.medianMs]).toEqual([day, funnel.id, funnel.users, funnel.medianMs])
    }
  }
}

const range = (from: string, to: string) => {
  const days: string[] = []
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d)
  return days
}

beforeAll(async () => {
  rigged = riggedFunctions(['analytics', 'track', 'user'], { preload: ['clock'], perFunctionEnv: { analytics: { ROLLUP_CHUNK: '6', ROLLUP_BUDGET_MS: '0' } } })
  // Late in the (Shanghai) day, whatever the hour: today's sessions have all happened.
  rigged.setClock(`${TODAY}T23:50:00+08:00`)
  t = await startCloud({ functionsDir: rigged.dir })
  t.cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
  t.cloud.store.insert('channel_codes', [
    { _id: 'PosterXY', channel: 'poster', campaign: 'autumn', page: HOME, note: '', createdBy: ADMIN, createdAt: new Date(), qrFileId: '' },
  ])
  await makeTraffic({ random, ingest, from: FIRST, to: TODAY, prefix: 'o-a' })
})
afterAll(async () => {
  await t?.stop()
  rigged?.remove()
})

describe('the incremental rollup equals the full recomputation', () => {
  test('after the hourly runs: every day, its pages, paths, errors, retention, channels and both funnels', async () => {
    const reports = await untilDone('hourly')
    // Resumable: many calls, each a step, the fold and the closes picking up where the last stopped.
    expect(reports.length).toBeGreaterThan(20)
    expect(reports.reduce((n, r) => n + (r.folded?.events ?? 0), 0)).toBe(t.cloud.store.count('events', {}))
    const days = range(FIRST, TODAY)
    expect(reports.flatMap((r) => r.days.map((d) => d.day)).sort()).toEqual(expect.arrayContaining(days))
    await expectEqualToRecomputation(days)
    // Real numbers were compared: users on every day, returns, funnel completions, errors.
    const stored = days.map((day) => t.cloud.store.find('metrics_daily', { query: { _id: day } })[0] as unknown as { uv: number; returning: unknown[]; errors: { js_error: number } })
    expect(stored.every((d) => d.uv > 0)).toBe(true)
    expect(stored.some((d) => d.returning.length > 0)).toBe(true)
    expect(stored.reduce((n, d) => n + d.errors.js_error, 0)).toBeGreaterThan(0)
    const funnels = t.cloud.store.find('metrics_funnels', { query: {} }) as unknown as { users: number[] }[]
    expect(funnels.some((f) => f.users[3]! > 0)).toBe(true)
  })

  test('late events up to 29 days old, and a user whose first day moves earlier, are folded in: the days they touch are closed again', async () => {
    // A user who logged in today (new today), whose device then sends what it queued offline days ago.
    expect((await callAction(t.url, 'user', 'login', {}, 'o-late-login')).ok).toBe(true)
    const device = uuidv7()
    const old = addDays(TODAY, -29)
    await ingest('o-late-login', session(addDays(TODAY, -3), device, { scene: 1005 }))
    await ingest('o-late-login', session(old, device, null))
    // An existing user's late session (day 2 of the range), and a brand-new user's week-old one.
    await ingest('o-a1', session(addDays(FIRST, 2), uuidv7(), null, { tie: true }))
    await ingest('o-late-new', session(addDays(TODAY, -7), uuidv7(), { scene: 1047, code: 'PosterXY' }))
    await untilDone('hourly')
    expect(t.cloud.store.find('users', { query: { _id: 'o-late-login' } })[0]).toMatchObject({ firstSeenDay: old })
    // Today's document is refreshed at most every 6 hours by the timer: the backfill brings it up to date now.
    await untilDone('rollup', { from: TODAY, to: TODAY })
    await expectEqualToRecomputation([old, ...range(FIRST, TODAY)])
    const oldDay = t.cloud.store.find('metrics_daily', { query: { _id: old } })[0] as unknown as { uv: number; newUsers: number }
    expect([oldDay.uv, oldDay.newUsers]).toEqual([1, 1])
  })

  test('re-running the timers and the backfill changes nothing but the computation times', async () => {
    const all = (name: string) =>
      t.cloud.store
        .find(name, { query: {}, limit: 1000 })
        .sort((a, b) => String(a._id).localeCompare(String(b._id)))
        .map((doc) => [doc._id, withoutTimes(doc)])
    const snapshot = () => ({ daily: all('metrics_daily'), funnels: all('metrics_funnels') })
    const before = snapshot()
    const hourly = await untilDone('hourly')
    expect(hourly.reduce((n, r) => n + (r.folded?.events ?? 0), 0)).toBe(0)
    await untilDone('nightly')
    await untilDone('rollup', { from: FIRST, to: TODAY })
    expect(snapshot()).toEqual(before)
  })
})
