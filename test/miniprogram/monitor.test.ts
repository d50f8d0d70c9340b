/**
 * Monitoring on the device (miniprogram/core/monitor.ts): script errors, unhandled rejections and
 * missing pages from the runtime's listeners, failed and slow cloud calls, and performance entries,
 * all as tracked events. The fake `wx` lets the test fire what the runtime would; app calls and the
 * tracker's sends go through the real cloud client to a real local cloud, through a proxy that can
 * slow a call down or fail it.
 */
import type { TrackedEvent } from '../../cloudfunctions/track/plan'
import { type CloudProcess, startCloudProcess } from './harness/cloud'
import { adminRequest, callFunction } from './harness/net'
import { type Fate, type Proxy, startProxy, storedEvents, trackBatches as batches, until } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

type TrackerModule = typeof import('../../miniprogram/core/tracker')
type CloudModule = typeof import('../../miniprogram/core/cloud')
type MonitorModule = typeof import('../../miniprogram/core/monitor')

interface Device {
  fake: FakeWx
  tracker: TrackerModule
  cloud: CloudModule
  monitor: MonitorModule
}

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

/** A launched app: tracker, monitor, consent given unless told otherwise. */
function boot(url: string, { consent = true, flushAt = 1000 } = {}): Device {
  jest.resetModules()
  const fake = createWx()
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const client = require('../../miniprogram/core/cloud') as CloudModule
  client.configureCloud({ mode: 'local', localCloudUrl: url, retryBaseMs: 1, timeoutMs: 30_000 })
  const tracker = require('../../miniprogram/core/tracker') as TrackerModule
  const monitor = require('../../miniprogram/core/monitor') as MonitorModule
  tracker.initTracker({ flushAt, flushIntervalMs: 3_600_000 })
  monitor.startMonitor()
  if (consent) tracker.setConsent(true)
  const device = { fake, tracker, cloud: client, monitor }
  devices.push(device)
  return device
}

/** Unsent events other than first_launch, as [name, props]. */
function queued(d: Device, name?: string): [string, Record<string, unknown>][] {
  return d.tracker
    .pending()
    .filter((e) => e.name !== 'first_launch' && (!name || e.name === name))
    .map((e) => [e.name, e.props as Record<string, unknown>])
}

/** The cloud's `events` of one device. */
const stored = (anonymousId: string) => storedEvents(cloud.url, { anonymousId })

/** A gateway in front of the local cloud (passes, fails with a 503 without forwarding, or delays each call), closed after the test. */
async function proxy(decide: (path: string, body: any) => Fate): Promise<Proxy> {
  const p = await startProxy(cloud.url, decide)
  closers.push(p.close)
  return p
}

/** Sends everything and checks the cloud accepted all of it (the props follow the plan). */
async function flushAll(d: Device): Promise<void> {
  await d.tracker.flush()
  await until(() => d.tracker.pending().length === 0, 'the events to be acknowledged')
  const sent = batches(d.fake).flat()
  const kept = new Set((await stored(d.tracker.anonymousId())).map((e) => e._id))
  expect(sent.filter((e) => !kept.has(e.id))).toEqual([])
}

test('startMonitor() listens to the runtime: one listener each for errors, rejections and missing pages, and a performance observer', () => {
  const d = boot(cloud.url)
  expect(d.fake.listeners.error).toHaveLength(1)
  expect(d.fake.listeners.unhandledRejection).toHaveLength(1)
  expect(d.fake.listeners.pageNotFound).toHaveLength(1)
  expect(d.fake.performanceObserved).toHaveLength(1)
  const observed = d.fake.performanceObserved[0] as { entryTypes: string[] }
  expect(observed.entryTypes).toEqual(expect.arrayContaining(['navigation', 'render']))
})

test('a base library without wx.getPerformance: the monitor starts all the same', () => {
  jest.resetModules()
  const fake = createWx()
  fake.wx.getPerformance = undefined
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const tracker = require('../../miniprogram/core/tracker') as TrackerModule
  const monitor = require('../../miniprogram/core/monitor') as MonitorModule
  tracker.initTracker({ flushIntervalMs: 3_600_000 })
  expect(() => monitor.startMonitor()).not.toThrow()
  tracker.stopTracker()
})

describe('errors', () => {
  const STACK = "TypeError: Cannot read properties of undefined (reading 'title')\n    at li.onLoad (packages/guide/detail/index.js:3:14)\n    at li.<anonymous> (WAServiceMainContext.js:1:1)"

  test('js_error, from a string (older base libraries) and from { message } (newer): the first line, and the stack', async () => {
    const d = boot(cloud.url)
    d.fake.fire('error', STACK)
    d.fake.fire('error', { message: STACK })
    const expected = { message: "TypeError: Cannot read properties of undefined (reading 'title')", stack: STACK }
    expect(queued(d)).toEqual([
      ['js_error', expected],
      ['js_error', expected],
    ])
    await flushAll(d)
  })

  test('js_error: a long message and stack are cut to what the cloud takes (message 500 characters, all props 2048 of JSON), so the error is not lost', async () => {
    const d = boot(cloud.url)
    const long = `Error: ${'x'.repeat(800)}\n${'    at f (app.js:1:1)\n'.repeat(200)}`
    const quoted = `Error: "${'"'.repeat(600)}"\n${'    at g ("app.js":1:1)\n'.repeat(200)}`
    // Chinese text is 3 bytes a character in UTF-8: the cloud counts bytes, so the device must too.
    const chinese = `错误：${'标题不存在'.repeat(100)}\n${'    at 页面 (首页.js:1:1) 😀\n'.repeat(200)}`
    d.fake.fire('error', long)
    d.fake.fire('error', { message: quoted })
    d.fake.fire('error', chinese)
    const errors = queued(d) as [string, { message: string; stack: string }][]
    expect(errors).toHaveLength(3)
    errors.forEach(([, props], i) => {
      const text = [long, quoted, chinese][i]!
      expect(props.message).toBe(text.split('\n')[0]!.slice(0, 500))
      expect(text.startsWith(props.stack)).toBe(true)
      expect(props.stack.length).toBeLessThanOrEqual(2000)
      expect(Buffer.byteLength(JSON.stringify(props))).toBeLessThanOrEqual(2048)
    })
    // As much of the stack as fits.
    expect(errors[0]![1].stack.length).toBeGreaterThan(1200)
    await flushAll(d)
    expect(errors[2]![1].stack.length).toBeGreaterThan(100)
    expect((await stored(d.tracker.anonymousId())).filter((e) => e.name === 'js_error')).toHaveLength(3)
  })

  test('promise_rejection: an Error, a string and an object reason', async () => {
    const d = boot(cloud.url)
    d.fake.fire('unhandledRejection', { reason: new Error('load failed'), promise: Promise.resolve() })
    d.fake.fire('unhandledRejection', { reason: 'request:fail timeout', promise: Promise.resolve() })
    d.fake.fire('unhandledRejection', { reason: { errMsg: 'getStorage:fail', errno: 1001 }, promise: Promise.resolve() })
    d.fake.fire('unhandledRejection', { reason: undefined, promise: Promise.resolve() })
    expect(queued(d)).toEqual([
      ['promise_rejection', { message: 'load failed' }],
      ['promise_rejection', { message: 'request:fail timeout' }],
      ['promise_rejection', { message: '{"errMsg":"getStorage:fail","errno":1001}' }],
      ['promise_rejection', { message: 'undefined' }],
    ])
    await flushAll(d)
  })

  test('page_not_found: the path and whether it was the entry page', async () => {
    const d = boot(cloud.url)
    d.fake.fire('pageNotFound', { path: 'pages/old-home/index', query: { from: 'poster' }, isEntryPage: true })
    d.fake.fire('pageNotFound', { path: 'packages/guide/list/index', query: {}, isEntryPage: false })
    expect(queued(d)).toEqual([
      ['page_not_found', { path: 'pages/old-home/index', isEntryPage: true }],
      ['page_not_found', { path: 'packages/guide/list/index', isEntryPage: false }],
    ])
    await flushAll(d)
  })

  test('an async component whose subpackage did not load: a script error naming the subpackage and why', async () => {
    const d = boot(cloud.url)
    d.fake.fire('lazyLoadError', { type: 'subpackage', subpackage: ['packages/onboarding'], errMsg: 'loadSubpackage: timeout' })
    d.fake.fire('lazyLoadError', { type: 'subpackage', subpackage: ['packages/onboarding'], errMsg: 'loadSubpackage: fail' })
    expect(queued(d)).toEqual([
      ['js_error', { message: 'lazy load failed: packages/onboarding (loadSubpackage: timeout)' }],
      ['js_error', { message: 'lazy load failed: packages/onboarding (loadSubpackage: fail)' }],
    ])
    await flushAll(d)
  })

  test('at most 10 error events per kind and minute: a loop of errors does not flood the queue', () => {
    const d = boot(cloud.url)
    const now = Date.now()
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now)
    for (let i = 0; i < 25; i++) d.fake.fire('error', `Error: loop ${i}`)
    for (let i = 0; i < 12; i++) d.fake.fire('unhandledRejection', { reason: `rejected ${i}` })
    for (let i = 0; i < 3; i++) d.fake.fire('pageNotFound', { path: `pages/p${i}/index`, query: {}, isEntryPage: false })
    expect(queued(d, 'js_error').map(([, p]) => p.message)).toEqual(Array.from({ length: 10 }, (_, i) => `Error: loop ${i}`))
    expect(queued(d, 'promise_rejection')).toHaveLength(10)
    expect(queued(d, 'page_not_found')).toHaveLength(3)
    // The next minute has a new budget.
    clock.mockReturnValue(now + 60_000)
    d.fake.fire('error', 'Error: a minute later')
    expect(queued(d, 'js_error')).toHaveLength(11)
  })

  test('nothing is tracked before consent', () => {
    const d = boot(cloud.url, { consent: false })
    d.fake.fire('error', 'Error: early')
    d.fake.fire('unhandledRejection', { reason: 'early' })
    d.fake.fire('pageNotFound', { path: 'pages/x/index', query: {}, isEntryPage: true })
    expect(d.tracker.pending()).toEqual([])
  })
})

describe('cloud calls', () => {
  test('failed calls become cloud_call_failed; slow calls (> SLOW_CALL_MS) are counted; the next flush sends one cloud_calls summary, the tracker’s own calls not counted', async () => {
    const gateway = await proxy((path, body) => {
      if (path !== '/functions/content') return 'pass'
      if (body.action === 'list') return { delayMs: 1600 }
      if (body.action === 'detail' && body.data.id === 'gateway-down') return 'fail'
      return 'pass'
    })
    // Warm the content function first (not through this device): a cold start on a loaded machine
    // could itself pass SLOW_CALL_MS and be counted slow.
    await callFunction(cloud.url, 'content', 'categories', {}, 'o-monitor-warm')
    const d = boot(gateway.url)
    expect(d.monitor.SLOW_CALL_MS).toBe(1500)
    const { call } = d.cloud
    await call('content', 'categories', {})
    const started = Date.now()
    await call('content', 'list', { limit: 2 })
    const slowMs = Date.now() - started
    await expect(call('content', 'detail', { id: 'gateway-down' })).rejects.toMatchObject({ code: 'FUNCTION_FAILED' })
    await expect(call('content', 'detail', { id: 'no-such-guide' })).rejects.toMatchObject({ code: 'NOT_FOUND' })

    const failed = queued(d, 'cloud_call_failed')
    expect(failed.map(([, p]) => [p.fn, p.action, p.code])).toEqual([
      ['content', 'detail', 'FUNCTION_FAILED'],
      ['content', 'detail', 'NOT_FOUND'],
    ])
    for (const [, p] of failed) {
      expect(Number.isInteger(p.durationMs)).toBe(true)
      expect(p.durationMs as number).toBeGreaterThanOrEqual(0)
      expect(p.durationMs as number).toBeLessThan(1500)
    }
    expect(queued(d, 'cloud_calls')).toEqual([])

    await flushAll(d)
    const summaries = batches(d.fake)
      .flat()
      .filter((e) => e.name === 'cloud_calls')
    expect(summaries).toHaveLength(1)
    const summary = summaries[0]!.props as { calls: number; failed: number; slow: number; totalMs: number }
    expect({ calls: summary.calls, failed: summary.failed, slow: summary.slow }).toEqual({ calls: 4, failed: 2, slow: 1 })
    expect(summary.totalMs).toBeGreaterThanOrEqual(1600)
    expect(summary.totalMs).toBeLessThanOrEqual(slowMs + 1500)
    expect(Number.isInteger(summary.totalMs)).toBe(true)

    // The flush's own `track` call is not app traffic: the next flush has no summary to send.
    d.tracker.track('page_view', {})
    await flushAll(d)
    expect(batches(d.fake).at(-1)!.map((e) => e.name)).toEqual(['page_view'])
    expect(gateway.hits.filter((h) => h.path === '/functions/track')).toHaveLength(2)
    expect((await stored(d.tracker.anonymousId())).filter((e) => e.name === 'cloud_calls')).toHaveLength(1)
  }, 90_000)

  test('many failed calls: at most 10 cloud_call_failed a minute, but the summary counts them all', async () => {
    const gateway = await proxy((path) => (path === '/functions/content' ? 'fail' : 'pass'))
    const d = boot(gateway.url)
    for (let i = 0; i < 13; i++) await expect(d.cloud.call('content', 'categories', {})).rejects.toMatchObject({ code: 'FUNCTION_FAILED' })
    expect(queued(d, 'cloud_call_failed')).toHaveLength(10)
    await flushAll(d)
    const summary = batches(d.fake)
      .flat()
      .find((e) => e.name === 'cloud_calls')!
    expect(summary.props).toMatchObject({ calls: 13, failed: 13, slow: 0 })
  })

  test('the summary tracked just before a flush, reaching flushAt, does not send the batch twice', async () => {
    const d = boot(cloud.url, { flushAt: 3 })
    d.tracker.track('page_view', {}) // with first_launch: 2 queued
    await d.cloud.call('content', 'categories', {})
    await d.tracker.flush() // the summary makes 3
    await new Promise((r) => setTimeout(r, 100))
    const sent = batches(d.fake).flat().map((e) => e.id)
    expect(sent).toHaveLength(3)
    expect(new Set(sent).size).toBe(3)
  })

  test('calls made before consent are not reported once consent is given', async () => {
    const d = boot(cloud.url, { consent: false })
    await d.cloud.call('content', 'categories', {})
    await expect(d.cloud.call('content', 'detail', { id: 'no-such-guide' })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(d.tracker.pending()).toEqual([])
    d.tracker.setConsent(true)
    await d.cloud.call('content', 'categories', {})
    await flushAll(d)
    const summary = batches(d.fake)
      .flat()
      .find((e) => e.name === 'cloud_calls')!
    expect(summary.props).toMatchObject({ calls: 1, failed: 0, slow: 0 })
    expect(batches(d.fake).flat().filter((e) => e.name === 'cloud_call_failed')).toEqual([])
  })
})

test('performance entries (appLaunch, firstRender, route, firstPaint) become perf events; other entries are ignored', async () => {
  const d = boot(cloud.url)
  d.fake.firePerformance([
    { name: 'appLaunch', entryType: 'navigation', duration: 812.4 },
    { name: 'evaluateScript', entryType: 'script', duration: 48 },
    { name: 'firstRender', entryType: 'render', duration: 120.6, path: 'pages/home/index' },
    { name: 'loadPackage', entryType: 'loadPackage', duration: 70 },
  ])
  d.fake.firePerformance([
    { name: 'route', entryType: 'navigation', duration: 88, path: 'packages/guide/detail/index' },
    { name: 'firstPaint', entryType: 'render', duration: 300.2, path: 'packages/guide/detail/index' },
    { name: 'resourceTiming', entryType: 'resource', duration: 12 },
  ])
  expect(queued(d)).toEqual([
    ['perf', { metric: 'appLaunch', durationMs: 812 }],
    ['perf', { metric: 'firstRender', durationMs: 121, target: 'pages/home/index' }],
    ['perf', { metric: 'route', durationMs: 88, target: 'packages/guide/detail/index' }],
    ['perf', { metric: 'firstPaint', durationMs: 300, target: 'packages/guide/detail/index' }],
  ])
  await flushAll(d)
  expect((await stored(d.tracker.anonymousId())).filter((e) => e.name === 'perf')).toHaveLength(4)
})
