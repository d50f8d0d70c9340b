/**
 * The app's part of tracking (miniprogram/core/app-tracking.ts), driven as app.ts drives it — the
 * launch, each show and hide — with consent following wx.getPrivacySetting as the fake `wx`
 * answers it (at once, later, or "authorization needed"). Events go through the real cloud client
 * to the real `track` function in a real local cloud.
 */
import { UUID_V7 } from '../../cloudfunctions/track/plan'
import { type CloudProcess, startCloudProcess } from './harness/cloud'
import { sleep, storedEvents, until } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

type TrackerModule = typeof import('../../miniprogram/core/tracker')
type CloudModule = typeof import('../../miniprogram/core/cloud')
type AppTrackingModule = typeof import('../../miniprogram/core/app-tracking')
type UuidModule = typeof import('../../miniprogram/core/uuid')

interface App {
  fake: FakeWx
  tracker: TrackerModule
  app: AppTrackingModule
  uuid: UuidModule
}

let cloud: CloudProcess
const apps: App[] = []

beforeAll(async () => {
  cloud = await startCloudProcess()
}, 90_000)
afterEach(() => {
  jest.restoreAllMocks()
  for (const a of apps.splice(0)) a.tracker.stopTracker()
})
afterAll(() => cloud?.stop())

/** A cold start up to onLaunch's initTracker(): fresh modules on `fake` (its storage is the device's). */
function start(fake: FakeWx = createWx()): App {
  jest.resetModules()
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const client = require('../../miniprogram/core/cloud') as CloudModule
  client.configureCloud({ mode: 'local', localCloudUrl: cloud.url, retryBaseMs: 1, timeoutMs: 30_000 })
  const tracker = require('../../miniprogram/core/tracker') as TrackerModule
  const app = require('../../miniprogram/core/app-tracking') as AppTrackingModule
  const uuid = require('../../miniprogram/core/uuid') as UuidModule
  tracker.initTracker({ flushAt: 1000, flushIntervalMs: 3_600_000 })
  const started = { fake, tracker, app, uuid }
  apps.push(started)
  return started
}

const trackCalls = (fake: FakeWx) => fake.log.requests.filter((r) => r.url.endsWith('/functions/track'))

/** The cloud's `events` of one device. */
const stored = (anonymousId: string) => storedEvents(cloud.url, { anonymousId })

/** The queue as [name, props]. */
const queued = (a: App) => a.tracker.pending().map((e) => [e.name, e.props])

const enc = encodeURIComponent

test('agreed (getPrivacySetting reports it): first_launch, app_launch with the launch’s path and touch, app_show with the show’s, in one session', async () => {
  const a = start()
  const sharer = a.uuid.uuidv7()
  const entry = { path: 'packages/guide/detail/index', scene: 1007, query: { id: 'fold-shirt', sharer, utm_source: enc('读书群') } }
  a.app.appLaunched(entry)
  a.app.appShown(entry)
  await until(() => a.tracker.hasConsent(), 'the privacy answer')
  const touch = { path: 'packages/guide/detail/index', scene: 1007, sharer, utm_source: '读书群' }
  expect(queued(a)).toEqual([
    ['first_launch', {}],
    ['app_launch', touch],
    ['app_show', touch],
  ])
  // The launch and the first show are one session: the app's first session, not one of its own.
  const sessions = new Set(a.tracker.pending().map((e) => e.sessionId))
  expect(sessions.size).toBe(1)
  expect([...sessions][0]).toMatch(UUID_V7)
  expect(a.tracker.sessionId()).toBe([...sessions][0])
})

test('a repeat launch (agreed before): app_launch at once, and the launch and the first show are one session — not a session of their own', async () => {
  const before = start()
  before.app.appLaunched({ path: 'pages/home/index', scene: 1001, query: {} })
  await until(() => before.tracker.hasConsent(), 'the first agreement')
  await before.tracker.flush()
  before.tracker.stopTracker()

  const a = start(before.fake)
  a.app.appLaunched({ path: 'pages/home/index', scene: 1089, query: {} })
  expect(queued(a)).toEqual([['app_launch', { path: 'pages/home/index', scene: 1089 }]])
  a.app.appShown({ path: 'pages/home/index', scene: 1089, query: {} })
  await sleep(20) // the privacy answer: agreed, nothing changes
  a.app.appHidden()
  expect(a.tracker.pending().map((e) => e.name)).toEqual(['app_launch', 'app_show', 'app_hide'])
  expect(new Set(a.tracker.pending().map((e) => e.sessionId)).size).toBe(1)
  const launchSession = a.tracker.sessionId()
  await until(() => a.tracker.pending().length === 0, 'the flush on hide')
  const stored2 = (await stored(a.tracker.anonymousId())).filter((e) => e.props.scene === 1089 || e.name === 'app_hide')
  expect(stored2.map((e) => [e.name, e.sessionId])).toEqual(
    expect.arrayContaining([
      ['app_launch', launchSession],
      ['app_show', launchSession],
      ['app_hide', launchSession],
    ]),
  )
  // The next show is a new session.
  a.app.appShown({ path: 'pages/home/index', scene: 1089, query: {} })
  expect(a.tracker.pending()[0]).toMatchObject({ name: 'app_show' })
  expect(a.tracker.pending()[0]!.sessionId).not.toBe(launchSession)
})

test('a mini-program code launch: the code and scene are the launch’s touch', async () => {
  const a = start()
  a.app.appLaunched({ path: 'pages/home/index', scene: 1047, query: { scene: enc('c=Ab3dEf7h&x=y') } })
  await until(() => a.tracker.hasConsent(), 'the privacy answer')
  expect(queued(a)).toEqual([
    ['first_launch', {}],
    ['app_launch', { path: 'pages/home/index', scene: 1047, code: 'Ab3dEf7h' }],
  ])
})

test('each show starts a new session; app_hide carries the session’s duration and sends everything at once', async () => {
  const a = start()
  let now = Date.now()
  jest.spyOn(Date, 'now').mockImplementation(() => now)
  a.app.appLaunched({ path: 'pages/home/index', scene: 1001, query: {} })
  a.app.appShown({ path: 'pages/home/index', scene: 1001, query: {} })
  await until(() => a.tracker.hasConsent(), 'the privacy answer')
  const anon = a.tracker.anonymousId()
  const first = a.tracker.sessionId()

  now += 4321
  a.app.appHidden()
  expect(a.tracker.pending().at(-1)).toMatchObject({ name: 'app_hide', props: { durationMs: 4321 }, sessionId: first })
  // Hiding flushes: no waiting for flushAt (1000) or the interval (an hour).
  expect(trackCalls(a.fake)).toHaveLength(1)
  await until(() => a.tracker.pending().length === 0, 'the flush on hide')

  now += 60_000
  a.app.appShown({ path: 'packages/me/index', scene: 1089, query: {} })
  const second = a.tracker.sessionId()
  expect(second).toMatch(UUID_V7)
  expect(second).not.toBe(first)
  now += 1500
  a.app.appHidden()
  await until(() => a.tracker.pending().length === 0, 'the second flush')

  now += 1000
  a.app.appShown({ path: 'pages/home/index', scene: 1001, query: {} })
  const third = a.tracker.sessionId()
  expect(new Set([first, second, third]).size).toBe(3)
  now += 10
  a.app.appHidden()
  await until(() => a.tracker.pending().length === 0, 'the third flush')
  expect(trackCalls(a.fake)).toHaveLength(3)

  const events = await stored(anon)
  const rows = events.map((e) => [e.name, e.sessionId, e.props])
  expect(rows).toEqual(
    expect.arrayContaining([
      ['first_launch', first, {}],
      ['app_launch', first, { path: 'pages/home/index', scene: 1001 }],
      ['app_show', first, { path: 'pages/home/index', scene: 1001 }],
      ['app_hide', first, { durationMs: 4321 }],
      ['app_show', second, { path: 'packages/me/index', scene: 1089 }],
      ['app_hide', second, { durationMs: 1500 }],
      ['app_show', third, { path: 'pages/home/index', scene: 1001 }],
      ['app_hide', third, { durationMs: 10 }],
    ]),
  )
  expect(events).toHaveLength(8)
})

test('the privacy answer arrives after launch: the launch and the current show are tracked exactly once', async () => {
  const fake = createWx()
  fake.privacy.held = true
  const a = start(fake)
  a.app.appLaunched({ path: 'pages/home/index', scene: 1047, query: { scene: 'Ab3dEf7h' } })
  a.app.appShown({ path: 'pages/home/index', scene: 1047, query: { scene: 'Ab3dEf7h' } })
  a.app.appHidden()
  a.app.appShown({ path: 'packages/guide/detail/index', scene: 1007, query: { id: 'x' } })
  await sleep(20)
  expect(a.tracker.pending()).toEqual([])
  expect(trackCalls(fake)).toEqual([])

  fake.answerPrivacy()
  expect(queued(a)).toEqual([
    ['first_launch', {}],
    ['app_launch', { path: 'pages/home/index', scene: 1047, code: 'Ab3dEf7h' }],
    ['app_show', { path: 'packages/guide/detail/index', scene: 1007 }],
  ])
  // The user also taps "agree" in the privacy popup: nothing is tracked twice.
  a.app.consentGiven()
  a.app.consentGiven()
  expect(a.tracker.pending()).toHaveLength(3)

  a.app.appHidden()
  await until(() => a.tracker.pending().length === 0, 'the flush on hide')
  const names = (await stored(a.tracker.anonymousId())).map((e) => e.name).sort()
  expect(names).toEqual(['app_hide', 'app_launch', 'app_show', 'first_launch'])
})

test('the agreement comes from the privacy popup (no answer from getPrivacySetting yet): tracked once, as well', async () => {
  const fake = createWx()
  fake.privacy.held = true
  const a = start(fake)
  a.app.appLaunched({ path: 'pages/home/index', scene: 1001, query: {} })
  a.app.appShown({ path: 'pages/home/index', scene: 1001, query: {} })
  a.app.consentGiven()
  fake.answerPrivacy()
  expect(queued(a).map(([name]) => name)).toEqual(['first_launch', 'app_launch', 'app_show'])
})

test('needAuthorization true: nothing is tracked, nothing is sent', async () => {
  const fake = createWx()
  fake.privacy.needAuthorization = true
  const a = start(fake)
  a.app.appLaunched({ path: 'pages/home/index', scene: 1001, query: {} })
  a.app.appShown({ path: 'pages/home/index', scene: 1001, query: {} })
  await sleep(20)
  a.app.appHidden()
  await sleep(20)
  expect(a.tracker.hasConsent()).toBe(false)
  expect(a.tracker.pending()).toEqual([])
  expect(a.tracker.anonymousId()).toBe('')
  expect(fake.storage.has('tracker:anon')).toBe(false)
  expect(trackCalls(fake)).toEqual([])
})

test('needAuthorization true on a device that had agreed (the privacy terms changed): collection stops until the user agrees again', async () => {
  const before = start()
  before.app.appLaunched({ path: 'pages/home/index', scene: 1001, query: {} })
  await until(() => before.tracker.hasConsent(), 'the first agreement')
  const anon = before.tracker.anonymousId()
  await before.tracker.flush()
  before.tracker.stopTracker()

  const fake = before.fake
  fake.privacy.needAuthorization = true
  const a = start(fake)
  a.app.appLaunched({ path: 'pages/home/index', scene: 1001, query: {} })
  a.app.appShown({ path: 'pages/home/index', scene: 1001, query: {} })
  await sleep(20)
  a.app.appHidden()
  await sleep(50)
  expect(a.tracker.hasConsent()).toBe(false)
  expect(a.tracker.pending()).toEqual([])
  expect(trackCalls(fake).length).toBe(1) // the first launch's flush only
  expect((await stored(anon)).map((e) => e.name).sort()).toEqual(['app_launch', 'first_launch'])

  // The user agrees to the new terms: the launch and the current show, on the same device id.
  a.app.appShown({ path: 'packages/me/index', scene: 1001, query: {} })
  a.app.consentGiven()
  expect(a.tracker.anonymousId()).toBe(anon)
  expect(queued(a)).toEqual([
    ['app_launch', { path: 'pages/home/index', scene: 1001 }],
    ['app_show', { path: 'packages/me/index', scene: 1001 }],
  ])
})

test('a base library without the privacy API: consent stays what was recorded (a repeat launch tracks at once)', async () => {
  const before = start()
  before.tracker.setConsent(true)
  before.tracker.persist() // the app hid before it was killed
  before.tracker.stopTracker()
  const fake = before.fake
  fake.wx.getPrivacySetting = undefined
  const a = start(fake)
  a.app.appLaunched({ path: 'pages/home/index', scene: 1001, query: {} })
  a.app.appShown({ path: 'pages/home/index', scene: 1001, query: {} })
  // first_launch is the previous run's, still queued.
  expect(queued(a).map(([name]) => name)).toEqual(['first_launch', 'app_launch', 'app_show'])
})
