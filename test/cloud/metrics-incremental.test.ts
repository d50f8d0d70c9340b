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
import { type DeviceEvent, shanghaiDayOf } from '../helpers/events'
import { callAction, startCloud, type TestCloud } from '../helpers/local-cloud'
import { prng } from '../helpers/prng'
import { type RiggedFunctions, riggedFunctions } from '../helpers/rigged-functions'

jest.setTimeout(240_000)

const ADMIN = 'o-incremental-admin'
const DAY = 86_400_000
const HOME = 'pages/home/index'
const DETAIL = 'packages/guide/detail/index'
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10)
const midnight = (day: string) => Date.parse(`${day}T00:00:00+08:00`)

let rigged: RiggedFunctions
let t: TestCloud
const TODAY = shanghaiDayOf(Date.now())
const FIRST = addDays(TODAY, -9)
const LAST = addDays(TODAY, -1)
const random = prng(18_2026)

async function call<K extends keyof AnalyticsOutputs>(action: K, data: unknown): Promise<AnalyticsOutputs[K]> {
  const reply = await callAction<AnalyticsOutputs[K]>(t.url, 'analytics', action, data, ADMIN)
  if (!reply.ok) throw new Error(`${action}: ${JSON.stringify(reply.error)}`)
  return reply.data
}

async function ingest(openid: string, events: DeviceEvent[]): Promise<void> {
  const reply = await callAction<{ rejected: unknown[] }>(t.url, 'track', 'ingest', { events }, openid)
  if (!reply.ok) throw new Error(JSON.stringify(reply.error))
  expect(reply.data.rejected).toEqual([])
}

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

/** One session of a user on a day: launch or show, home, maybe a guide, its funnel steps, maybe an error. */
function session(day: string, anonymousId: string, launch: Record<string, unknown> | null, options: { tie?: boolean; onboarding?: boolean } = {}): DeviceEvent[] {
  const events: DeviceEvent[] = []
  const sessionId = uuidv7()
  let ts = midnight(day) + 8 * 3600_000 + Math.floor(random() * 13 * 3600_000)
  const ev = (name: string, page: string, props: Record<string, unknown> = {}, step = 1000 + Math.floor(random() * 60_000)) => {
    ts += step
    events.push({ id: uuidv7(ts), name, ts, anonymousId, sessionId, page, props })
  }
  if (launch) ev('app_launch', HOME, { path: HOME, ...launch })
  else ev('app_show', HOME, { path: HOME, scene: 1001 })
  const start = ts
  ev('page_view', HOME, { referrer: '' })
  if (options.onboarding) {
    ev('onboarding_step', HOME, { step: 'welcome', index: 0 })
    if (random() < 0.6) ev('onboarding_finish', HOME, { steps: 3 })
  }
  if (random() < 0.75) {
    ev('page_view', DETAIL, { referrer: HOME })
    // The same millisecond on the device: only the device order says which came first.
    if (options.tie) {
      ev('content_open', DETAIL, { guideId: 'g1', category: 'home' })
      ev('share', DETAIL, { kind: 'message', target: DETAIL }, 0)
    } else {
      if (random() < 0.6) ev('content_open', DETAIL, { guideId: 'g1', category: 'home' })
      if (random() < 0.3) ev('share', DETAIL, { kind: 'message', target: DETAIL })
    }
    if (random() < 0.5) ev('page_view', HOME, { referrer: DETAIL })
  }
  if (random() < 0.15) ev('js_error', HOME, { message: random() < 0.5 ? 'TypeError: x is undefined' : 'RangeError: bad' })
  if (random() < 0.2) ev('cloud_call_failed', HOME, { fn: 'content', action: 'list', code: 'TIMEOUT', durationMs: 3000 })
  if (random() < 0.8) ev('app_hide', HOME, { durationMs: ts - start + 5000 })
  return events
}

const CHANNELS = [{ scene: 1047, code: 'PosterXY' }, { scene: 1001, utm_source: 'moments_ad', utm_campaign: 'launch' }, { scene: 1005 }, { scene: 1007 }]

/** Users arriving on each day of the range, coming back on some later days; two sessions of a day are sent apart. */
async function traffic(from: string, to: string, prefix: string): Promise<void> {
  let n = 0
  for (let day = from; day <= to; day = addDays(day, 1)) {
    for (let k = 0; k < 4 + (n % 3); k++) {
      const openid = `${prefix}${n}`
      const touch = CHANNELS[n % CHANNELS.length]!
      const anonymousId = uuidv7()
      n++
      for (let d = day, first = true; d <= to; d = addDays(d, 1)) {
        if (!first && random() > 0.4) continue
        await ingest(openid, session(d, anonymousId, first ? touch : null, { tie: random() < 0.3, onboarding: first && random() < 0.5 }))
        if (random() < 0.3) await ingest(openid, session(d, anonymousId, null))
        first = false
      }
    }
  }
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
  await traffic(FIRST, TODAY, 'o-a')
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
    // Today's document is refreshed at most every 4 hours by the timer: the backfill brings it up to date now.
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
