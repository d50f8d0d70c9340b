/**
 * The tracker on the device (miniprogram/core/tracker.ts): consent, the event envelope, batching,
 * persistence across a kill, retries with backoff, lost responses, rejected events, the queue cap,
 * a corrupted queue, and a loss-and-duplication run. Modules are loaded fresh per device against a
 * fake `wx` (its storage survives a "kill" when passed again); every event goes through the real
 * cloud client to the real `track` function in a real local cloud, sometimes through a proxy that
 * fails calls or loses their replies.
 */
import { type TrackedEvent, UUID_V7 } from '../../cloudfunctions/track/plan'
import { type CloudProcess, startCloudProcess } from './harness/cloud'
import { deadUrl } from './harness/net'
import { prng } from '../helpers/prng'
import { type Fate, type Proxy, sleep, startProxy, storedEvents, trackBatches as batches, until } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

type TrackerModule = typeof import('../../miniprogram/core/tracker')
type CloudModule = typeof import('../../miniprogram/core/cloud')
type Options = Partial<import('../../miniprogram/core/tracker').TrackerOptions>

interface Device {
  fake: FakeWx
  tracker: TrackerModule
  cloud: CloudModule
}

const QUEUE_KEY = 'tracker:queue'

let cloud: CloudProcess
const devices: Device[] = []
const closers: (() => Promise<void>)[] = []

beforeAll(async () => {
  cloud = await startCloudProcess()
}, 90_000)
afterEach(async () => {
  jest.restoreAllMocks()
  for (const d of devices.splice(0)) d.tracker.stopTracker()
  await Promise.all(closers.splice(0).map((close) => close()))
})
afterAll(() => cloud?.stop())

/** A device launching: fresh modules bound to `fake` (pass the same one again to relaunch after a kill). */
function boot(url: string, options: Options = {}, fake: FakeWx = createWx()): Device {
  jest.resetModules()
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const client = require('../../miniprogram/core/cloud') as CloudModule
  client.configureCloud({ mode: 'local', localCloudUrl: url, retryBaseMs: 1, timeoutMs: 30_000 })
  const tracker = require('../../miniprogram/core/tracker') as TrackerModule
  tracker.initTracker({ flushIntervalMs: 60_000, ...options })
  const device = { fake, tracker, cloud: client }
  devices.push(device)
  return device
}

/** A device whose user has agreed to the privacy terms (its first_launch is queued). */
function consented(url: string, options: Options = {}, fake?: FakeWx): Device {
  const device = boot(url, options, fake)
  device.tracker.setConsent(true)
  return device
}

/** The cloud's `events` of one device. */
const stored = (anonymousId: string) => storedEvents(cloud.url, { anonymousId })

/** A proxy in front of the local cloud, closed after the test. */
async function proxy(target: string, decide: (path: string, body: any) => Fate): Promise<Proxy> {
  const p = await startProxy(target, decide)
  closers.push(p.close)
  return p
}

const ids = (events: readonly { id: string }[]) => events.map((e) => e.id)
const sorted = (values: string[]) => [...values].sort()

const trackHits = (p: Proxy) => p.hits.filter((h) => h.path === '/functions/track')

/** Counts the queue's writes to storage from now on. */
function countWrites(fake: FakeWx): () => number {
  let n = 0
  const set = fake.wx.setStorageSync as (key: string, value: unknown) => void
  fake.wx.setStorageSync = (key: string, value: unknown) => {
    if (key === QUEUE_KEY) n++
    return set(key, value)
  }
  return () => n
}

// ---- consent ---------------------------------------------------------------------------------------

describe('consent', () => {
  test('nothing is collected before consent: no anonymous id, no queue, no request', async () => {
    const { tracker, fake } = boot(cloud.url, { flushAt: 1, flushIntervalMs: 20 })
    tracker.track('page_view', {})
    tracker.track('element_tap', { element: 'home_card' })
    await tracker.flush()
    await sleep(80)
    expect(tracker.hasConsent()).toBe(false)
    expect(tracker.anonymousId()).toBe('')
    expect(tracker.pending()).toEqual([])
    expect(fake.storage.has('tracker:anon')).toBe(false)
    expect(fake.storage.get(QUEUE_KEY) ?? []).toEqual([])
    expect(fake.log.requests).toEqual([])
  })

  test('consent creates the anonymous id (a UUIDv7) and one first_launch, which reaches the cloud; events from before consent never do', async () => {
    const { tracker, fake } = boot(cloud.url)
    tracker.track('page_view', {})
    tracker.setConsent(true)
    const anon = tracker.anonymousId()
    expect(anon).toMatch(UUID_V7)
    expect(fake.storage.get('tracker:anon')).toBe(anon)
    expect(tracker.pending().map((e) => e.name)).toEqual(['first_launch'])
    tracker.setConsent(true) // the same answer again changes nothing
    expect(tracker.pending()).toHaveLength(1)
    await tracker.flush()
    expect(tracker.pending()).toEqual([])
    const events = await stored(anon)
    expect(events.map((e) => e.name)).toEqual(['first_launch'])
    expect(batches(fake)).toHaveLength(1)
  })

  test('first_launch is only for a new device: not on a relaunch, not when consent is given again after a revoke', async () => {
    const first = consented(cloud.url)
    const anon = first.tracker.anonymousId()
    await first.tracker.flush()
    first.tracker.stopTracker()

    const again = boot(cloud.url, {}, first.fake)
    expect(again.tracker.hasConsent()).toBe(true)
    expect(again.tracker.anonymousId()).toBe(anon)
    expect(again.tracker.pending()).toEqual([])
    again.tracker.setConsent(false)
    again.tracker.setConsent(true)
    expect(again.tracker.anonymousId()).toBe(anon)
    again.tracker.track('page_view', {})
    expect(again.tracker.pending().map((e) => e.name)).toEqual(['page_view'])
    await again.tracker.flush()
    expect((await stored(anon)).map((e) => e.name).sort()).toEqual(['first_launch', 'page_view'])
  })

  test('revoking consent drops the unsent queue (memory and storage) and stops sending, retries included', async () => {
    const dead = await deadUrl()
    const { tracker, fake, cloud: client } = consented(dead, { flushAt: 3, flushIntervalMs: 30, retryBaseMs: 20, retryMaxMs: 40 })
    const anon = tracker.anonymousId()
    tracker.track('page_view', {})
    tracker.track('page_view', {}) // the third event: a flush, which fails and schedules a retry
    await until(() => batches(fake).length >= 1, 'the first attempt')
    tracker.setConsent(false)
    expect(tracker.hasConsent()).toBe(false)
    expect(tracker.pending()).toEqual([])
    expect(fake.storage.get(QUEUE_KEY)).toEqual([])
    client.configureCloud({ localCloudUrl: cloud.url })
    const sent = batches(fake).length
    tracker.track('page_view', {})
    await tracker.flush()
    await sleep(150)
    expect(batches(fake)).toHaveLength(sent)
    expect(tracker.pending()).toEqual([])
    expect(await stored(anon)).toEqual([])
  })

  test('without consent the anonymous id is not handed out, even after it existed', async () => {
    const { tracker } = consented(cloud.url)
    expect(tracker.anonymousId()).toMatch(UUID_V7)
    tracker.setConsent(false)
    expect(tracker.anonymousId()).toBe('')
  })
})

// ---- the envelope ----------------------------------------------------------------------------------

test('every event has a UUIDv7 id, ts, the anonymous id, the session id and the current page, and is stored as sent', async () => {
  const before = Date.now()
  const { tracker } = consented(cloud.url)
  const anon = tracker.anonymousId()
  const firstSession = tracker.sessionId()
  expect(firstSession).toMatch(UUID_V7)
  tracker.setPage('pages/home/index')
  tracker.track('page_view', {})
  tracker.track('element_tap', { element: 'home_card' })
  const secondSession = tracker.newSession()
  expect(secondSession).toMatch(UUID_V7)
  expect(secondSession).not.toBe(firstSession)
  expect(tracker.sessionId()).toBe(secondSession)
  tracker.setPage('packages/guide/detail/index')
  tracker.track('content_open', { guideId: 'fold-shirt', category: 'home' })
  const after = Date.now()

  const events = [...tracker.pending()]
  expect(events.map((e) => [e.name, e.sessionId, e.page])).toEqual([
    ['first_launch', firstSession, ''],
    ['page_view', firstSession, 'pages/home/index'],
    ['element_tap', firstSession, 'pages/home/index'],
    ['content_open', secondSession, 'packages/guide/detail/index'],
  ])
  for (const e of events) {
    expect(e.id).toMatch(UUID_V7)
    expect(e.anonymousId).toBe(anon)
    expect(e.ts).toBeGreaterThanOrEqual(before)
    expect(e.ts).toBeLessThanOrEqual(after)
    // The id's first 48 bits are its own time: ids sort as events happened.
    expect(parseInt(e.id.replace(/-/g, '').slice(0, 12), 16)).toBeGreaterThanOrEqual(before)
  }
  expect(new Set(ids(events)).size).toBe(events.length)

  await tracker.flush()
  const docs = await stored(anon)
  expect(sorted(docs.map((d) => d._id))).toEqual(sorted(ids(events)))
  for (const e of events) {
    const doc = docs.find((d) => d._id === e.id)!
    expect(doc).toMatchObject({ name: e.name, anonymousId: anon, sessionId: e.sessionId, page: e.page, props: e.props })
  }
})

// ---- batching --------------------------------------------------------------------------------------

describe('batching', () => {
  test('a flush happens at flushAt events, with all of them', async () => {
    const { tracker, fake } = consented(cloud.url, { flushAt: 5 })
    for (let i = 0; i < 3; i++) tracker.track('element_tap', { element: `e${i}` })
    await sleep(50)
    expect(batches(fake)).toHaveLength(0)
    tracker.track('element_tap', { element: 'e3' }) // the fifth event, with first_launch
    await until(() => tracker.pending().length === 0, 'the batch to be acknowledged')
    expect(batches(fake).map((b) => b.length)).toEqual([5])
    expect(await stored(tracker.anonymousId())).toHaveLength(5)
  })

  test('a flush happens flushIntervalMs after the first unsent event', async () => {
    const { tracker, fake } = consented(cloud.url, { flushAt: 100, flushIntervalMs: 250 })
    const started = Date.now()
    tracker.track('page_view', {})
    tracker.track('page_view', {})
    await until(() => batches(fake).length === 1, 'the timed flush')
    // Sent when the interval was up, not before (flushAt is far off: nothing but the timer sends it).
    const sent = fake.log.requests.filter((r) => r.url.endsWith('/functions/track'))
    expect(sent[0]!.at - started).toBeGreaterThanOrEqual(240)
    expect(batches(fake)[0]).toHaveLength(3)
    await until(() => tracker.pending().length === 0, 'the acknowledgement')
  })

  test('flush() (the app hiding) sends at once, whatever the thresholds', async () => {
    const { tracker, fake } = consented(cloud.url, { flushAt: 100 })
    tracker.track('page_view', {})
    tracker.track('app_hide', { durationMs: 1234 })
    await tracker.flush()
    expect(batches(fake).map((b) => b.map((e) => e.name))).toEqual([['first_launch', 'page_view', 'app_hide']])
    expect(tracker.pending()).toEqual([])
  })

  test('a batch holds at most maxBatch events, and a larger queue drains in several calls without waiting for the timer', async () => {
    const { tracker, fake } = consented(cloud.url, { flushAt: 1000, maxBatch: 10 })
    for (let i = 0; i < 24; i++) tracker.track('element_tap', { element: `e${i}` })
    const all = ids(tracker.pending())
    await tracker.flush()
    await until(() => tracker.pending().length === 0, 'the queue to drain')
    expect(batches(fake).map((b) => b.length)).toEqual([10, 10, 5])
    // Oldest first, each event in one batch only.
    expect(batches(fake).flat().map((e) => e.id)).toEqual(all)
    expect(sorted((await stored(tracker.anonymousId())).map((d) => d._id))).toEqual(sorted(all))
  })

  test('a maxBatch above what `track` takes (50) loses nothing: batches stay within 50', async () => {
    const { tracker, fake } = consented(cloud.url, { flushAt: 1000, maxBatch: 80 })
    for (let i = 0; i < 59; i++) tracker.track('element_tap', { element: `e${i}` })
    const all = ids(tracker.pending())
    await tracker.flush()
    await until(() => tracker.pending().length === 0, 'the queue to drain')
    expect(Math.max(...batches(fake).map((b) => b.length))).toBeLessThanOrEqual(50)
    expect(sorted((await stored(tracker.anonymousId())).map((d) => d._id))).toEqual(sorted(all))
  })

  test('an event tracked just before a flush (the monitor adds its summary there) does not make the batch go out twice', async () => {
    const { tracker, fake } = consented(cloud.url, { flushAt: 3 })
    let summaries = 0
    tracker.onBeforeFlush(() => {
      if (summaries++ === 0) tracker.track('cloud_calls', { calls: 1, failed: 0, slow: 0, totalMs: 12 })
    })
    tracker.track('page_view', {}) // 2 queued: the summary makes 3, which is flushAt
    await tracker.flush()
    await until(() => tracker.pending().length === 0, 'the acknowledgement')
    await sleep(50)
    const sent = batches(fake).flat().map((e) => e.id)
    expect(sent).toHaveLength(3)
    expect(new Set(sent).size).toBe(3)
    expect(batches(fake)).toHaveLength(1)
  })
})

// ---- a kill -------------------------------------------------------------------------------------------

describe('persistence across a kill', () => {
  test('events tracked before a kill are sent by the next launch: none lost, none sent twice', async () => {
    const first = consented(cloud.url, { flushAt: 100 })
    const anon = first.tracker.anonymousId()
    for (let i = 0; i < 7; i++) first.tracker.track('element_tap', { element: `e${i}` })
    const tracked = ids(first.tracker.pending())
    // Coalesced: nothing written yet within the flush window...
    expect(first.fake.storage.get(QUEUE_KEY) ?? []).toEqual([])
    // ...until the app hides (WeChat kills only after onHide): then all of it, in one write.
    const writes = countWrites(first.fake)
    first.tracker.persist()
    expect(writes()).toBe(1)
    expect(ids(first.fake.storage.get(QUEUE_KEY) as TrackedEvent[])).toEqual(tracked)
    first.tracker.stopTracker() // killed after the hide: nothing was sent

    const second = boot(cloud.url, { flushAt: 100 }, first.fake)
    expect(ids(second.tracker.pending())).toEqual(tracked)
    await second.tracker.flush()
    expect(second.tracker.pending()).toEqual([])
    expect(second.fake.storage.get(QUEUE_KEY)).toEqual([])
    const docs = await stored(anon)
    expect(sorted(docs.map((d) => d._id))).toEqual(sorted(tracked))
    expect(batches(second.fake).flat().map((e) => e.id)).toEqual(tracked)

    // A third launch has nothing left to send.
    second.tracker.stopTracker()
    const third = boot(cloud.url, { flushAt: 100 }, first.fake)
    expect(third.tracker.pending()).toEqual([])
  })

  test('the queue is written once per flush window: with the send\'s reply, or when a failed send leaves it unsaved', async () => {
    const ok = consented(cloud.url, { flushAt: 100 })
    const writes = countWrites(ok.fake)
    for (let i = 0; i < 7; i++) ok.tracker.track('element_tap', { element: `e${i}` })
    await ok.tracker.flush()
    expect(writes()).toBe(1) // 8 events (first_launch too), one write: the reply's
    expect(ok.fake.storage.get(QUEUE_KEY)).toEqual([])

    const down = consented(await deadUrl(), { flushAt: 100, retryBaseMs: 60_000 })
    const downWrites = countWrites(down.fake)
    for (let i = 0; i < 7; i++) down.tracker.track('element_tap', { element: `e${i}` })
    await down.tracker.flush()
    expect(downWrites()).toBe(1) // the send failed: the queue is saved at once, not at the retry
    expect(ids(down.fake.storage.get(QUEUE_KEY) as TrackedEvent[])).toEqual(ids(down.tracker.pending()))
    down.tracker.persist()
    expect(downWrites()).toBe(1) // nothing unsaved: no write
  })

  test('killed while a batch is on its way: the next launch resends it, the cloud stores it once, and the dead instance writes nothing after its death', async () => {
    const p = await proxy(cloud.url, () => 'hold')
    const first = consented(p.url, { flushAt: 100 })
    const anon = first.tracker.anonymousId()
    for (let i = 0; i < 4; i++) first.tracker.track('element_tap', { element: `e${i}` })
    const tracked = ids(first.tracker.pending())
    // The app hides (app-tracking's onHide: the queue written through, then sent).
    first.tracker.persist()
    void first.tracker.flush()
    await until(() => trackHits(p).length === 1 && trackHits(p)[0]!.reply !== undefined, 'the cloud to store the held batch')
    first.tracker.stopTracker() // killed with the reply still on its way

    const second = boot(cloud.url, { flushAt: 100 }, first.fake)
    expect(ids(second.tracker.pending())).toEqual(tracked)
    second.tracker.track('element_tap', { element: 'after_restart' })
    second.tracker.persist()
    const newer = second.tracker.pending().at(-1)!.id
    p.release() // the dead instance's reply arrives: it must not touch storage
    await sleep(100)
    expect(ids(first.fake.storage.get(QUEUE_KEY) as TrackedEvent[])).toEqual([...tracked, newer])

    await second.tracker.flush()
    expect(second.tracker.pending()).toEqual([])
    const docs = await stored(anon)
    expect(sorted(docs.map((d) => d._id))).toEqual(sorted([...tracked, newer]))
    // The dead instance sent nothing more after its death.
    expect(trackHits(p)).toHaveLength(1)
  })
})

// ---- retries ---------------------------------------------------------------------------------------

describe('retries', () => {
  /** Delays the tracker asked setTimeout for, other than its flush interval. */
  function retryDelays(spy: jest.SpyInstance, interval: number): number[] {
    return spy.mock.calls.map((c) => c[1] as number).filter((ms) => typeof ms === 'number' && ms !== interval && ms !== 0)
  }

  test('with the cloud unreachable the queue keeps everything and retries with capped exponential backoff; then it delivers, once', async () => {
    const base = 20
    const cap = 200
    const dead = await deadUrl()
    const { tracker, fake, cloud: client } = consented(dead, { flushAt: 1000, flushIntervalMs: 60_000, retryBaseMs: base, retryMaxMs: cap })
    const anon = tracker.anonymousId()
    for (let i = 0; i < 5; i++) tracker.track('element_tap', { element: `e${i}` })
    const tracked = ids(tracker.pending())
    // The upper end of the jitter, so the growth shows; the ids were made before.
    jest.spyOn(Math, 'random').mockReturnValue(0.999)
    const timers = jest.spyOn(globalThis, 'setTimeout')
    await tracker.flush()
    await until(() => batches(fake).length >= 8, 'eight attempts')
    const delays = retryDelays(timers, 60_000).slice(0, 7)
    const bounds = delays.map((_, n) => Math.min(cap, base * 2 ** n))
    expect(delays).toHaveLength(7)
    delays.forEach((d, n) => {
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(bounds[n]!)
      expect(d).toBeGreaterThan(bounds[n]! * 0.99)
    })
    // 20, 40, 80, 160, then capped at 200.
    expect(delays.slice(0, 5).every((d, n) => n === 0 || d > delays[n - 1]!)).toBe(true)
    expect(delays.slice(4)).toEqual(delays.slice(4).map(() => delays[4]))
    expect(ids(tracker.pending())).toEqual(tracked)
    expect(ids(fake.storage.get(QUEUE_KEY) as TrackedEvent[])).toEqual(tracked)
    for (const batch of batches(fake)) expect(ids(batch)).toEqual(tracked)

    jest.mocked(Math.random).mockRestore()
    client.configureCloud({ localCloudUrl: cloud.url })
    await until(() => tracker.pending().length === 0, 'delivery once the cloud is back')
    const docs = await stored(anon)
    expect(sorted(docs.map((d) => d._id))).toEqual(sorted(tracked))
  })

  test('the backoff is random (full jitter), within [0, base·2^(n-1)] and the cap', async () => {
    const base = 8
    const cap = 40
    const { tracker, fake } = consented(await deadUrl(), { flushAt: 1000, retryBaseMs: base, retryMaxMs: cap })
    const timers = jest.spyOn(globalThis, 'setTimeout')
    await tracker.flush()
    await until(() => batches(fake).length >= 16, 'sixteen attempts')
    const delays = retryDelays(timers, 60_000).slice(0, 15)
    delays.forEach((d, n) => {
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(Math.min(cap, base * 2 ** n))
    })
    // Not a fixed schedule: capped attempts wait different times.
    expect(new Set(delays.slice(3)).size).toBeGreaterThan(1)
  })

  test('while backing off, new events do not trigger extra attempts (even past flushAt)', async () => {
    const { tracker, fake } = consented(await deadUrl(), { flushAt: 3, retryBaseMs: 400, retryMaxMs: 400 })
    const timers = jest.spyOn(globalThis, 'setTimeout')
    tracker.track('page_view', {})
    tracker.track('page_view', {}) // flushAt: the first attempt, which fails
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.999) // its retry: in ~400 ms
    await until(() => timers.mock.calls.some(([, ms]) => typeof ms === 'number' && ms > 300 && ms <= 400), 'the retry to be scheduled')
    random.mockRestore()
    expect(batches(fake)).toHaveLength(1)
    for (let i = 0; i < 10; i++) tracker.track('element_tap', { element: `e${i}` })
    await sleep(150)
    expect(batches(fake)).toHaveLength(1)
    expect(tracker.pending()).toHaveLength(13)
  })

  test('a lost response: the events are stored, the device retries, the cloud dedupes, the queue empties, each event is stored once', async () => {
    let n = 0
    const p = await proxy(cloud.url, (path) => (path === '/functions/track' && n++ < 2 ? 'drop' : 'pass'))
    const { tracker } = consented(p.url, { flushAt: 1000, retryBaseMs: 150, retryMaxMs: 300 })
    const anon = tracker.anonymousId()
    for (let i = 0; i < 6; i++) tracker.track('element_tap', { element: `e${i}` })
    const tracked = ids(tracker.pending())
    jest.spyOn(Math, 'random').mockReturnValue(0.999) // retries after ~150 and ~300 ms
    await tracker.flush()
    // The reply was lost, but the cloud has the events already.
    expect(sorted((await stored(anon)).map((d) => d._id))).toEqual(sorted(tracked))
    expect(ids(tracker.pending())).toEqual(tracked)
    await until(() => tracker.pending().length === 0, 'the retries to be acknowledged')
    const hits = trackHits(p)
    expect(hits.map((h) => h.fate)).toEqual(['drop', 'drop', 'pass'])
    for (const hit of hits) expect(ids(hit.body.data.events)).toEqual(tracked)
    // The cloud recognised the resent events as stored already.
    expect(hits[2]!.reply.result.data).toEqual({ accepted: tracked, rejected: [], duplicates: tracked.length })
    const docs = await stored(anon)
    expect(docs).toHaveLength(tracked.length)
    expect(sorted(docs.map((d) => d._id))).toEqual(sorted(tracked))
  })
})

// ---- rejected events ---------------------------------------------------------------------------------

test('events the cloud rejects are removed from the queue, so they do not block it; the rest are accepted', async () => {
  const p = await proxy(cloud.url, () => 'pass')
  const { tracker } = consented(p.url, { flushAt: 1000 })
  const anon = tracker.anonymousId()
  tracker.track('element_tap', { element: 'ok_1' })
  tracker.track('element_tap', { element: 'Not A Valid Name!' } as never)
  tracker.track('no_such_event' as never, {} as never)
  tracker.track('page_view', { referrer: 42 } as never)
  tracker.track('element_tap', { element: 'ok_2' })
  const [first, good1, bad1, bad2, bad3, good2] = ids(tracker.pending())
  await tracker.flush()
  expect(tracker.pending()).toEqual([])
  const result = trackHits(p)[0]!.reply.result.data
  expect(result.accepted).toEqual([first, good1, good2])
  expect(result.rejected.map((r: { id: string }) => r.id)).toEqual([bad1, bad2, bad3])
  expect(sorted((await stored(anon)).map((d) => d._id))).toEqual(sorted([first!, good1!, good2!]))

  tracker.track('page_view', {})
  await tracker.flush()
  expect(tracker.pending()).toEqual([])
  expect(trackHits(p)[1]!.body.data.events).toHaveLength(1)
})

// ---- the queue cap -------------------------------------------------------------------------------------

test('past maxQueue the oldest events are dropped first, and tracker_dropped (queue_full, with the count) is sent later', async () => {
  const { tracker, fake } = consented(cloud.url, { flushAt: 1000, maxQueue: 10 })
  const anon = tracker.anonymousId()
  const generated = ids(tracker.pending()) // first_launch
  for (let i = 0; i < 14; i++) {
    tracker.track('element_tap', { element: `e${i}` })
    generated.push(tracker.pending().at(-1)!.id)
  }
  // 15 tracked, 10 kept: the newest.
  expect(ids(tracker.pending())).toEqual(generated.slice(5))
  tracker.persist() // the app hides: storage holds the capped queue
  expect((fake.storage.get(QUEUE_KEY) as TrackedEvent[]).length).toBe(10)
  await tracker.flush()
  tracker.track('page_view', {})
  await tracker.flush()
  await until(() => tracker.pending().length === 0, 'the queue to empty')

  const docs = await stored(anon)
  const reports = docs.filter((d) => d.name === 'tracker_dropped')
  expect(reports.length).toBeGreaterThan(0)
  for (const r of reports) expect(r.props.reason).toBe('queue_full')
  const kept = docs.filter((d) => generated.includes(d._id)).map((d) => d._id)
  const lost = generated.filter((id) => !kept.includes(id))
  // Whatever was dropped is reported, exactly; the oldest went first.
  expect(reports.reduce((n, r) => n + (r.props.count as number), 0)).toBe(lost.length)
  expect(lost).toEqual(generated.slice(0, lost.length))
  expect(lost.length).toBeGreaterThanOrEqual(5)
  expect(lost).not.toContain(generated.at(-1))
})

// ---- a corrupted queue ----------------------------------------------------------------------------------

describe('a corrupted queue in storage', () => {
  /** A device that agreed earlier, whose stored queue is then replaced by `queue(goodEvents)`. */
  async function withStoredQueue(queue: (good: TrackedEvent[]) => unknown): Promise<{ fake: FakeWx; anon: string; good: TrackedEvent[] }> {
    const before = consented(cloud.url, { flushAt: 1000 })
    await before.tracker.flush() // first_launch
    before.tracker.track('element_tap', { element: 'kept_1' })
    before.tracker.track('element_tap', { element: 'kept_2' })
    const good = [...before.tracker.pending()]
    const anon = before.tracker.anonymousId()
    before.tracker.stopTracker()
    before.fake.storage.set(QUEUE_KEY, queue(good))
    return { fake: before.fake, anon, good }
  }

  test.each([
    ['a string', 'garbage'],
    ['an object', { 0: 'not', 1: 'an array' }],
    ['a number', 42],
    ['null', null],
  ])('%s instead of an array: discarded, reported as corrupted, and the app goes on', async (_what, value) => {
    const { fake, anon } = await withStoredQueue(() => value)
    const device = boot(cloud.url, { flushAt: 1000 }, fake)
    expect(device.tracker.pending().map((e) => [e.name, e.props])).toEqual([['tracker_dropped', { count: 1, reason: 'corrupted' }]])
    expect(Array.isArray(fake.storage.get(QUEUE_KEY))).toBe(true)
    device.tracker.track('page_view', {})
    await device.tracker.flush()
    expect(device.tracker.pending()).toEqual([])
    const names = (await stored(anon)).map((d) => d.name).sort()
    expect(names).toEqual(['first_launch', 'page_view', 'tracker_dropped'])
  })

  test('an array with garbage items: the garbage is discarded and counted, the good events are kept and sent', async () => {
    const { fake, anon, good } = await withStoredQueue((events) => [
      null,
      events[0],
      42,
      'an event',
      {},
      { id: 'not-a-uuid', name: 'page_view', ts: Date.now(), props: {} },
      { ...events[0], id: events[0]!.id.replace(/^.{8}/, '0190aaaa'), props: null },
      { ...events[0], id: events[0]!.id.replace(/^.{8}/, '0190bbbb'), anonymousId: undefined },
      [],
      events[1],
    ])
    const device = boot(cloud.url, { flushAt: 1000 }, fake)
    const pending = device.tracker.pending()
    expect(ids(pending.slice(0, 2))).toEqual(ids(good))
    expect(pending.slice(2).map((e) => [e.name, e.props])).toEqual([['tracker_dropped', { count: 8, reason: 'corrupted' }]])
    expect(ids(fake.storage.get(QUEUE_KEY) as TrackedEvent[]).slice(0, 2)).toEqual(ids(good))
    await device.tracker.flush()
    expect(device.tracker.pending()).toEqual([])
    const docs = await stored(anon)
    expect(docs.map((d) => d.name).sort()).toEqual(['element_tap', 'element_tap', 'first_launch', 'tracker_dropped'])
    expect(sorted(docs.filter((d) => d.name !== 'first_launch').map((d) => d._id))).toEqual(sorted([...ids(good), pending[2]!.id]))
  })

  test('a corrupted queue found before consent is reported once consent is given; unreadable storage does not crash the launch', async () => {
    const fake = createWx()
    fake.storage.set(QUEUE_KEY, '{"truncated": [')
    const device = boot(cloud.url, { flushAt: 1000 }, fake)
    expect(device.tracker.pending()).toEqual([])
    device.tracker.setConsent(true)
    expect(device.tracker.pending().map((e) => e.name).sort()).toEqual(['first_launch', 'tracker_dropped'])
    device.tracker.stopTracker()

    const broken = createWx()
    broken.wx.getStorageSync = () => {
      throw new Error('getStorageSync:fail data corrupted')
    }
    broken.wx.setStorageSync = () => {
      throw new Error('setStorageSync:fail storage full')
    }
    const launched = boot(cloud.url, { flushAt: 1000 }, broken)
    expect(launched.tracker.pending()).toEqual([])
    launched.tracker.setConsent(true)
    launched.tracker.track('page_view', {})
    await launched.tracker.flush()
    // The queue lives in memory when storage fails: it is still sent.
    expect(launched.tracker.pending()).toEqual([])
    expect((await stored(launched.tracker.anonymousId())).map((d) => d.name).sort()).toEqual(['first_launch', 'page_view'])
  })
})

// ---- loss and duplication ----------------------------------------------------------------------------

const SEED = 42

test('loss and duplication: sessions of events, ~30% of calls failing before or after the cloud, a kill mid-way — the cloud holds exactly the ids generated', async () => {
  // The proxy's fates come from their own sequence: call n meets the same fate in every run.
  const fates = prng(SEED)
  const random = prng(SEED + 1)
  const p = await proxy(cloud.url, (path) => {
    if (path !== '/functions/track') return 'pass'
    const r = fates()
    return r < 0.15 ? 'fail' : r < 0.3 ? 'drop' : 'pass'
  })
  const options: Options = { flushAt: 8, maxBatch: 10, flushIntervalMs: 40, retryBaseMs: 5, retryMaxMs: 60 }
  let device = consented(p.url, options)
  const fake = device.fake
  const anon = device.tracker.anonymousId()
  const generated = new Set<string>()
  const note = () => {
    for (const e of device.tracker.pending()) generated.add(e.id)
  }
  note()
  const SESSIONS = 8
  const EVENTS = 50
  let tracks = 1
  const kill = { pending: 0, inFlight: 0 }
  const hide = (s: number) => {
    device.tracker.track('app_hide', { durationMs: 1000 + s })
    tracks++
    note()
    device.tracker.persist()
    void device.tracker.flush()
  }
  for (let s = 0; s < SESSIONS; s++) {
    device.tracker.newSession()
    for (let i = 0; i < EVENTS; i++) {
      if (s === SESSIONS / 2 && i === EVENTS / 2) {
        // The app hides (what app-tracking's onHide does: app_hide, written through, a send) and is killed
        // at once, the earliest WeChat allows, with whatever is queued or on the wire; the next launch
        // finds the queue in storage.
        hide(s)
        kill.pending = device.tracker.pending().length
        kill.inFlight = batches(fake).length - trackHits(p).filter((h) => h.done).length
        device.tracker.stopTracker()
        device = boot(p.url, options, fake)
        device.tracker.newSession()
        note()
      }
      const page = ['pages/home/index', 'packages/guide/detail/index', 'packages/me/index'][i % 3]!
      device.tracker.setPage(page)
      if (i % 5 === 0) device.tracker.track('page_view', {})
      else if (i % 5 === 4) device.tracker.track('content_open', { guideId: `guide-${i}`, category: 'home' })
      else device.tracker.track('element_tap', { element: `e${s}_${i}` })
      tracks++
      note()
      if (random() < 0.2) await sleep(Math.floor(random() * 15))
    }
    hide(s)
    await sleep(20)
  }
  await until(() => device.tracker.pending().length === 0, 'the queue to drain', 20_000)
  await sleep(200)
  expect(device.tracker.pending()).toEqual([])

  const docs = await stored(anon)
  const storedIds = docs.map((d) => d._id)
  const unique = new Set(storedIds)
  const lost = [...generated].filter((id) => !unique.has(id))
  const extra = storedIds.filter((id) => !generated.has(id))
  const hits = trackHits(p)
  const failed = hits.filter((h) => h.fate === 'fail').length
  const dropped = hits.filter((h) => h.fate === 'drop').length
  const dedupedByCloud = hits.filter((h) => h.fate === 'pass').reduce((n, h) => n + (h.reply?.result?.data?.duplicates ?? 0), 0)
  console.log(
    `loss run: ${generated.size} events generated (${tracks} track calls), ${docs.length} stored, ${lost.length} lost, ` +
      `${storedIds.length - unique.size} duplicated, ${extra.length} unknown; ${hits.length} calls, ${failed} failed before the cloud, ` +
      `${dropped} replies lost after it (${(((failed + dropped) / hits.length) * 100).toFixed(0)}% failed); ` +
      `${dedupedByCloud} resent events deduped by the cloud; killed with ${kill.pending} events queued, ${kill.inFlight} call(s) in flight`,
  )
  expect(generated.size).toBe(tracks)
  expect(lost).toEqual([])
  expect(extra).toEqual([])
  expect(storedIds.length).toBe(unique.size)
  expect(docs).toHaveLength(tracks)
  // The run exercised what it claims to.
  expect(failed).toBeGreaterThan(3)
  expect(dropped).toBeGreaterThan(3)
  expect(dedupedByCloud).toBeGreaterThan(0)
  expect(kill.pending).toBeGreaterThan(0)
}, 90_000)

// ---- the ids ---------------------------------------------------------------------------------------

test('uuidv7(): version 7, RFC 9562 variant, the time in its first 48 bits, unique within one millisecond', () => {
  const { uuidv7, isUuidv7 } = require('../../miniprogram/core/uuid') as typeof import('../../miniprogram/core/uuid')
  const at = Date.UTC(2025, 0, 2, 3, 4, 5, 678)
  const ids = Array.from({ length: 20_000 }, () => uuidv7(at))
  expect(new Set(ids).size).toBe(ids.length)
  for (const id of ids.slice(0, 500)) {
    expect(id).toMatch(UUID_V7)
    expect(isUuidv7(id)).toBe(true)
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at)
  }
  // Time-ordered across milliseconds, as text.
  expect(uuidv7(at + 1) > uuidv7(at)).toBe(true)
  expect(uuidv7(0)).toMatch(/^00000000-0000-7/)
  expect([null, 42, '', 'x', ids[0]!.toUpperCase(), ids[0]!.replace(/^(.{14})7/, '$14')].map(isUuidv7)).toEqual([false, false, false, false, false, false])
})

test('uuidv7(): ids made in the same millisecond sort in the order they were made (the device order funnels use)', () => {
  const { uuidv7 } = require('../../miniprogram/core/uuid') as typeof import('../../miniprogram/core/uuid')
  const at = Date.UTC(2025, 0, 2, 3, 4, 5, 678)
  // The counter starts below 2^11 each millisecond: at least 2,048 ids in a row keep their order.
  for (let round = 0; round < 20; round++) {
    const ids = Array.from({ length: 2049 }, () => uuidv7(at + round))
    expect([...ids].sort()).toEqual(ids)
  }
})
