/**
 * The `analytics` function against a real local cloud: events go in through the real `track`
 * function, rollups are computed by the function's aggregations, and the dashboard's queries are
 * checked against an independent count made here, in memory, from the events the test generated
 * (straightforward loops, no aggregation pipelines). Also: idempotence, access, bad input, cost.
 */
import { uuidv7 } from '../../miniprogram/core/uuid'
import type { AnalyticsOutputs } from '../../cloudfunctions/analytics/api'
import { DEFAULT_FUNNELS } from '../../cloudfunctions/analytics/funnels'
import { type DeviceEvent, shanghaiDayOf } from '../helpers/events'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'
import { prng } from '../helpers/prng'

jest.setTimeout(180_000)

const ADMIN = 'o-analytics-admin'
const DAY = 86_400_000
const HOME = 'pages/home/index'
const DETAIL = 'packages/guide/detail/index'

const dayOf = shanghaiDayOf
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10)
/** Shanghai midnight of a day, in ms. */
const midnight = (day: string) => Date.parse(`${day}T00:00:00+08:00`)

type Ev = DeviceEvent
interface Sent extends Ev {
  openid: string
}

let t: TestCloud
const sent: Sent[] = []
const TODAY = dayOf(Date.now())
/** The data set's days: the 10 days before today. */
const FIRST = addDays(TODAY, -10)
const LAST = addDays(TODAY, -1)
const CHANNELS = [
  { touch: { scene: 1047, code: 'Poster01' }, channel: 'poster', returns: 0.3 },
  { touch: { scene: 1001, utm_source: 'moments_ad', utm_medium: 'cpc', utm_campaign: 'launch' }, channel: 'moments_ad', returns: 0.45 },
  { touch: { scene: 1005 }, channel: 'scene_1005', returns: 0.6 },
]

async function ingest(openid: string, events: Ev[]): Promise<void> {
  for (let i = 0; i < events.length; i += 50) {
    const reply = await callAction<{ accepted: string[]; rejected: unknown[] }>(t.url, 'track', 'ingest', { events: events.slice(i, i + 50) }, openid)
    if (!reply.ok) throw new Error(JSON.stringify(reply.error))
    expect(reply.data.rejected).toEqual([])
  }
  for (const e of events) sent.push({ ...e, openid })
}

/** Users arrive over the 10 days; each comes back on later days with their channel's probability. */
async function generate(): Promise<void> {
  const random = prng(20261124)
  let n = 0
  for (let d = 0; d < 10; d++) {
    const first = addDays(FIRST, d)
    for (let k = 0; k < 5 + (d % 3); k++) {
      const openid = `o-u${n}`
      const channel = CHANNELS[n++ % CHANNELS.length]!
      const anonymousId = uuidv7()
      const events: Ev[] = []
      for (let day = first, launched = false; day <= LAST; day = addDays(day, 1)) {
        if (day !== first && random() > channel.returns) continue
        // One or two sessions that day, from 09:00 to 21:00 Shanghai time.
        for (let s = 0, sessions = random() < 0.3 ? 2 : 1; s < sessions; s++) {
          let ts = midnight(day) + 9 * 3600_000 + s * 6 * 3600_000 + Math.floor(random() * 5 * 3600_000)
          const sessionId = uuidv7()
          const ev = (name: string, page: string, props: Record<string, unknown> = {}) => {
            ts += 1000 + Math.floor(random() * 60_000)
            events.push({ id: uuidv7(), name, ts, anonymousId, sessionId, page, props })
          }
          if (!launched) {
            ev('app_launch', HOME, { path: HOME, ...channel.touch })
            launched = true
          } else ev('app_show', HOME, { path: HOME, scene: 1001 })
          const start = ts
          ev('page_view', HOME, { referrer: '' })
          if (random() < 0.7) {
            ev('element_tap', HOME, { element: 'home.card' })
            ev('page_view', DETAIL, { referrer: HOME })
            if (random() < 0.6) ev('content_open', DETAIL, { guideId: 'g1', category: 'home' })
            if (random() < 0.3) ev('share', DETAIL, { kind: 'message', target: DETAIL })
            if (random() < 0.5) ev('page_view', HOME, { referrer: DETAIL })
          }
          if (random() < 0.1) ev('js_error', HOME, { message: 'TypeError: x is undefined' })
          if (random() < 0.8) ev('app_hide', HOME, { durationMs: ts - start + 5000 })
        }
      }
      await ingest(openid, events)
    }
  }
}

// ---- the independent count ---------------------------------------------------------------------

function expected() {
  const activeByDay = new Map<string, Set<string>>()
  const firstDay = new Map<string, string>()
  for (const e of [...sent].sort((a, b) => a.ts - b.ts)) {
    const day = dayOf(e.ts)
    if (!activeByDay.has(day)) activeByDay.set(day, new Set())
    activeByDay.get(day)!.add(e.openid)
    if (!firstDay.has(e.openid)) firstDay.set(e.openid, day)
  }
  const newOn = (day: string) => [...firstDay].filter(([, d]) => d === day).map(([u]) => u)
  const uv = (day: string) => activeByDay.get(day)?.size ?? 0
  const pv = (day: string) => sent.filter((e) => e.name === 'page_view' && dayOf(e.ts) === day).length
  const retained = (cohort: string, n: number) => newOn(cohort).filter((u) => activeByDay.get(addDays(cohort, n))?.has(u)).length
  /** The content funnel for users entering on `day`, step by step, as the definition says. */
  const funnel = (day: string) => {
    const def = DEFAULT_FUNNELS[0]!
    const users = def.steps.map(() => 0)
    const gaps: number[][] = def.steps.map(() => [])
    const byUser = new Map<string, Sent[]>()
    for (const e of [...sent].sort((a, b) => a.ts - b.ts)) byUser.set(e.openid, [...(byUser.get(e.openid) ?? []), e])
    for (const events of byUser.values()) {
      const matches = (e: Sent, j: number) => e.name === def.steps[j]!.event && (!def.steps[j]!.page || e.page === def.steps[j]!.page)
      const entry = events.find((e) => matches(e, 0) && dayOf(e.ts) === day)
      if (!entry) continue
      users[0]!++
      let last = entry
      for (let j = 1; j < def.steps.length; j++) {
        const next = events.find((e) => e.ts >= last.ts && e !== last && matches(e, j) && e.ts - entry.ts <= def.windowDays * DAY)
        if (!next) break
        users[j]!++
        gaps[j]!.push(next.ts - last.ts)
        last = next
      }
    }
    const median = (xs: number[]) => {
      if (xs.length === 0) return null
      const s = [...xs].sort((a, b) => a - b)
      return s.length % 2 ? s[s.length >> 1]! : Math.round((s[s.length / 2 - 1]! + s[s.length / 2]!) / 2)
    }
    return { users, medianMs: gaps.map((g, j) => (j === 0 ? null : median(g))) }
  }
  return { uv, pv, newOn, retained, funnel, firstDay }
}

// ---- helpers -----------------------------------------------------------------------------------

async function query<K extends keyof AnalyticsOutputs>(action: K, data: unknown, openid = ADMIN): Promise<AnalyticsOutputs[K]> {
  const reply = await callAction<AnalyticsOutputs[K]>(t.url, 'analytics', action, data, openid)
  if (!reply.ok) throw new Error(`${action}: ${JSON.stringify(reply.error)}`)
  return reply.data
}

async function failure(action: string, data: unknown, openid = ADMIN) {
  const reply = await callAction(t.url, 'analytics', action, data, openid)
  if (reply.ok) throw new Error(`${action} succeeded`)
  return reply.error
}

const stored = (collection: string) => t.cloud.store.find(collection, { query: {}, limit: 1000 })
const withoutTimes = (docs: Record<string, unknown>[]) => docs.map(({ computedAt: _c, ...rest }) => rest)

beforeAll(async () => {
  t = await startCloud()
  t.cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
  t.cloud.store.insert('channel_codes', [
    { _id: 'Poster01', channel: 'poster', campaign: 'autumn', page: HOME, note: '', createdBy: ADMIN, createdAt: new Date(), qrFileId: '' },
  ])
  await generate()
  await query('rollup', { from: FIRST, to: LAST })
}, 120_000)
afterAll(() => t.stop())

describe('the rollups match an independent count of the generated events', () => {
  test('the data set is what it should be: events on every day, users on every day, returns', () => {
    const x = expected()
    expect(sent.length).toBeGreaterThan(300)
    for (let d = 0; d < 10; d++) expect(x.newOn(addDays(FIRST, d)).length).toBeGreaterThan(0)
    // Returning users on D1 and D7, and funnel entrants who reach the last step: the checks below compare real numbers.
    const cohorts = Array.from({ length: 9 }, (_, d) => addDays(FIRST, d))
    expect(cohorts.reduce((n, c) => n + x.retained(c, 1), 0)).toBeGreaterThan(5)
    expect(x.retained(FIRST, 7) + x.retained(addDays(FIRST, 1), 7)).toBeGreaterThan(0)
    expect(cohorts.reduce((n, c) => n + x.funnel(c).users[3]!, 0)).toBeGreaterThan(0)
  })

  test('UV, PV and new users per day', async () => {
    const x = expected()
    const { days } = await query('trend', { from: FIRST, to: LAST })
    expect(days.map((d) => [d.day, d.uv, d.pv, d.newUsers])).toEqual(
      days.map((d) => [d.day, x.uv(d.day), x.pv(d.day), x.newOn(d.day).length]),
    )
    // New users are users.firstSeenDay, which `track` set from the first launch.
    for (const [openid, day] of x.firstDay) expect(t.cloud.store.find('users', { query: { _id: openid } })[0]?.firstSeenDay).toBe(day)
  })

  test('D1..D7 retention of every cohort: active on exactly day n', async () => {
    const x = expected()
    const { offsets, cohorts } = await query('retention', { from: FIRST, to: LAST })
    expect(offsets).toEqual([1, 2, 3, 4, 5, 6, 7, 14, 30])
    for (const cohort of cohorts) {
      const size = x.newOn(cohort.day).length
      expect(cohort.size).toBe(size)
      offsets.forEach((n, i) => {
        const later = addDays(cohort.day, n)
        if (later > LAST) expect(cohort.rates[i]).toBeNull()
        else expect(cohort.rates[i]).toBeCloseTo(x.retained(cohort.day, n) / size, 12)
      })
    }
  })

  test('the overview: a day against the day before and a week before, with D1 retention', async () => {
    const x = expected()
    const { today, yesterday, weekAgo } = await query('overview', { day: LAST })
    expect([today.day, yesterday.day, weekAgo.day]).toEqual([LAST, addDays(LAST, -1), addDays(LAST, -7)])
    for (const d of [today, yesterday, weekAgo]) {
      expect([d.uv, d.pv, d.newUsers]).toEqual([x.uv(d.day), x.pv(d.day), x.newOn(d.day).length])
      const cohort = addDays(d.day, -1)
      expect(d.d1Retention).toBeCloseTo(x.retained(cohort, 1) / x.newOn(cohort).length, 12)
    }
  })

  test('the content funnel, per entry day and over the range (counted once per user, in order, within the window)', async () => {
    const x = expected()
    let total = [0, 0, 0, 0]
    for (let d = 0; d < 10; d++) {
      const day = addDays(FIRST, d)
      const doc = t.cloud.store.find('metrics_funnels', { query: { _id: `content:${day}` } })[0] as { users: number[]; medianMs: (number | null)[] }
      const mine = x.funnel(day)
      expect(doc.users).toEqual(mine.users)
      expect(doc.medianMs).toEqual(mine.medianMs)
      total = total.map((n, j) => n + mine.users[j]!)
    }
    const { funnels } = await query('funnels', { from: FIRST, to: LAST })
    // The default funnels: content, and onboarding (no onboarding events in this data set).
    expect(funnels.map((f) => f.id)).toEqual(['content', 'onboarding'])
    expect(funnels[1]!.steps.map((s) => s.users)).toEqual([0, 0])
    expect(funnels[0]!.steps.map((s) => s.users)).toEqual(total)
    expect(total[0]).toBeGreaterThan(total[3]!)
    expect(funnels[0]!.steps[1]!.conversion).toBeCloseTo(total[1]! / total[0]!, 12)
    expect(funnels[0]!.steps[3]!.overall).toBeCloseTo(total[3]! / total[0]!, 12)
  })

  test('channels: new users by first touch, with their D1 retention', async () => {
    const x = expected()
    const { rows } = await query('channels', { from: FIRST, to: LAST })
    const channelOf = (openid: string) => CHANNELS[Number(openid.slice(3)) % CHANNELS.length]!.channel
    for (const c of CHANNELS) {
      const cohortUsers = [...x.firstDay].filter(([u]) => channelOf(u) === c.channel)
      const row = rows.find((r) => r.channel === c.channel)!
      expect(row.newUsers).toBe(cohortUsers.length)
      // D1 counts cohorts whose next day is in the data set (not the last day's).
      const base = cohortUsers.filter(([, d]) => d < LAST)
      const back = base.filter(([u, d]) => sent.some((e) => e.openid === u && dayOf(e.ts) === addDays(d, 1))).length
      expect(row.d1).toBeCloseTo(back / base.length, 12)
    }
    expect(rows.reduce((n, r) => n + r.newUsers, 0)).toBe(x.firstDay.size)
  })

  test('pages, first three pages of sessions, and errors', async () => {
    const { pages, paths } = await query('pages', { from: FIRST, to: LAST })
    const homeViews = sent.filter((e) => e.name === 'page_view' && e.page === HOME).length
    expect(pages.find((p) => p.page === HOME)?.pv).toBe(homeViews)
    const sessions = new Map<string, string[]>()
    for (const e of [...sent].sort((a, b) => a.ts - b.ts)) {
      if (e.name === 'page_view') sessions.set(e.sessionId, [...(sessions.get(e.sessionId) ?? []), e.page].slice(0, 3))
    }
    const top = paths[0]!
    expect(top.sessions).toBe([...sessions.values()].filter((p) => p.join() === top.path.join()).length)
    const errors = await query('errors', { from: FIRST, to: LAST })
    expect(errors.days.reduce((n, d) => n + d.js_error, 0)).toBe(sent.filter((e) => e.name === 'js_error').length)
    expect(errors.top[0]).toMatchObject({ name: 'js_error', message: 'TypeError: x is undefined' })
  })
})

describe('idempotence', () => {
  test('rolling up the same days again changes nothing but the computation time', async () => {
    const daily = withoutTimes(stored('metrics_daily'))
    const funnels = withoutTimes(stored('metrics_funnels'))
    const report = await query('rollup', { from: FIRST, to: LAST })
    expect(report.days).toHaveLength(10)
    expect(report.funnelDays).toBe(20) // 10 days x 2 default funnels
    expect(report.next).toBeNull()
    expect(withoutTimes(stored('metrics_daily'))).toEqual(daily)
    expect(withoutTimes(stored('metrics_funnels'))).toEqual(funnels)
  })

  test('a day is replaced whole: a re-run after late events gives the new numbers', async () => {
    const before = (await query('trend', { from: FIRST, to: FIRST })).days[0]!
    const late: Ev = { id: uuidv7(), name: 'page_view', ts: midnight(FIRST) + 23 * 3600_000, anonymousId: uuidv7(), sessionId: uuidv7(), page: HOME, props: { referrer: '' } }
    await ingest('o-u0', [late])
    await query('rollup', { from: FIRST, to: FIRST })
    const after = (await query('trend', { from: FIRST, to: FIRST })).days[0]!
    expect(after.pv).toBe(before.pv + 1)
    expect(after.uv).toBe(expected().uv(FIRST))
  })

  test('the hourly timer rolls up yesterday and today', async () => {
    const res = await fetch(`${t.url}/_/triggers/analytics/hourly`, { method: 'POST' })
    expect(res.status).toBe(200)
    const days = stored('metrics_daily').map((d) => d._id)
    expect(days).toEqual(expect.arrayContaining([LAST, TODAY]))
  })
})

describe('access', () => {
  test('admins only: every query and the backfill refuse anyone else with FORBIDDEN', async () => {
    const range = { from: FIRST, to: LAST }
    for (const [action, data] of [
      ['overview', {}],
      ['trend', range],
      ['retention', range],
      ['funnels', range],
      ['channels', range],
      ['pages', range],
      ['errors', range],
      ['rollup', range],
      ['hourly', {}],
      ['validateFunnels', { funnels: DEFAULT_FUNNELS }],
    ] as const) {
      expect(await failure(action, data, 'o-u1')).toMatchObject({ code: 'FORBIDDEN' })
    }
    expect(await query('access', {}, 'o-u1')).toEqual({ admin: false })
    expect(await query('access', {}, ADMIN)).toEqual({ admin: true })
  })
})

describe('bad input', () => {
  test('days that do not exist, reversed ranges, ranges over the maximum: INVALID_INPUT', async () => {
    expect(await failure('trend', { from: '2026-02-30', to: '2026-03-01' })).toMatchObject({ code: 'INVALID_INPUT' })
    expect(await failure('trend', { from: '2026-3-1', to: '2026-03-02' })).toMatchObject({ code: 'INVALID_INPUT' })
    const reversed = await failure('retention', { from: LAST, to: FIRST })
    expect(reversed.issues?.[0]?.message).toMatch(/must not be after/)
    const long = await failure('trend', { from: '2026-01-01', to: '2026-06-30' })
    expect(long.issues?.[0]?.message).toMatch(/at most 90 days/)
    expect((await failure('rollup', { from: '2026-01-01', to: '2026-03-01' })).issues?.[0]?.message).toMatch(/at most 31 days/)
    expect(await failure('trend', { from: FIRST })).toMatchObject({ code: 'INVALID_INPUT' })
  })

  test('funnel definitions: unknown events, too few steps, duplicate ids are refused with where and why', async () => {
    const unknown = await failure('validateFunnels', { funnels: [{ id: 'x', name: '测试', steps: [{ event: 'app_launch', label: 'a' }, { event: 'checkout', label: 'b' }] }] })
    expect(unknown.code).toBe('INVALID_INPUT')
    expect(unknown.issues).toEqual([expect.objectContaining({ path: 'funnels.0.steps.1.event', message: 'not an event of the tracking plan' })])
    const empty = await failure('validateFunnels', { funnels: [{ id: 'x', name: '测试', steps: [] }] })
    expect(empty.issues?.[0]?.message).toMatch(/at least 2 steps/)
    const twice = await failure('validateFunnels', { funnels: [DEFAULT_FUNNELS[0], DEFAULT_FUNNELS[0]] })
    expect(twice.issues?.[0]?.message).toMatch(/unique/)
    expect(await query('validateFunnels', { funnels: DEFAULT_FUNNELS })).toEqual({ funnels: DEFAULT_FUNNELS })
  })

  test('an invalid funnel configuration stored in the console: the daily rollups still run, funnels are reported, not guessed', async () => {
    t.cloud.store.insert('app_config', [{ _id: 'funnels', funnels: [{ id: 'bad', name: '坏', steps: [{ event: 'nope', label: 'x' }] }] }])
    try {
      const report = await query('rollup', { from: LAST, to: LAST })
      expect(report.days).toHaveLength(1)
      expect(report.funnelDays).toBe(0)
      expect(report.funnelError).toMatch(/app_config\/funnels is invalid/)
      expect(await failure('funnels', { from: FIRST, to: LAST })).toMatchObject({ code: 'CONFLICT' })
    } finally {
      t.cloud.store.remove('app_config', { _id: 'funnels' }, false)
    }
  })
})

describe('cost', () => {
  test('a dashboard query is one read of the rollups, whatever the traffic', async () => {
    for (const [action, data] of [
      ['overview', { day: LAST }],
      ['trend', { from: FIRST, to: LAST }],
      ['retention', { from: FIRST, to: LAST }],
      ['channels', { from: FIRST, to: LAST }],
    ] as const) {
      const reply = await callGateway(t.url, 'analytics', { action, data }, { openid: ADMIN })
      // The admin check (app_config) and one query of metrics_daily.
      expect([action, reply.headers.get('x-db-ops')]).toEqual([action, 'getDocument=2'])
    }
    // Documents read: the admin document and the days asked for (overview: the day, the day before
    // (and its previous day, for D1), a week before (and its previous day)).
    const overview = await callGateway(t.url, 'analytics', { action: 'overview', data: { day: LAST } }, { openid: ADMIN })
    expect(overview.headers.get('x-db-docs-read')).toBe('6')
    const trend = await callGateway(t.url, 'analytics', { action: 'trend', data: { from: addDays(LAST, -2), to: LAST } }, { openid: ADMIN })
    expect(trend.headers.get('x-db-docs-read')).toBe('5')
  })

  test('the rollup reports its peak memory and reads grouped rows, not raw events', async () => {
    const reply = await callGateway(t.url, 'analytics', { action: 'rollup', data: { from: LAST, to: LAST } }, { openid: ADMIN })
    const events = t.cloud.store.count('events', { day: LAST })
    expect(events).toBeGreaterThan(50)
    // 6 aggregations + the funnel's, the admin and funnel config documents: a handful of rows each.
    expect(Number(reply.headers.get('x-db-docs-read'))).toBeLessThan(events / 2)
    const res = await fetch(`${t.url}/_/invocations?fn=analytics&limit=1`)
    const [last] = ((await res.json()) as { invocations: { action: string; peakHeapMb: number; peakRssMb: number }[] }).invocations
    expect(last).toMatchObject({ action: 'rollup' })
    expect(last!.peakHeapMb).toBeGreaterThan(1)
    expect(last!.peakRssMb).toBeGreaterThanOrEqual(last!.peakHeapMb)
  })
})
