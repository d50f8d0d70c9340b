/**
 * `npm run seed:traffic` (tools/seed/traffic.ts) against a real local cloud: the real device code
 * sending to the real `track` function. Every generated event is stored exactly once, every user
 * exists with the first-seen day of its first event and the first touch of its channel (share
 * chains resolved to the sharer), retention and the channel mix follow the model, and a seed
 * always generates the same traffic.
 */
import { CloudDatabase } from '../../tools/local-cloud/client'
import { generateTraffic, type TrafficSummary } from '../../tools/seed/traffic'
import { CHANNEL_MODEL, CHANNELS, retention } from '../../tools/seed/traffic-model'
import { startCloud, type TestCloud } from '../helpers/local-cloud'

type Doc = Record<string, unknown>

const USERS = 60
const DAYS = 10
const SEED = 42
/** Both runs end at the same time, so they must generate the same traffic. */
const NOW = Date.now()
const DAY = 86_400_000

let t: TestCloud
let run: TrafficSummary

/** A run's users (tag `runa` or `runb`): a RegExp for the store, its EJSON form over HTTP. */
const mine = (tag: string) => new RegExp(`^dev-${tag}`)
const mineOnTheWire = (tag: string) => ({ $regularExpression: { pattern: `^dev-${tag}`, options: '' } })
const shanghaiDay = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10)
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10)

function find(collection: string, query: Doc): Doc[] {
  const docs: Doc[] = []
  for (let offset = 0; ; offset += 1000) {
    const page = t.cloud.store.find(collection, { query, offset, limit: 1000 })
    docs.push(...page)
    if (page.length < 1000) return docs
  }
}

beforeAll(async () => {
  t = await startCloud({ seed: true })
  run = await generateTraffic({ url: t.url, users: USERS, days: DAYS, seed: SEED, now: NOW, tag: 'runa', collectEventIds: true })
}, 60_000)
afterAll(() => t.stop())

test('nothing is rejected or lost, and the run checks the database itself', () => {
  expect(run.rejected).toEqual([])
  expect(run.ok).toBe(true)
  expect(run.users).toBe(USERS)
  expect(run.stored).toEqual({ events: run.events, users: USERS, firstSeenDayMismatches: [], missingUsers: [] })
  expect(run.events).toBeGreaterThan(USERS * 5)
  expect(run.trackCalls).toBeGreaterThanOrEqual(run.sessions)
})

test('every generated event is stored exactly once, on the day of its simulated time', async () => {
  const stored = await new CloudDatabase(t.url).ids('events', { openid: mineOnTheWire('runa') })
  expect(stored).toHaveLength(run.events)
  expect(new Set(stored)).toEqual(new Set(run.eventIds))
  expect(run.eventIds).toHaveLength(run.events)

  const events = find('events', { openid: mine('runa') })
  const byDay: Record<string, number> = {}
  for (const e of events) {
    const ts = (e.ts as Date).getTime()
    expect(e.day).toBe(shanghaiDay(ts))
    expect(ts).toBeLessThanOrEqual(NOW)
    byDay[e.day as string] = (byDay[e.day as string] ?? 0) + 1
  }
  expect(byDay).toEqual(Object.fromEntries(Object.entries(run.eventsByDay).filter(([, n]) => n > 0)))
  // The days are the last DAYS days ending today (the traffic ends at the start of the hour:
  // in the first hour after midnight, today has no time yet and yesterday is the last day).
  const lastDay = shanghaiDay(Math.floor(NOW / 3600_000) * 3600_000 - 1)
  expect(run.days).toHaveLength(DAYS)
  expect(run.days[DAYS - 1]).toBe(lastDay)
  expect(run.days[0]).toBe(addDays(lastDay, -(DAYS - 1)))
  expect(Object.values(run.newUsersByDay).every((n) => n > 0)).toBe(true)
  expect(Object.values(run.newUsersByDay).reduce((a, b) => a + b, 0)).toBe(USERS)
})

test('sessions carry the events the app sends, through the real tracking code', () => {
  const n = run.eventsByName
  expect(n.first_launch).toBe(USERS)
  expect(n.app_show).toBe(run.sessions)
  expect(n.app_hide).toBe(run.sessions)
  expect(n.app_launch).toBe(run.coldStarts)
  expect(run.coldStarts).toBeLessThanOrEqual(run.sessions)
  for (const name of ['page_view', 'element_tap', 'content_open', 'share', 'cloud_calls']) expect(n[name]).toBeGreaterThan(0)
  // A funnel: each step reached by fewer users.
  const f = run.funnel
  expect(f.homeView).toBeGreaterThan(f.guideView)
  expect(f.guideView).toBeGreaterThanOrEqual(f.contentOpen)
  expect(f.contentOpen).toBeGreaterThan(f.share)
  expect(f.share).toBeGreaterThan(0)

  const events = find('events', { openid: mine('runa') })
  const views = events.filter((e) => e.name === 'page_view')
  expect(new Set(views.map((e) => e.page))).toEqual(new Set(['pages/home/index', 'packages/guide/detail/index', 'packages/me/index']))
  expect(views.some((e) => (e.props as Doc).referrer === 'pages/home/index')).toBe(true)
  expect(new Set(events.filter((e) => e.name === 'element_tap').map((e) => (e.props as Doc).element))).toContain('home_card')
  const hides = events.filter((e) => e.name === 'app_hide').map((e) => (e.props as Doc).durationMs as number)
  expect(Math.min(...hides)).toBeGreaterThan(0)
})

test('every user has a users doc with the first-seen day of its first event and its channel as first touch', () => {
  const events = find('events', { openid: mine('runa') })
  const firstTs = new Map<string, number>()
  for (const e of events) {
    const ts = (e.ts as Date).getTime()
    const openid = e.openid as string
    firstTs.set(openid, Math.min(firstTs.get(openid) ?? Infinity, ts))
  }
  const users = new Map(find('users', { _id: mine('runa') }).map((u) => [u._id as string, u]))
  expect(users.size).toBe(USERS)
  const byOpenid = new Map(run.userList.map((u) => [u.openid, u]))
  let chained = 0
  for (const generated of run.userList) {
    const user = users.get(generated.openid)!
    expect(user.firstSeenDay).toBe(shanghaiDay(firstTs.get(generated.openid)!))
    expect(user.firstSeenDay).toBe(generated.firstDay)
    const touch = user.firstTouch as Doc
    switch (generated.channel) {
      case 'search':
        expect([1005, 1006]).toContain(touch.scene)
        break
      case 'discovery':
        expect(touch.scene).toBe(1001)
        break
      case 'share': {
        expect(touch.scene).toBe(1007)
        // The sharer's anonymous id resolved to the sharer's OPENID: a share chain.
        expect(touch.inviter).toBe(generated.sharedBy)
        const sharer = byOpenid.get(generated.sharedBy!)!
        expect(touch.sharer).toBe(sharer.anonymousId)
        expect(touch.depth).toBe(((users.get(sharer.openid)!.firstTouch as Doc).depth as number | undefined ?? 0) + 1)
        chained++
        break
      }
      case 'poster':
        expect(touch).toMatchObject({ scene: 1047, code: generated.code, channel: 'poster' })
        expect(run.channelCodes.map((c) => c.code)).toContain(generated.code)
        break
      case 'utm':
        expect(touch.utm_source).toBe(generated.utmSource)
        expect(touch.utm_medium).toEqual(expect.any(String))
        expect(touch.utm_campaign).toEqual(expect.any(String))
        break
    }
  }
  expect(chained).toBeGreaterThan(0)
  // The poster codes were made by the channel function (as an admin).
  expect(run.channelCodes).toHaveLength(3)
  expect(t.cloud.store.count('channel_codes', { channel: 'poster' })).toBe(3)
})

test('the channel mix and retention follow the model (loosely: 60 users)', () => {
  const total = CHANNELS.reduce((sum, c) => sum + CHANNEL_MODEL[c].weight, 0)
  for (const channel of CHANNELS) {
    const expected = (USERS * CHANNEL_MODEL[channel].weight) / total
    // Share arrivals on the first day (nobody has shared yet) come by search instead.
    expect(Math.abs(run.usersByChannel[channel] - expected)).toBeLessThanOrEqual(Math.max(8, expected * 0.7))
  }
  expect(Object.values(run.usersByChannel).reduce((a, b) => a + b, 0)).toBe(USERS)

  // Retention from what the cloud recorded (user_days), as analytics will compute it.
  const users = find('users', { _id: mine('runa') })
  const active = new Set(find('user_days', { openid: mine('runa') }).map((d) => `${d.openid as string}:${d.day as string}`))
  const lastDay = run.days[DAYS - 1]!
  const rate = (from: number, to: number) => {
    let eligible = 0
    let returned = 0
    for (const u of users) {
      for (let n = from; n <= to; n++) {
        const day = addDays(u.firstSeenDay as string, n)
        if (day > lastDay) continue
        eligible++
        if (active.has(`${u._id as string}:${day}`)) returned++
      }
    }
    return { eligible, returned, rate: returned / eligible }
  }
  const d1 = rate(1, 1)
  expect(d1.returned).toBe(run.retention.d1.returned)
  expect(d1.eligible).toBe(run.retention.d1.eligible)
  expect(d1.rate).toBeGreaterThan(0.15)
  expect(d1.rate).toBeLessThan(0.7)
  const later = rate(4, 9)
  expect(later.rate).toBeLessThan(d1.rate)
  expect(later.rate).toBeGreaterThan(0.03)
  expect(later.rate).toBeLessThan(0.35)
  // The curve itself: D1 22%, D7 7.5%, D30 3.4% for a channel multiplier of 1.
  expect(retention(1, 1)).toBeCloseTo(0.22, 2)
  expect(retention(7, 1)).toBeCloseTo(0.075, 2)
  expect(retention(30, 1)).toBeCloseTo(0.034, 2)
  expect(CHANNEL_MODEL.search.retention).toBeGreaterThan(CHANNEL_MODEL.poster.retention)
})

test('the same seed generates the same traffic', async () => {
  const again = await generateTraffic({ url: t.url, users: USERS, days: DAYS, seed: SEED, now: NOW, tag: 'runb' })
  expect(again.ok).toBe(true)
  const counts = (s: TrafficSummary) => ({
    events: s.events,
    sessions: s.sessions,
    coldStarts: s.coldStarts,
    activeUserDays: s.activeUserDays,
    eventsByName: s.eventsByName,
    eventsByDay: s.eventsByDay,
    newUsersByDay: s.newUsersByDay,
    activeUsersByDay: s.activeUsersByDay,
    usersByChannel: s.usersByChannel,
    retention: s.retention,
    funnel: s.funnel,
    users: s.userList.map((u) => [u.channel, u.firstDay, u.activeDays.join(','), u.sessions, u.events]),
  })
  expect(counts(again)).toEqual(counts(run))
  // Its own users: the tag keeps runs apart in one database.
  expect(t.cloud.store.count('users', { _id: mine('runb') })).toBe(USERS)
  // A tag already used is refused rather than mixed in.
  await expect(generateTraffic({ url: t.url, users: USERS, days: DAYS, seed: SEED, tag: 'runa' })).rejects.toThrow(/already has 60 users/)
}, 90_000)
