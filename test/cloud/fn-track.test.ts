/**
 * The `track` function through the gateway, against a real local cloud: per-event validation,
 * storage keyed by the device-made id (retries and concurrent batches stored once), active days,
 * identities, first touch with channel codes and share chains, and the round trips each batch costs.
 */
import { copyFileSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { TrackOutputs } from '../../cloudfunctions/track/api'
import { uuidv7 } from '../../miniprogram/core/uuid'
import { type DeviceEvent, shanghaiDayOf } from '../helpers/events'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'

type Ingest = TrackOutputs['ingest']
type Doc = Record<string, unknown>

/** An event, possibly with fields the envelope does not allow (the bad-input tests add them). */
interface Ev extends DeviceEvent {
  [extra: string]: unknown
}

const MIN = 60_000
const DAY = 86_400_000

/** A device: one anonymous id and one session, making events. */
function device() {
  const anonymousId = uuidv7()
  const sessionId = uuidv7()
  return {
    anonymousId,
    sessionId,
    event(name: string, props: Record<string, unknown> = {}, over: Partial<Ev> = {}): Ev {
      return { id: uuidv7(), name, ts: Date.now(), anonymousId, sessionId, page: 'pages/home/index', props, ...over }
    },
    view(over: Partial<Ev> = {}): Ev {
      return this.event('page_view', { referrer: 'pages/home/index' }, over)
    },
    launch(props: Record<string, unknown> = {}, over: Partial<Ev> = {}): Ev {
      return this.event('app_launch', { path: 'pages/home/index', scene: 1001, ...props }, over)
    },
  }
}

let t: TestCloud

beforeAll(async () => {
  t = await startCloud()
})
afterAll(() => t.stop())

async function ingest(openid: string | undefined, events: unknown[]): Promise<Ingest> {
  const reply = await callAction<Ingest>(t.url, 'track', 'ingest', { events }, openid)
  if (!reply.ok) throw new Error(JSON.stringify(reply.error))
  return reply.data
}

/** The gateway reply with its cost headers. */
async function ingestCounted(openid: string, events: unknown[]) {
  const reply = await callGateway<{ result: { ok: true; data: Ingest } }>(t.url, 'track', { action: 'ingest', data: { events } }, { openid })
  return { data: reply.body.result.data, ops: reply.headers.get('x-db-ops'), roundTrips: Number(reply.headers.get('x-db-roundtrips')) }
}

const find = (collection: string, query: Doc): Doc[] => t.cloud.store.find(collection, { query, limit: 1000 })
const one = (collection: string, id: string): Doc | undefined => find(collection, { _id: id })[0]
const user = (openid: string) => one('users', openid)

describe('a valid batch', () => {
  test('is stored one document per event, keyed by the event id, with the caller as openid', async () => {
    const d = device()
    const events = [
      d.view({ ts: Date.now() - 2000 }),
      d.event('element_tap', { element: 'home.card' }, { ts: Date.now() - 1000, page: 'pages/home/index' }),
      d.event('content_open', { guideId: 'sleep-better', category: 'health' }, { page: 'packages/guide/detail/index' }),
    ]
    const before = Date.now()
    const result = await ingest('o-store', events)
    const after = Date.now()
    expect(result).toEqual({ accepted: events.map((e) => e.id), rejected: [], duplicates: 0 })
    for (const e of events) {
      const doc = one('events', e.id)
      expect(doc).toEqual({
        _id: e.id,
        name: e.name,
        ts: new Date(e.ts),
        day: shanghaiDayOf(e.ts),
        receivedAt: expect.any(Date),
        openid: 'o-store',
        anonymousId: d.anonymousId,
        sessionId: d.sessionId,
        page: e.page,
        props: e.props,
      })
      const receivedAt = (doc!.receivedAt as Date).getTime()
      expect(receivedAt).toBeGreaterThanOrEqual(before)
      expect(receivedAt).toBeLessThanOrEqual(after)
    }
    expect(find('events', { openid: 'o-store' })).toHaveLength(3)
  })

  test('day is the Asia/Shanghai day of ts: 16:30Z is already the next day there, 15:59Z is not', async () => {
    // Two days ago, so both instants are in the past and well inside the 30-day window.
    const base = new Date(Date.now() - 2 * DAY)
    const midnightUtc = Date.UTC(base.getUTCFullYear(), base.getUTCMonth(), base.getUTCDate())
    const utcDay = new Date(midnightUtc).toISOString().slice(0, 10)
    const nextDay = new Date(midnightUtc + DAY).toISOString().slice(0, 10)
    const d = device()
    const late = d.view({ ts: midnightUtc + 16 * 3600_000 + 30 * MIN })
    const early = d.view({ ts: midnightUtc + 16 * 3600_000 - 1 })
    await ingest('o-day', [late, early])
    expect(one('events', late.id)?.day).toBe(nextDay)
    expect(one('events', early.id)?.day).toBe(utcDay)
  })

  test('identity never comes from the payload', async () => {
    const d = device()
    const injected = await callAction(t.url, 'track', 'ingest', { events: [d.view()], openid: 'o-evil' }, 'o-real')
    expect(injected).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    const forged = d.view({ openid: 'o-evil' })
    const honest = d.view()
    const spoofed = await callGateway<{ result: { ok: true; data: Ingest } }>(
      t.url,
      'track',
      { action: 'ingest', data: { events: [forged, honest] }, userInfo: { openId: 'o-evil', appId: 'wx-evil' } },
      { openid: 'o-real' },
    )
    expect(spoofed.body.result.data.accepted).toEqual([honest.id])
    expect(spoofed.body.result.data.rejected).toEqual([{ id: forged.id, index: 0, reason: expect.stringMatching(/openid/) }])
    expect(one('events', honest.id)?.openid).toBe('o-real')
    expect(one('events', forged.id)).toBeUndefined()
    expect(find('events', { openid: 'o-evil' })).toHaveLength(0)
  })
})

describe('idempotence', () => {
  test('a retried batch is stored once: accepted again, counted as duplicates', async () => {
    const d = device()
    const events = [d.view(), d.view(), d.view()]
    const first = await ingest('o-retry', events)
    const firstReceived = events.map((e) => one('events', e.id)?.receivedAt)
    const again = await ingestCounted('o-retry', events)
    expect(again.data).toEqual({ accepted: events.map((e) => e.id), rejected: [], duplicates: 3 })
    expect(first.duplicates).toBe(0)
    expect(find('events', { openid: 'o-retry' })).toHaveLength(3)
    // The stored documents are the first ones, untouched.
    expect(events.map((e) => one('events', e.id)?.receivedAt)).toEqual(firstReceived)
    // The insert fails on the duplicate ids, the lookup finds them all: nothing left to insert.
    expect(again.ops).toBe('insertDocument=1,getDocument=1')
    expect(again.roundTrips).toBe(2)
  })

  test('a batch mixing stored and new ids stores only the new ones', async () => {
    const d = device()
    const old = [d.view(), d.view()]
    await ingest('o-mixed', old)
    const oldReceived = old.map((e) => one('events', e.id)?.receivedAt)
    const fresh = [d.view(), d.view(), d.view()]
    const batch = [fresh[0]!, old[0]!, fresh[1]!, old[1]!, fresh[2]!]
    const reply = await ingestCounted('o-mixed', batch)
    expect(reply.data).toEqual({ accepted: batch.map((e) => e.id), rejected: [], duplicates: 2 })
    expect(find('events', { openid: 'o-mixed' }).map((e) => e._id).sort()).toEqual([...old, ...fresh].map((e) => e.id).sort())
    expect(old.map((e) => one('events', e.id)?.receivedAt)).toEqual(oldReceived)
    // Insert (fails), lookup, insert of the three new ones.
    expect(reply.ops).toBe('insertDocument=2,getDocument=1')
  })

  test('identical batches sent concurrently end with each event stored once', async () => {
    const d = device()
    const events = [d.launch({ utm_source: 'race' }), d.view(), d.view(), d.view()]
    const replies = await Promise.all(Array.from({ length: 4 }, () => ingest('o-race', events)))
    for (const reply of replies) expect(reply.accepted).toEqual(events.map((e) => e.id))
    // Exactly one call stored them; the three others found them all stored.
    expect(replies.map((r) => r.duplicates).reduce((a, b) => a + b, 0)).toBe(3 * events.length)
    for (const e of events) expect(t.cloud.store.count('events', { _id: e.id })).toBe(1)
    expect(find('events', { openid: 'o-race' })).toHaveLength(events.length)
    expect(find('user_days', { openid: 'o-race' })).toHaveLength(1)
    expect(find('identities', { openid: 'o-race' })).toHaveLength(1)
    expect(find('users', { _id: 'o-race' })).toHaveLength(1)
    expect(user('o-race')?.firstTouch).toMatchObject({ utm_source: 'race' })
  })
})

describe('per-event rejection: the bad event is refused with a reason, the others are stored', () => {
  const d = device()
  const now = () => Date.now()
  test.each<[string, () => unknown, RegExp]>([
    ['an unknown event name', () => d.event('app_crash', {}), /unknown event "app_crash"/],
    ['a property of the wrong type', () => d.event('element_tap', { element: 42 }), /^props\.element: /],
    ['a missing required property', () => d.event('content_open', { guideId: 'sleep-better' }), /^props\.category: /],
    ['an extra property', () => d.event('page_view', { referrer: 'pages/home/index', price: 3 }), /^props: .*price/],
    ['a forged openid field', () => ({ ...d.view(), openid: 'o-someone-else' }), /openid/],
    ['an id that is a UUIDv4', () => d.view({ id: '3b241101-e2bb-4255-8caf-4136c566a962' }), /^id: id must be a UUIDv7$/],
    ['an id that is not a UUID', () => d.view({ id: 'evt-1' }), /^id: id must be a UUIDv7$/],
    ['a ts 11 minutes in the future', () => d.view({ ts: now() + 11 * MIN }), /more than 10 minutes in the future/],
    ['a ts 31 days old', () => d.view({ ts: now() - 31 * DAY }), /more than 30 days in the past/],
    ['a ts that is not an integer', () => d.view({ ts: now() + 0.5 }), /^ts: /],
    // {"message":"…","stack":"…"} is 25 bytes plus the two strings: this is 2049.
    ['props of 2049 bytes', () => d.event('js_error', { message: 'm'.repeat(24), stack: 's'.repeat(2000) }), /props are larger than 2048 bytes/],
    [
      // 800 characters, but 2400 bytes of UTF-8: the limit is on bytes.
      'props over 2048 bytes (UTF-8)',
      () => d.event('js_error', { message: '错'.repeat(400), stack: '误'.repeat(400) }),
      /props are larger than 2048 bytes/,
    ],
  ])('%s', async (_what, makeBad, reason) => {
    const bad = makeBad() as Ev
    const good = d.view()
    const result = await ingest('o-reject', [bad, good])
    expect(result.accepted).toEqual([good.id])
    expect(result.rejected).toEqual([{ id: typeof bad.id === 'string' ? bad.id : null, index: 0, reason: expect.stringMatching(reason) }])
    expect(one('events', good.id)).toBeDefined()
    if (typeof bad.id === 'string') expect(one('events', bad.id)).toBeUndefined()
  })

  test.each<[string, () => Ev]>([
    ['a ts 9 minutes in the future', () => d.view({ ts: Date.now() + 9 * MIN })],
    ['a ts 29 days old', () => d.view({ ts: Date.now() - 29 * DAY })],
    ['props of exactly 2048 bytes', () => d.event('js_error', { message: 'm'.repeat(23), stack: 's'.repeat(2000) })],
    ['props of exactly 2048 bytes of UTF-8', () => d.event('js_error', { message: 'm', stack: '误'.repeat(674) })],
  ])('accepts %s', async (_what, make) => {
    const e = make()
    const result = await ingest('o-reject', [e])
    expect(result).toEqual({ accepted: [e.id], rejected: [], duplicates: 0 })
  })

  test('a duplicate id inside the batch: the first is stored, the repeat refused', async () => {
    const a = d.view()
    const b = d.view()
    const repeat = { ...a, ts: a.ts + 5 }
    const result = await ingest('o-reject', [a, repeat, b])
    expect(result.accepted).toEqual([a.id, b.id])
    expect(result.rejected).toEqual([{ id: a.id, index: 1, reason: 'duplicate id in this batch' }])
    expect(t.cloud.store.count('events', { _id: a.id })).toBe(1)
    expect((one('events', a.id)?.ts as Date).getTime()).toBe(a.ts)
  })

  test('more than 50 events: the first 50 are handled, the rest refused with the batch-size reason', async () => {
    const events = Array.from({ length: 53 }, () => d.view())
    const result = await ingest('o-big', events)
    expect(result.accepted).toEqual(events.slice(0, 50).map((e) => e.id))
    expect(result.rejected).toEqual(
      [50, 51, 52].map((index) => ({ id: null, index, reason: expect.stringMatching(/^batch larger than 50 events/) })),
    )
    expect(find('events', { openid: 'o-big' })).toHaveLength(50)
    expect(one('events', events[50]!.id)).toBeUndefined()
  })

  test('items that are not objects are refused one by one', async () => {
    const good = d.view()
    const result = await ingest('o-reject', [42, null, 'page_view', [good], good])
    expect(result.accepted).toEqual([good.id])
    expect(result.rejected.map((r) => [r.index, r.id])).toEqual([
      [0, null],
      [1, null],
      [2, null],
      [3, null],
    ])
    for (const r of result.rejected) expect(r.reason).toMatch(/expected object/)
  })

  test('a batch with nothing valid writes nothing', async () => {
    const reply = await callGateway<{ result: { ok: true; data: Ingest } }>(
      t.url,
      'track',
      { action: 'ingest', data: { events: [d.event('nope', {})] } },
      { openid: 'o-nothing' },
    )
    expect(reply.body.result.data).toMatchObject({ accepted: [], duplicates: 0 })
    expect(reply.headers.get('x-db-roundtrips')).toBe('0')
  })

  test('an empty batch or more than 500 events is invalid input', async () => {
    expect(await callAction(t.url, 'track', 'ingest', { events: [] }, 'o-reject')).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    const many = Array.from({ length: 501 }, () => 0)
    expect(await callAction(t.url, 'track', 'ingest', { events: many }, 'o-reject')).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })
})

describe('round trips', () => {
  test('a steady-state batch (same user, day and device, no launch, warm instance) costs one insert', async () => {
    const d = device()
    // Sequential calls go to the same (first free) worker: the second batch finds it warm.
    const first = await ingestCounted('o-steady', [d.view(), d.view()])
    expect(first.ops).toBe('insertDocument=3') // events, user_days, identities
    const second = await ingestCounted('o-steady', [d.view(), d.event('element_tap', { element: 'home.card' })])
    expect(second.ops).toBe('insertDocument=1')
    expect(second.roundTrips).toBe(1)
    const third = await ingestCounted('o-steady', [d.view()])
    expect(third.roundTrips).toBe(1)
  })

  test('a first batch with an app_launch from a user who never logged in', async () => {
    const d = device()
    const reply = await ingestCounted('o-first', [d.launch({ scene: 1047, utm_source: 'poster' }), d.view()])
    // events, user_days, identities inserts; the first-touch update (matches nothing), the user
    // lookup (none), the user insert.
    expect(reply.ops).toBe('insertDocument=4,modifyDocument=1,getDocument=1')
    expect(reply.roundTrips).toBe(6)
  })

  test('a first batch with an app_launch from a logged-in user', async () => {
    await callAction(t.url, 'user', 'login', {}, 'o-logged')
    const d = device()
    const reply = await ingestCounted('o-logged', [d.launch({ utm_source: 'poster' })])
    // events, user_days, identities inserts and the first-touch update.
    expect(reply.ops).toBe('insertDocument=3,modifyDocument=1')
  })

  test('a launch carrying a channel code and a sharer adds their lookups', async () => {
    t.cloud.store.insert('channel_codes', [
      { _id: 'RtCode01', channel: 'poster', campaign: 'rt', page: 'pages/home/index', note: '', createdBy: 'o-admin', createdAt: new Date(), qrFileId: '' },
    ])
    const sharer = device()
    await ingest('o-rt-sharer', [sharer.view()])
    await callAction(t.url, 'user', 'login', {}, 'o-rt-coded')
    const coded = await ingestCounted('o-rt-coded', [device().launch({ code: 'RtCode01' })])
    expect(coded.ops).toBe('insertDocument=3,getDocument=1,modifyDocument=1')
    await callAction(t.url, 'user', 'login', {}, 'o-rt-shared')
    const shared = await ingestCounted('o-rt-shared', [device().launch({ sharer: sharer.anonymousId })])
    // the sharer's identity, the inviter's first touch (for the depth)
    expect(shared.ops).toBe('insertDocument=3,getDocument=2,modifyDocument=1')
  })

  test('a returning user launching on a cold instance pays for what the instance does not remember', async () => {
    const d = device()
    await ingest('o-cold', [d.launch({ utm_source: 'a' })])
    await fetch(`${t.url}/_/recycle/track`, { method: 'POST' })
    const cold = await ingestCounted('o-cold', [d.launch({ utm_source: 'b' }, { sessionId: uuidv7() })])
    // events insert; user_days and identities: insert (duplicate) + lookup each; first touch:
    // update (matches nothing) + lookup (set already).
    expect(cold.ops).toBe('insertDocument=3,getDocument=3,modifyDocument=1')
    expect(cold.data.duplicates).toBe(0)
  })

  test('a later launch of the same user on a warm instance costs no first-touch work', async () => {
    const d = device()
    await ingest('o-relaunch', [d.launch({ utm_source: 'a' })])
    const again = await ingestCounted('o-relaunch', [d.launch({ utm_source: 'b' }, { sessionId: uuidv7() })])
    expect(again.ops).toBe('insertDocument=1')
  })
})

describe('user_days and identities', () => {
  test('one user_days document per user and active day, _id <openid>:<day>', async () => {
    const d = device()
    const yesterday = Date.now() - DAY
    await ingest('o-days', [d.view({ ts: yesterday }), d.view()])
    await ingest('o-days', [d.view(), d.view({ ts: yesterday - 1000 })])
    const days = [shanghaiDayOf(yesterday), shanghaiDayOf(Date.now())].sort()
    const docs = find('user_days', { openid: 'o-days' }).sort((a, b) => String(a._id).localeCompare(String(b._id)))
    expect(docs.map((doc) => ({ _id: doc._id, openid: doc.openid, day: doc.day }))).toEqual(
      days.map((day) => ({ _id: `o-days:${day}`, openid: 'o-days', day })),
    )
    for (const doc of docs) expect(doc.at).toBeInstanceOf(Date)
  })

  test('a cold instance records the active day again: what is recorded is remembered per instance only', async () => {
    const d = device()
    await ingest('o-days-cold', [d.view()])
    t.cloud.store.remove('user_days', { openid: 'o-days-cold' }, true)
    await fetch(`${t.url}/_/recycle/track`, { method: 'POST' })
    await ingest('o-days-cold', [d.view()])
    expect(find('user_days', { openid: 'o-days-cold' })).toHaveLength(1)
  })

  test('each anonymous id is mapped to the caller', async () => {
    const phone = device()
    const pad = device()
    await ingest('o-ident', [phone.view(), pad.view()])
    await ingest('o-ident', [phone.view()])
    const docs = find('identities', { openid: 'o-ident' })
    expect(docs.map((doc) => doc._id).sort()).toEqual([phone.anonymousId, pad.anonymousId].sort())
    for (const doc of docs) expect(doc).toEqual({ _id: doc._id, openid: 'o-ident', firstSeenAt: expect.any(Date) })
  })
})

describe('first touch', () => {
  test('a launch with scene, utm and code sets firstTouch once; later launches do not change it', async () => {
    await callAction(t.url, 'user', 'login', {}, 'o-touch')
    const d = device()
    const launch = d.launch({ scene: 1007, utm_source: 'wechat-group', utm_medium: 'chat', utm_campaign: 'spring', code: 'Flyer123' })
    await ingest('o-touch', [launch])
    const expected = {
      scene: 1007,
      code: 'Flyer123',
      utm_source: 'wechat-group',
      utm_medium: 'chat',
      utm_campaign: 'spring',
      at: new Date(launch.ts),
      day: shanghaiDayOf(launch.ts),
    }
    expect(user('o-touch')?.firstTouch).toEqual(expected)

    // Same instance (it remembers), then a fresh one (the database refuses to overwrite).
    await ingest('o-touch', [d.launch({ scene: 1047, utm_source: 'other' }, { sessionId: uuidv7() })])
    expect(user('o-touch')?.firstTouch).toEqual(expected)
    await fetch(`${t.url}/_/recycle/track`, { method: 'POST' })
    await ingest('o-touch', [d.launch({ scene: 1011, utm_campaign: 'autumn', code: 'ZZZZ9999' }, { sessionId: uuidv7() })])
    expect(user('o-touch')?.firstTouch).toEqual(expected)
  })

  test('a channel code is resolved to channel, campaign and inviter', async () => {
    t.cloud.store.insert('channel_codes', [
      { _id: 'Poster01', channel: 'poster', campaign: 'store-opening', inviter: 'o-promoter', page: 'pages/home/index', note: '', createdBy: 'o-admin', createdAt: new Date(), qrFileId: '' },
    ])
    await callAction(t.url, 'user', 'login', {}, 'o-coded')
    const launch = device().launch({ scene: 1047, code: 'Poster01' })
    await ingest('o-coded', [launch])
    expect(user('o-coded')?.firstTouch).toEqual({
      scene: 1047,
      code: 'Poster01',
      channel: 'poster',
      campaign: 'store-opening',
      inviter: 'o-promoter',
      at: new Date(launch.ts),
      day: shanghaiDayOf(launch.ts),
    })
  })

  test('an unknown code is kept as sent, with no channel; a code does not make its own inviter an invitee', async () => {
    await ingest('o-unknown-code', [device().launch({ code: 'NoSuch99' })])
    const touch = user('o-unknown-code')?.firstTouch as Doc
    expect(touch).toMatchObject({ code: 'NoSuch99' })
    expect(touch).not.toHaveProperty('channel')
    expect(touch).not.toHaveProperty('inviter')

    await ingest('o-promoter', [device().launch({ code: 'Poster01' })])
    const own = user('o-promoter')?.firstTouch as Doc
    expect(own).toMatchObject({ channel: 'poster', campaign: 'store-opening' })
    expect(own).not.toHaveProperty('inviter')
  })

  test('a share chain A -> B -> C credits each sharer with depth 1, then 2', async () => {
    const a = device()
    const b = device()
    const c = device()
    await ingest('o-chain-a', [a.launch({ scene: 1001 })])
    await ingest('o-chain-b', [b.launch({ scene: 1007, sharer: a.anonymousId })])
    await ingest('o-chain-c', [c.launch({ scene: 1007, sharer: b.anonymousId })])
    expect(user('o-chain-a')?.firstTouch).not.toHaveProperty('inviter')
    expect(user('o-chain-b')?.firstTouch).toMatchObject({ sharer: a.anonymousId, inviter: 'o-chain-a', depth: 1 })
    expect(user('o-chain-c')?.firstTouch).toMatchObject({ sharer: b.anonymousId, inviter: 'o-chain-b', depth: 2 })
  })

  test('opening a share of oneself, or of an unknown device, credits nobody', async () => {
    const self = device()
    await ingest('o-self', [self.view()])
    await fetch(`${t.url}/_/recycle/track`, { method: 'POST' })
    await ingest('o-self', [self.launch({ scene: 1007, sharer: self.anonymousId }, { sessionId: uuidv7() })])
    const own = user('o-self')?.firstTouch as Doc
    expect(own).toMatchObject({ sharer: self.anonymousId })
    expect(own).not.toHaveProperty('inviter')
    expect(own).not.toHaveProperty('depth')

    await ingest('o-stranger', [device().launch({ scene: 1007, sharer: uuidv7() })])
    expect(user('o-stranger')?.firstTouch).not.toHaveProperty('inviter')
  })

  test('a user who never logged in is created by track, first seen on the day of the earliest event', async () => {
    const d = device()
    const earlier = Date.now() - 3 * DAY
    const launch = d.launch({ scene: 1001 })
    await ingest('o-anon', [launch, d.view({ ts: earlier })])
    expect(user('o-anon')).toEqual({
      _id: 'o-anon',
      openid: 'o-anon',
      appid: t.cloud.appid,
      nickname: '',
      avatarUrl: '',
      firstSeenAt: new Date(earlier),
      firstSeenDay: shanghaiDayOf(earlier),
      lastSeenAt: new Date(earlier),
      lastSeenDay: shanghaiDayOf(earlier),
      updatedAt: new Date(earlier),
      firstTouch: { scene: 1001, at: new Date(launch.ts), day: shanghaiDayOf(launch.ts) },
    })
    // A later login finds the user (not new) and keeps the first-seen day.
    const login = await callAction<{ isNew: boolean; user: { firstSeenDay: string } }>(t.url, 'user', 'login', {}, 'o-anon')
    expect(login).toMatchObject({ ok: true, data: { isNew: false, user: { firstSeenDay: shanghaiDayOf(earlier) } } })
  })

  test('a login racing the first launch never loses the first touch', async () => {
    // Each pair runs alone, the login started a little later each time, so that for some pairs
    // it creates the user between track's lookup and track's insert.
    const openids: string[] = []
    for (let i = 0; i < 60; i++) {
      const openid = `o-race-login-${i}`
      openids.push(openid)
      const launched = ingest(openid, [device().launch({ utm_source: 'race' })])
      await new Promise((resolve) => setTimeout(resolve, i % 15))
      await Promise.all([launched, callAction(t.url, 'user', 'login', {}, openid)])
    }
    const lost = openids.filter((openid) => !(user(openid)?.firstTouch as Doc | undefined)?.utm_source)
    expect(lost).toEqual([])
  })
})

test('a call without an OPENID is UNAUTHENTICATED and writes nothing', async () => {
  const counts = () => ['events', 'user_days', 'identities', 'users'].map((c) => t.cloud.store.count(c, {}))
  const before = counts()
  const d = device()
  const reply = await callGateway<{ result: unknown }>(t.url, 'track', { action: 'ingest', data: { events: [d.launch(), d.view()] } })
  expect(reply.body.result).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } })
  expect(reply.headers.get('x-db-roundtrips')).toBe('0')
  expect(counts()).toEqual(before)
})

describe('on a device clock set to 2026-01-02', () => {
  // The function's clock is moved with a preloaded module (NODE_OPTIONS from config.json), so an
  // event of 2026-01-01 is within its 30-day window whatever today's date is.
  const TMP = path.resolve(__dirname, '../.tmp')
  let dir: string
  let clocked: TestCloud

  beforeAll(async () => {
    // One recursive mkdir: it recreates test/.tmp should another test file remove it meanwhile.
    dir = path.join(TMP, `track-clock-${process.pid}-${Date.now().toString(36)}`)
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      path.join(dir, 'clock.js'),
      'const offset = Date.parse(process.env.TEST_CLOCK_AT) - Date.now()\nconst realNow = Date.now\nDate.now = () => realNow() + offset\n',
    )
    const src = path.resolve(__dirname, '../../cloudfunctions/track')
    mkdirSync(path.join(dir, 'track'))
    copyFileSync(path.join(src, 'index.js'), path.join(dir, 'track/index.js'))
    copyFileSync(path.join(src, 'package.json'), path.join(dir, 'track/package.json'))
    const config = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')) as { envVariables?: Record<string, string> }
    config.envVariables = { ...config.envVariables, TEST_CLOCK_AT: '2026-01-02T08:00:00Z', NODE_OPTIONS: `--require ${path.join(dir, 'clock.js')}` }
    writeFileSync(path.join(dir, 'track/config.json'), JSON.stringify(config))
    clocked = await startCloud({ functionsDir: dir })
  })
  afterAll(async () => {
    await clocked?.stop()
    rmSync(dir, { recursive: true, force: true })
    try {
      rmdirSync(TMP)
    } catch {
      // another test file still uses it
    }
  })

  test('an event at 2026-01-01T16:30Z is stored on day 2026-01-02', async () => {
    const d = device()
    const e = d.view({ ts: Date.parse('2026-01-01T16:30:00Z') })
    const before = d.view({ ts: Date.parse('2026-01-01T15:59:59.999Z') })
    const reply = await callAction<Ingest>(clocked.url, 'track', 'ingest', { events: [e, before] }, 'o-newyear')
    expect(reply).toEqual({ ok: true, data: { accepted: [e.id, before.id], rejected: [], duplicates: 0 } })
    const stored = (id: string) => clocked.cloud.store.find('events', { query: { _id: id } })[0]
    expect(stored(e.id)).toMatchObject({ day: '2026-01-02', ts: new Date('2026-01-01T16:30:00Z') })
    expect(stored(before.id)).toMatchObject({ day: '2026-01-01' })
    expect(clocked.cloud.store.find('user_days', { query: { openid: 'o-newyear' } }).map((u) => u._id).sort()).toEqual([
      'o-newyear:2026-01-01',
      'o-newyear:2026-01-02',
    ])
  })
})
