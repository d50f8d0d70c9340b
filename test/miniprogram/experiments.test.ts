/**
 * Flags and experiments on the device (miniprogram/core/experiments.ts). Fresh modules per launch
 * on a fake `wx` whose storage is the device's. The config comes from the real `experiments`
 * function of a real local cloud (its defaults, and documents saved by an admin through `save`),
 * and exposures go through the real tracker to the real `track` function. What the real function
 * never sends (malformed or inconsistent configs, chosen targeting facts) comes from a small stand-in
 * gateway, to check that the device shows the control and the fallback instead of throwing.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { ClientConfig, ExperimentConfig } from '../../cloudfunctions/experiments/api'
import { assignVariant, inRollout, rolloutSeed } from '../../miniprogram/core/bucketing'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { addAdmin, configFor, experimentDoc, openidsIn, save } from './harness/experiments'
import { adminRequest, deadUrl, hangingServer } from './harness/net'
import { sleep, startProxy, storedEvents, until } from './harness/tracking'
import { createWx, type FakeWx, installCloud } from './harness/wx'

jest.setTimeout(180_000)

type CloudModule = typeof import('../../miniprogram/core/cloud')
type TrackerModule = typeof import('../../miniprogram/core/tracker')
type ExperimentsModule = typeof import('../../miniprogram/core/experiments')

const OPENID_KEY = 'local-cloud:openid'
const CACHE_KEY = 'cache:experiments'
const SEEN_KEY = 'experiments:seen'
const HOME = 'home_value_copy'
const ADMIN = 'dev-expadmin0001'
const CONTROL_ONLY = { key: 'control', value: undefined, inExperiment: false }

interface Device {
  fake: FakeWx
  cloud: CloudModule
  tracker: TrackerModule
  exp: ExperimentsModule
}

interface LaunchOptions {
  url?: string
  fake?: FakeWx
  openid?: string
  /** The launch query (initExperiments' argument). */
  query?: Record<string, string>
  /** Agreed to the privacy terms (default true). */
  consent?: boolean
  /** Run initExperiments, as app.ts's onLaunch does (default true). */
  init?: boolean
}

let cloud: CloudProcess
/** The config the real function sends (the defaults), for the experiment's variants and weights. */
let homeExperiment: ExperimentConfig
const devices: Device[] = []
const servers: { close(): Promise<void> }[] = []

beforeAll(async () => {
  cloud = await startCloudProcess()
  await addAdmin(cloud.url, ADMIN)
  homeExperiment = (await configFor(cloud.url, ADMIN)).experiments.find((e) => e.key === HOME)!
  expect(homeExperiment.variants.map((v) => v.key)).toEqual(['control', 'b'])
}, 90_000)
afterEach(async () => {
  for (const d of devices.splice(0)) d.tracker.stopTracker()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})
afterAll(() => cloud?.stop())

/** A cold start as app.ts's onLaunch does it (tracker, then experiments), in a fresh module registry. */
function launch(options: LaunchOptions = {}): Device {
  jest.resetModules()
  const fake = options.fake ?? createWx()
  if (options.openid) fake.storage.set(OPENID_KEY, options.openid)
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const client = require('../../miniprogram/core/cloud') as CloudModule
  client.configureCloud({ mode: 'local', localCloudUrl: options.url ?? cloud.url, retryBaseMs: 1, timeoutMs: 30_000 })
  const tracker = require('../../miniprogram/core/tracker') as TrackerModule
  tracker.initTracker({ flushAt: 1000, flushIntervalMs: 3_600_000 })
  if (options.consent ?? true) tracker.setConsent(true)
  const exp = require('../../miniprogram/core/experiments') as ExperimentsModule
  if (options.init ?? true) exp.initExperiments(options.query ?? {})
  const device = { fake, cloud: client, tracker, exp }
  devices.push(device)
  return device
}

/** The exposures queued on the device. */
const exposures = (d: Device) =>
  d.tracker
    .pending()
    .filter((e) => e.name === 'experiment_viewed')
    .map((e) => e.props as { experiment: string; variant: string })
const configCalls = (d: Device) => d.fake.log.requests.filter((r) => r.url.endsWith('/functions/experiments'))

async function ready(d: Device): Promise<void> {
  expect(await d.exp.whenReady(5000)).toBe(true)
}

/** What the device sent, as the cloud stored it (after sending what is queued). */
async function storedExposures(d: Device): Promise<{ openid?: string; props: Record<string, unknown> }[]> {
  await d.tracker.flush()
  expect(d.tracker.pending()).toEqual([])
  const events = await storedEvents(cloud.url, { anonymousId: d.tracker.anonymousId(), name: 'experiment_viewed' })
  return events.map((e) => ({ openid: e.openid, props: e.props }))
}

// ---- a stand-in gateway for configs the real function never sends -------------------------------

interface StandIn {
  url: string
  /** The openids that asked for the config, in order. */
  asked: string[]
}

/** Answers `experiments.config` with `config(openid)`, as the gateway would wrap a function's result. */
async function standIn(config: (openid: string) => unknown): Promise<StandIn> {
  const asked: string[] = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const openid = String(req.headers['x-wx-openid'] ?? '')
      if (req.url !== '/functions/experiments') {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: 'not served here' } }))
        return
      }
      asked.push(openid)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ result: { ok: true, data: config(openid) }, requestID: 'stand-in' }))
    })
  })
  server.on('connection', (socket) => sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked }
}

type Me = Partial<ClientConfig['me']>

function config(openid: string, over: { flags?: unknown[]; experiments?: unknown[]; me?: Me } = {}): ClientConfig {
  return {
    version: 'test',
    flags: (over.flags ?? []) as ClientConfig['flags'],
    experiments: (over.experiments ?? []) as ClientConfig['experiments'],
    me: { id: openid, isNew: false, forced: {}, ...over.me },
  }
}

/** A two-variant experiment as devices get it (values A and B). */
const twoVariants = (key: string, controlWeight: number, over: Record<string, unknown>) => ({
  key,
  variants: [
    { key: 'control', weight: controlWeight, value: 'A' },
    { key: 'b', weight: 1 - controlWeight, value: 'B' },
  ],
  coverage: 1,
  ...over,
})
/** Every covered user gets `b` (the control weighs 0): in the experiment or not is all that varies. */
const allB = (key: string, over: Record<string, unknown> = {}) => twoVariants(key, 0, over)
const split = (key: string, over: Record<string, unknown> = {}) => twoVariants(key, 0.5, over)

// ---- assignment and exposure, against the real function -----------------------------------------

describe('assignment and exposure', () => {
  test.each(['control', 'b'])('a user assigned to %s by assignVariant(me.id) gets that variant, its value, and one exposure', async (expected) => {
    const [openid] = openidsIn(homeExperiment, expected, 1, expected === 'b' ? 'ab' : 'ac')
    const d = launch({ openid })
    await ready(d)
    const cached = d.fake.storage.get(CACHE_KEY) as { d: ClientConfig }
    expect(cached.d.me.id).toBe(openid)
    const assigned = assignVariant(cached.d.experiments.find((e) => e.key === HOME)!, cached.d.me.id)
    expect(assigned.variant).toBe(expected)

    const shown = d.exp.variant(HOME)
    const value = homeExperiment.variants.find((v) => v.key === expected)!.value
    expect(shown).toEqual({ key: expected, value, inExperiment: true })
    expect(d.exp.variant(HOME)).toEqual(shown)
    expect(d.exp.variant(HOME)).toEqual(shown)
    expect(exposures(d)).toEqual([{ experiment: HOME, variant: expected }])
    expect(await storedExposures(d)).toEqual([{ openid, props: { experiment: HOME, variant: expected } }])
  })

  test('the exposure is logged once per user and experiment across relaunches; another user on the device gets their own', async () => {
    const [first, second] = openidsIn(homeExperiment, 'b', 2, 'rl')
    const one = launch({ openid: first })
    await ready(one)
    one.exp.variant(HOME)
    expect(await storedExposures(one)).toHaveLength(1)
    one.tracker.stopTracker()

    // A warm relaunch, then one after the cache went stale: shown again, never logged again.
    const two = launch({ fake: one.fake })
    expect(two.exp.variant(HOME).key).toBe('b')
    const entry = two.fake.storage.get(CACHE_KEY) as { t: number }
    two.tracker.stopTracker()
    two.fake.storage.set(CACHE_KEY, { ...(two.fake.storage.get(CACHE_KEY) as object), t: entry.t - 3600_000 })
    const three = launch({ fake: one.fake })
    expect(three.exp.variant(HOME).key).toBe('b')
    expect(exposures(three)).toEqual([])
    expect(await storedExposures(three)).toEqual([{ openid: first, props: { experiment: HOME, variant: 'b' } }])
    three.tracker.stopTracker()

    // Someone else on this device (a new openid; the config is fetched for them).
    one.fake.storage.set(OPENID_KEY, second)
    one.fake.storage.delete(CACHE_KEY)
    const four = launch({ fake: one.fake })
    await ready(four)
    expect(four.exp.variant(HOME)).toMatchObject({ key: 'b', inExperiment: true })
    const stored = await storedExposures(four)
    expect(stored).toEqual([
      { openid: first, props: { experiment: HOME, variant: 'b' } },
      { openid: second, props: { experiment: HOME, variant: 'b' } },
    ])
  })

  test('without consent nothing is logged or remembered; once agreed, the next showing logs it', async () => {
    const [openid] = openidsIn(homeExperiment, 'control', 1, 'cs')
    const d = launch({ openid, consent: false })
    await ready(d)
    expect(d.exp.variant(HOME)).toMatchObject({ key: 'control', inExperiment: true })
    expect(d.tracker.pending()).toEqual([])
    expect(d.fake.storage.has(SEEN_KEY)).toBe(false)

    d.tracker.setConsent(true)
    d.exp.variant(HOME)
    d.exp.variant(HOME)
    expect(exposures(d)).toEqual([{ experiment: HOME, variant: 'control' }])
    expect(d.fake.storage.get(SEEN_KEY)).toEqual({ id: openid, exp: { [HOME]: 'control' } })
  })
})

// ---- the cache ----------------------------------------------------------------------------------

describe('cache', () => {
  test('warm: variant() and flag() answer synchronously from storage, without a request (and even before initExperiments)', async () => {
    const [openid] = openidsIn(homeExperiment, 'b', 1, 'wm')
    const first = launch({ openid })
    await ready(first)
    expect(configCalls(first)).toHaveLength(1)
    first.tracker.stopTracker()

    const dead = await deadUrl()
    const warm = launch({ fake: first.fake, url: dead })
    const requests = warm.fake.log.requests.length
    expect(warm.exp.isReady()).toBe(true)
    expect(warm.exp.variant(HOME)).toMatchObject({ key: 'b', inExperiment: true })
    expect(warm.exp.flag('home_show_read_count', false)).toBe(true)
    for (let i = 0; i < 1000; i++) warm.exp.variant(HOME)
    await expect(warm.exp.whenReady(10)).resolves.toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(warm.fake.log.requests).toHaveLength(requests) // fresh: not even a background refresh
    warm.tracker.stopTracker()

    const uninitialized = launch({ fake: first.fake, url: dead, init: false })
    expect(uninitialized.exp.variant(HOME)).toMatchObject({ key: 'b', inExperiment: true })
    expect(uninitialized.fake.log.requests).toHaveLength(requests)
  })

  test('stale: served at once, then refreshed in the background (the next launch gets the new config)', async () => {
    const first = launch({ openid: 'dev-stalecache01' })
    await ready(first)
    first.tracker.stopTracker()
    const earlier = configCalls(first).length
    const entry = first.fake.storage.get(CACHE_KEY) as { v: number; t: number; d: ClientConfig }
    first.fake.storage.set(CACHE_KEY, { ...entry, t: Date.now() - 11 * 60_000, d: { ...entry.d, flags: [] } })

    const d = launch({ fake: first.fake })
    expect(d.exp.isReady()).toBe(true)
    expect(d.exp.flag('home_show_read_count', false)).toBe(false) // the stale copy has no flag: the fallback
    await until(() => Date.now() - (d.fake.storage.get(CACHE_KEY) as { t: number }).t < 10_000, 'the background refresh')
    expect(configCalls(d)).toHaveLength(earlier + 1)
    expect(d.exp.flag('home_show_read_count', false)).toBe(true)
  })

  test('a corrupted cached config is discarded and fetched again', async () => {
    const fake = createWx()
    fake.storage.set(CACHE_KEY, { v: 1, t: Date.now(), d: { flags: 'none', experiments: [], me: { id: 7 } } })
    const d = launch({ fake, openid: 'dev-corrupted001' })
    expect(d.exp.isReady()).toBe(false)
    await ready(d)
    expect(configCalls(d)).toHaveLength(1)
    expect((d.fake.storage.get(CACHE_KEY) as { d: ClientConfig }).d.me.id).toBe('dev-corrupted001')
  })
})

// ---- a first launch ------------------------------------------------------------------------------

describe('cold launch', () => {
  test('whenReady waits up to its timeout, then says no: the control, unlogged; the late config is used afterwards', async () => {
    const proxy = await startProxy(cloud.url, (path) => (path.endsWith('/functions/experiments') ? 'hold' : 'pass'))
    servers.push(proxy)
    const [openid] = openidsIn(homeExperiment, 'b', 1, 'cl')
    const d = launch({ openid, url: proxy.url })
    expect(d.exp.isReady()).toBe(false)
    const started = performance.now()
    await expect(d.exp.whenReady(300)).resolves.toBe(false)
    // Not before its timeout (the config is held, so nothing else could end the wait).
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    expect(d.exp.variant(HOME)).toEqual(CONTROL_ONLY)
    expect(d.exp.flag('home_show_read_count', false)).toBe(false)
    expect(exposures(d)).toEqual([])

    proxy.release()
    await until(() => d.exp.isReady(), 'the late config')
    expect(d.exp.variant(HOME)).toMatchObject({ key: 'b', inExperiment: true })
    expect(exposures(d)).toEqual([{ experiment: HOME, variant: 'b' }])
  })

  test('an unreachable cloud: whenReady says no as soon as the fetch has failed, not at the timeout', async () => {
    const d = launch({ url: await deadUrl() })
    // A timeout far beyond the test's: answering at all means the failed fetch ended the wait.
    await expect(d.exp.whenReady(3_600_000)).resolves.toBe(false)
    expect(d.exp.variant(HOME)).toEqual(CONTROL_ONLY)
    expect(d.fake.storage.has(CACHE_KEY)).toBe(false)
  })

  test('a cloud that never answers: whenReady gives up at its timeout', async () => {
    const server = await hangingServer()
    servers.push(server)
    const d = launch({ url: server.url })
    await expect(d.exp.whenReady(100)).resolves.toBe(false)
    expect(d.exp.variant(HOME)).toEqual(CONTROL_ONLY)
  })

  test('before initExperiments nothing is on its way: whenReady answers false at once', async () => {
    const d = launch({ init: false })
    // Settled before the next macrotask: no timer, no request.
    await expect(Promise.race([d.exp.whenReady(3_600_000), sleep(0).then(() => 'still waiting')])).resolves.toBe(false)
    expect(configCalls(d)).toEqual([])
  })
})

// ---- forced variants ----------------------------------------------------------------------------

describe('forced variants (QA)', () => {
  test('by the launch query: the forced variant is shown and not logged', async () => {
    const [openid] = openidsIn(homeExperiment, 'control', 1, 'fq')
    const d = launch({ openid, query: { exp: `${HOME}:b` } })
    await ready(d)
    expect(d.exp.variant(HOME)).toEqual({ key: 'b', value: homeExperiment.variants[1]!.value, inExperiment: true })
    expect(exposures(d)).toEqual([])
    expect(d.fake.storage.has(SEEN_KEY)).toBe(false)
  })

  test('several at once, URL-encoded; an unknown experiment or variant forces nothing; a release build ignores the query', async () => {
    const server = await standIn((openid) => config(openid, { experiments: [split('one'), split('two'), split('three')] }))
    const ids = ['dev-forcedmulti1', 'dev-forcedmulti2']
    for (const openid of ids) {
      const d = launch({ openid, url: server.url, query: { exp: encodeURIComponent('one:b, two:control,three:zzz,nope:b,bad') } })
      await ready(d)
      expect(d.exp.variant('one')).toMatchObject({ key: 'b', inExperiment: true })
      expect(d.exp.variant('two')).toMatchObject({ key: 'control', inExperiment: true })
      const three = assignVariant(split('three'), openid).variant
      expect(d.exp.variant('three')).toMatchObject({ key: three, inExperiment: true })
      expect(exposures(d)).toEqual([{ experiment: 'three', variant: three }])
    }

    // A release build calls through wx.cloud (never a local cloud), which the fake routes to the stand-in.
    const release = createWx()
    release.envVersion = 'release'
    const [openid] = openidsIn(split('one'), 'control', 1, 'rel')
    installCloud(release, server.url, openid!)
    const d = launch({ fake: release, openid, url: server.url, query: { exp: 'one:b' } })
    await ready(d)
    expect(d.exp.variant('one')).toMatchObject({ key: 'control', inExperiment: true })
    expect(exposures(d)).toEqual([{ experiment: 'one', variant: 'control' }])
  })

  test('by the admin override list (me.forced): shown to that user only, not logged', async () => {
    const qa = 'dev-qaoverride01'
    // The variant QA would not get by assignment.
    const forcedKey = assignVariant(split('qa_copy'), qa).variant === 'b' ? 'control' : 'b'
    await save(cloud.url, ADMIN, experimentDoc('qa_copy', 'QA 覆盖', { overrides: { [qa]: forcedKey } }))
    const d = launch({ openid: qa })
    await ready(d)
    expect((d.fake.storage.get(CACHE_KEY) as { d: ClientConfig }).d.me.forced).toEqual({ qa_copy: forcedKey })
    expect(d.exp.variant('qa_copy')).toEqual({ key: forcedKey, value: undefined, inExperiment: true })
    expect(exposures(d)).toEqual([])

    const someone = launch({ openid: 'dev-notqauser001' })
    await ready(someone)
    const assigned = assignVariant(split('qa_copy'), 'dev-notqauser001').variant
    expect(someone.exp.variant('qa_copy')).toMatchObject({ key: assigned, inExperiment: true })
    expect(exposures(someone)).toEqual([{ experiment: 'qa_copy', variant: assigned }])
  })

  test('an override naming a variant the experiment does not have is ignored', async () => {
    const server = await standIn((openid) => config(openid, { experiments: [split('one')], me: { forced: { one: 'gone' } } }))
    const d = launch({ openid: 'dev-overridegone', url: server.url })
    await ready(d)
    const assigned = assignVariant(split('one'), 'dev-overridegone').variant
    expect(d.exp.variant('one')).toMatchObject({ key: assigned, inExperiment: true })
    expect(exposures(d)).toEqual([{ experiment: 'one', variant: assigned }])
  })
})

// ---- bad config ---------------------------------------------------------------------------------

describe('missing or invalid config: the control and the fallback, never a throw', () => {
  /** A config that would work, before each case breaks one part of it. */
  const usable = (openid: string) => config(openid, { experiments: [allB('one')], flags: [{ key: 'on', type: 'boolean', defaultValue: true, rules: [] }] })
  const variants = (...pairs: [unknown, unknown][]) => pairs.map(([key, weight]) => ({ key, weight, value: String(key) }))
  test.each<[string, Record<string, unknown>]>([
    ['weights that do not sum to 1', { variants: variants(['control', 0.6], ['b', 0.6]) }],
    ['duplicate variant keys', { variants: variants(['control', 0.5], ['control', 0.5]) }],
    ['a single variant', { variants: variants(['control', 1]) }],
    ['no variants', { variants: [] }],
    ['variants that are not a list', { variants: 'control,b' }],
    ['a weight that is not a number', { variants: variants(['control', '0.5'], ['b', 0.5]) }],
    ['a negative weight', { variants: variants(['control', -0.5], ['b', 1.5]) }],
    ['a variant without a key', { variants: [{ weight: 0.5 }, { key: 'b', weight: 0.5 }] }],
    ['a variant that is not an object', { variants: ['control', { key: 'b', weight: 1 }] }],
    ['a coverage of 0', { coverage: 0 }],
    ['a coverage above 1', { coverage: 1.5 }],
    ['no coverage', { coverage: undefined }],
    ['channels that are not a list', { targeting: { channels: 'poster' } }],
    ['a minSdk that is not a string', { targeting: { minSdk: 2 } }],
    ['targeting that is not an object', { targeting: 'new users' }],
  ])('an experiment with %s', async (_what, broken) => {
    const server = await standIn((openid) => config(openid, { experiments: [allB('broken', broken), allB('fine')] }))
    const d = launch({ openid: 'dev-brokenexp001', url: server.url })
    await ready(d)
    expect(d.exp.variant('broken')).toEqual(CONTROL_ONLY)
    expect(exposures(d)).toEqual([])
    // The rest of the config still works.
    expect(d.exp.variant('fine')).toEqual({ key: 'b', value: 'B', inExperiment: true })
  })

  test('an experiment the config does not have: the control, unlogged', async () => {
    const d = launch({ openid: 'dev-unknownexp01' })
    await ready(d)
    expect(d.exp.variant('no_such_experiment')).toEqual(CONTROL_ONLY)
    expect(exposures(d)).toEqual([])
  })

  test.each<[string, (openid: string) => unknown]>([
    ['null', () => null],
    ['a string', () => 'config'],
    ['flags that are not a list', (openid) => ({ ...usable(openid), flags: {} })],
    ['without experiments', (openid) => ({ ...usable(openid), experiments: undefined })],
    ['without me', (openid) => ({ ...usable(openid), me: undefined })],
    ['an id that is not a string', (openid) => ({ ...usable(openid), me: { id: 42, isNew: false, forced: {} } })],
    ['without the forced map', (openid) => ({ ...usable(openid), me: { id: openid, isNew: false } })],
  ])('a config answer that is %s is neither used nor cached', async (_what, answer) => {
    const server = await standIn(answer)
    const d = launch({ openid: 'dev-badanswer001', url: server.url })
    await expect(d.exp.whenReady(2000)).resolves.toBe(false)
    expect(server.asked.length).toBeGreaterThanOrEqual(1)
    expect(d.exp.isReady()).toBe(false)
    expect(d.exp.variant('one')).toEqual(CONTROL_ONLY)
    expect(d.exp.flag('on', false)).toBe(false)
    expect(d.fake.storage.has(CACHE_KEY)).toBe(false)
  })
})

// ---- flags --------------------------------------------------------------------------------------

describe('flags', () => {
  const FLAGS = [
    { key: 'on', type: 'boolean', defaultValue: true, rules: [] },
    { key: 'label', type: 'string', defaultValue: 'default', rules: [{ when: { newUsers: true }, value: 'new' }, { when: {}, value: 'everyone' }, { when: { newUsers: true }, value: 'never' }] },
    { key: 'limit', type: 'number', defaultValue: 3, rules: [] },
    { key: 'stored_as_text', type: 'number', defaultValue: '3', rules: [] },
    { key: 'settings', type: 'json', defaultValue: { size: 'large' }, rules: [] },
    { key: 'steps', type: 'json', defaultValue: [1, 2], rules: [] },
    { key: 'nothing', type: 'json', defaultValue: null, rules: [] },
    { key: 'rule_wrong_type', type: 'boolean', defaultValue: false, rules: [{ when: {}, value: 'yes' }] },
    { key: 'rules_not_a_list', type: 'boolean', defaultValue: true, rules: 'all' },
    { key: 'rule_bad_when', type: 'boolean', defaultValue: false, rules: [{ when: { percentage: '100' }, value: true }, 'not a rule'] },
  ]

  test('typed values: the first matching rule, else the default; another type (or none) gives the fallback', async () => {
    const server = await standIn((openid) => config(openid, { flags: FLAGS, me: { isNew: openid.endsWith('new') } }))
    const returning = launch({ openid: 'dev-flagsreturn0', url: server.url })
    await ready(returning)
    const { flag } = returning.exp
    expect(flag('on', false)).toBe(true)
    expect(flag('label', '')).toBe('everyone')
    expect(flag('limit', 10)).toBe(3)
    expect(flag('stored_as_text', 10)).toBe(10)
    expect(flag('settings', {})).toEqual({ size: 'large' })
    expect(flag('settings', [] as unknown[])).toEqual([]) // an object is not a list
    expect(flag('steps', [] as number[])).toEqual([1, 2])
    expect(flag('nothing', { size: 'small' })).toEqual({ size: 'small' })
    expect(flag('rule_wrong_type', true)).toBe(true)
    expect(flag('rules_not_a_list', false)).toBe(true)
    expect(flag('rule_bad_when', true)).toBe(false) // the malformed rule never matches: the default
    expect(flag('on', 'yes')).toBe('yes') // asked as another type than it has
    expect(flag('missing', 42)).toBe(42)

    const fresh = launch({ openid: 'dev-flagsnew0new', url: server.url })
    await ready(fresh)
    expect(fresh.exp.flag('label', '')).toBe('new')
  })

  test('the real default flag home_show_read_count, and an admin turning it off for returning users', async () => {
    // A user the cloud first saw long ago (not new), and one it has never seen (new).
    const returning = 'dev-readcount001'
    const reply = await adminRequest(cloud.url, {
      action: 'database.insertDocument',
      collectionName: 'users',
      data: [JSON.stringify({ _id: returning, openid: returning, firstSeenDay: '2020-01-01' })],
    })
    expect(reply.body.data.insertedIds).toEqual([returning])
    const before = launch({ openid: returning })
    await ready(before)
    expect(before.exp.flag('home_show_read_count', false)).toBe(true)

    const readCount = (over: Record<string, unknown>) => save(cloud.url, ADMIN, { _id: 'home_show_read_count', kind: 'flag', type: 'boolean', ...over })
    await readCount({ defaultValue: false, rules: [{ when: { newUsers: true }, value: true }] })
    try {
      const after = launch({ openid: returning })
      await ready(after)
      expect(after.exp.flag('home_show_read_count', true)).toBe(false)
      const newcomer = launch({ openid: 'dev-readcount002' })
      await ready(newcomer)
      expect(newcomer.exp.flag('home_show_read_count', false)).toBe(true)
    } finally {
      await readCount({ defaultValue: true, rules: [] })
    }
  })
})

// ---- targeting ----------------------------------------------------------------------------------

describe('targeting, evaluated on the device', () => {
  const WHEN = {
    new_users: { newUsers: true },
    returning: { newUsers: false },
    poster: { channels: ['poster', 'qr'] },
    android: { platforms: ['android', 'ohos'] },
    sdk: { minSdk: '3.2.0' },
  } as const
  type Key = keyof typeof WHEN

  async function evaluate(facts: { isNew: boolean; channel?: string; platform?: string; sdk?: string; legacy?: boolean }): Promise<Record<Key, [boolean, boolean]>> {
    const server = await standIn((openid) =>
      config(openid, {
        experiments: Object.entries(WHEN).map(([key, when]) => allB(key, { targeting: when })),
        flags: Object.entries(WHEN).map(([key, when]) => ({ key: `f_${key}`, type: 'boolean', defaultValue: false, rules: [{ when, value: true }] })),
        me: { isNew: facts.isNew, ...(facts.channel ? { channel: facts.channel } : {}) },
      }),
    )
    const fake = createWx()
    if (facts.legacy) {
      // A base library before getDeviceInfo / getAppBaseInfo: getSystemInfoSync answers.
      fake.wx.getDeviceInfo = undefined
      fake.wx.getAppBaseInfo = undefined
      fake.wx.getSystemInfoSync = () => ({ platform: facts.platform, SDKVersion: facts.sdk })
    } else {
      fake.wx.getDeviceInfo = () => ({ platform: facts.platform })
      fake.wx.getAppBaseInfo = () => ({ SDKVersion: facts.sdk })
    }
    const d = launch({ fake, openid: 'dev-targeting001', url: server.url })
    await ready(d)
    const out = {} as Record<Key, [boolean, boolean]>
    for (const key of Object.keys(WHEN) as Key[]) {
      const v = d.exp.variant(key)
      // In the experiment means `b` (the control weighs 0); outside it, the control.
      expect(v.key).toBe(v.inExperiment ? 'b' : 'control')
      out[key] = [v.inExperiment, d.exp.flag(`f_${key}`, false)]
    }
    // Exposures only for the experiments the user is in.
    expect(exposures(d).map((e) => e.experiment).sort()).toEqual(Object.entries(out).filter(([, [inside]]) => inside).map(([key]) => key).sort())
    return out
  }

  const both = (flags: Record<Key, boolean>) => Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, [v, v]]))

  test.each<[string, Parameters<typeof evaluate>[0], Record<Key, boolean>]>([
    ['a new user from a poster on Android 3.2.0', { isNew: true, channel: 'poster', platform: 'android', sdk: '3.2.0' }, { new_users: true, returning: false, poster: true, android: true, sdk: true }],
    ['a returning user, no channel, iOS 3.1.9', { isNew: false, platform: 'ios', sdk: '3.1.9' }, { new_users: false, returning: true, poster: false, android: false, sdk: false }],
    ['a returning user from another channel on HarmonyOS 3.10.0', { isNew: false, channel: 'search', platform: 'ohos', sdk: '3.10.0' }, { new_users: false, returning: true, poster: false, android: true, sdk: true }],
    ['a device that does not say its platform or version', { isNew: true, channel: 'qr' }, { new_users: true, returning: false, poster: true, android: false, sdk: false }],
    ['an old base library (getSystemInfoSync only), Android 2.9.0', { isNew: false, platform: 'android', sdk: '2.9.0', legacy: true }, { new_users: false, returning: true, poster: false, android: true, sdk: false }],
  ])('%s', async (_who, facts, expected) => {
    expect(await evaluate(facts)).toEqual(both(expected))
  })

  test('a percentage: the users inRollout() puts in, hashed with the experiment’s rollout seed (the flag’s key for flags)', async () => {
    const server = await standIn((openid) =>
      config(openid, {
        experiments: [allB('half', { targeting: { percentage: 50 } })],
        flags: [{ key: 'half_flag', type: 'boolean', defaultValue: false, rules: [{ when: { percentage: 30 }, value: true }] }],
      }),
    )
    const ids = Array.from({ length: 24 }, (_, i) => `dev-percent${String(i).padStart(5, '0')}`)
    const inExperiment = ids.map((id) => inRollout(rolloutSeed('half'), id, 50))
    const inFlag = ids.map((id) => inRollout('half_flag', id, 30))
    // Both sides of each rollout are exercised.
    expect(new Set(inExperiment).size).toBe(2)
    expect(new Set(inFlag).size).toBe(2)
    for (const [i, id] of ids.entries()) {
      const d = launch({ openid: id, url: server.url })
      await ready(d)
      expect([id, d.exp.variant('half').inExperiment, d.exp.flag('half_flag', false)]).toEqual([id, inExperiment[i], inFlag[i]])
      expect(exposures(d)).toHaveLength(inExperiment[i] ? 1 : 0)
      d.tracker.stopTracker()
    }
  })

  test('coverage: users outside it get the control without an exposure', async () => {
    const exp = split('covered', { coverage: 0.2 })
    const server = await standIn((openid) => config(openid, { experiments: [exp] }))
    const outside = Array.from({ length: 40 }, (_, i) => `dev-coverage${String(i).padStart(4, '0')}`).filter((id) => !assignVariant(exp, id).inExperiment)
    expect(outside.length).toBeGreaterThan(0)
    const d = launch({ openid: outside[0], url: server.url })
    await ready(d)
    expect(d.exp.variant('covered')).toEqual({ key: 'control', value: 'A', inExperiment: false })
    expect(exposures(d)).toEqual([])
  })
})
