/**
 * Simulated devices that run the mini-program's real tracking code: the tracker, the app glue
 * (core/app-tracking.ts, what app.ts calls), attribution, the monitor, the page behavior and the
 * cloud client, bundled once with esbuild and instantiated per simulated app launch with the
 * device's own `wx`, clock and timers. Thousands of devices can then run side by side in one Node
 * process, each with its own module state (a cold start is a fresh instance, as on a phone), for
 * microseconds per launch — reloading the modules through require.cache costs milliseconds.
 *
 * The device's clock is simulated (`Date` inside the bundle is bound to it), so a device can live
 * on a past day: event timestamps and UUIDv7 ids carry the simulated time. Timers are simulated
 * too and fire only when the clock is advanced.
 */
import path from 'node:path'
import * as esbuild from 'esbuild'
import type { TrackOutputs } from '../../cloudfunctions/track/api'
import type { EventName, EventProps, TrackedEvent } from '../../cloudfunctions/track/plan'
import { ROOT } from '../paths'
import { httpRequest, type RequestOptions } from './fake-wx'

const CORE = path.join(ROOT, 'miniprogram/core')

/** What the bundle exports (the device modules' own types need the mini-program's `wx` typings). */
const ENTRY = `
export { appLaunched, appShown, appHidden, consentGiven } from './app-tracking'
export { initTracker, setConsent, hasConsent, track, flush, pending, stopTracker, anonymousId, sessionId } from './tracker'
export { configureCloud } from './cloud'
export { api } from './api'
export { startMonitor } from './monitor'
export { trackedPage } from './tracked-page'
`

/** Launch and show options as WeChat passes them to App.onLaunch / onShow. */
export interface EntryOptions {
  path?: string
  scene?: number
  query?: Record<string, string | undefined>
}

/** The tracker's options (core/tracker.ts; repeated here: the node tsconfig cannot load mini-program sources, which use `wx`). */
export interface TrackerOptions {
  flushAt: number
  flushIntervalMs: number
  maxQueue: number
  maxBatch: number
  retryBaseMs: number
  retryMaxMs: number
}

type Method = (this: PageInstance, ...args: unknown[]) => unknown

/** What `Behavior({...})` was given in core/tracked-page.ts (our `Behavior` returns its definition). */
interface BehaviorDefinition {
  methods: Record<string, Method>
  definitionFilter(definition: { methods?: Record<string, Method> }): void
}

export interface DeviceModules {
  appLaunched(options: EntryOptions): void
  appShown(options: EntryOptions): void
  appHidden(): void
  consentGiven(): void
  initTracker(options?: Partial<TrackerOptions>): void
  setConsent(granted: boolean): void
  hasConsent(): boolean
  track<N extends EventName>(name: N, props: EventProps<N>): void
  flush(): Promise<void>
  pending(): readonly TrackedEvent[]
  stopTracker(): void
  anonymousId(): string
  sessionId(): string
  configureCloud(overrides: { mode?: 'local' | 'cloud'; localCloudUrl?: string; timeoutMs?: number; retryBaseMs?: number }): void
  api: {
    content: {
      list(input: { limit?: number; category?: string }): Promise<unknown>
      detail(input: { id: string }): Promise<unknown>
    }
  }
  startMonitor(): void
  trackedPage: BehaviorDefinition
}

interface DeviceGlobals {
  wx: Record<string, unknown>
  Behavior: (definition: unknown) => unknown
  getCurrentPages: () => unknown[]
  Date: DateConstructor
  setTimeout: (fn: () => void, ms?: number) => number
  clearTimeout: (id?: number) => void
}

export type DeviceCode = (globals: DeviceGlobals) => DeviceModules

let compiled: Promise<DeviceCode> | undefined

/** The device modules, bundled once per process; each call of the result is a fresh app instance. */
export function loadDeviceCode(): Promise<DeviceCode> {
  compiled ??= (async () => {
    const result = await esbuild.build({
      stdin: { contents: ENTRY, resolveDir: CORE, loader: 'ts' },
      bundle: true,
      format: 'cjs',
      target: 'es2020',
      write: false,
      logLevel: 'silent',
    })
    const code = result.outputFiles[0]!.text
    // The globals the mini-program runtime provides are this function's parameters: each instance gets its own.
    const factory = new Function(
      'wx',
      'Behavior',
      'getCurrentPages',
      'Date',
      'setTimeout',
      'clearTimeout',
      `var module = { exports: {} }, exports = module.exports;\n${code}\nreturn module.exports;`,
    ) as (...globals: unknown[]) => DeviceModules
    return (g: DeviceGlobals) => factory(g.wx, g.Behavior, g.getCurrentPages, g.Date, g.setTimeout, g.clearTimeout)
  })()
  return compiled
}

/** A simulated clock (ms since epoch), shared by the app instances of one device while it is in use. */
export class SimClock {
  constructor(
    public now: number,
    /** The clock never passes this (a device on today must not report the future). */
    public limit = Number.POSITIVE_INFINITY,
  ) {}
}

/** `Date` as the device code sees it: `Date.now()` and `new Date()` read the simulated clock. */
function dateOn(clock: SimClock): DateConstructor {
  class SimDate extends Date {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(clock.now)
      else super(...(args as [number]))
    }
    static override now(): number {
      return clock.now
    }
  }
  return SimDate as DateConstructor
}

/** What a call of a cloud function answered on the device itself (not sent over HTTP). */
export type LocalReply = { result: unknown; latencyMs: number } | { failure: string; latencyMs: number }

export interface TrackReply {
  events: TrackedEvent[]
  /** HTTP status; 0 when the request failed on the way (the tracker retries). */
  status: number
  result?: { ok: true; data: TrackOutputs['ingest'] } | { ok: false; error: { code: string; message: string } }
}

export interface DeviceOptions {
  /** The device's storage (wx.setStorageSync): kept across launches by the caller. */
  storage: Map<string, unknown>
  clock: SimClock
  /** Local-cloud URL: cloud calls not answered by `answer` go there over HTTP. */
  url: string
  /**
   * The device's OPENID on the local cloud (core/cloud.ts sends it as x-wx-openid, from storage):
   * `dev-` and 12 lower-case letters or digits.
   */
  openid: string
  /** Answers a cloud call on the device (a canned reply, or a network failure); undefined sends it. */
  answer?: (fn: string, event: { action: string; data: unknown }) => LocalReply | undefined
  /** Sees every `track` call that reached the cloud, with the events sent and the reply. */
  onTrackReply?: (reply: TrackReply) => void
  tracker?: Partial<TrackerOptions>
  timeoutMs?: number
}

/** Where core/cloud.ts keeps the local-mode OPENID (LOCAL_OPENID_KEY there). */
const LOCAL_OPENID_KEY = 'local-cloud:openid'
const LOCAL_OPENID = /^dev-[a-z0-9]{12}$/

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A page instance: the page's own methods wrapped by the real tracked-page behavior. */
export interface PageInstance {
  route: string
  data: Record<string, unknown>
  methods: Record<string, (...args: unknown[]) => unknown>
}

/**
 * One app instance on a simulated device (a cold start makes a new one; the storage carries over).
 * Drive it as app.ts does: launch(), show(), the pages' methods, hide(), then settle().
 */
export class Device {
  readonly modules: DeviceModules
  readonly wx: Record<string, unknown>
  private inflight = 0
  private idle: (() => void)[] = []
  private timers: { id: number; due: number; fn: () => void }[] = []
  private nextTimer = 1
  private readonly listeners = { error: [] as ((e: unknown) => void)[], rejection: [] as ((r: unknown) => void)[], notFound: [] as ((r: unknown) => void)[] }

  constructor(
    code: DeviceCode,
    readonly options: DeviceOptions,
  ) {
    if (!LOCAL_OPENID.test(options.openid)) throw new Error(`a local-mode openid is dev- and 12 lower-case letters or digits, got ${options.openid}`)
    options.storage.set(LOCAL_OPENID_KEY, options.openid)
    this.wx = this.makeWx()
    this.modules = code({
      wx: this.wx,
      Behavior: (definition) => definition,
      getCurrentPages: () => [],
      Date: dateOn(options.clock),
      setTimeout: (fn, ms = 0) => {
        const id = this.nextTimer++
        this.timers.push({ id, due: options.clock.now + ms, fn })
        return id
      },
      clearTimeout: (id) => {
        this.timers = this.timers.filter((t) => t.id !== id)
      },
    })
  }

  get clock(): SimClock {
    return this.options.clock
  }

  /** Time passes on the device: the clock moves on and due timers fire, in order. */
  advance(ms: number): void {
    const clock = this.options.clock
    clock.now = Math.min(clock.now + Math.max(0, Math.round(ms)), clock.limit)
    for (;;) {
      const due = this.timers.filter((t) => t.due <= clock.now).sort((a, b) => a.due - b.due)[0]
      if (!due) return
      this.timers = this.timers.filter((t) => t !== due)
      due.fn()
    }
  }

  /** App.onLaunch of miniprogram/app.ts: the cloud client, the tracker, the monitor, then the launch. */
  launch(options: EntryOptions): void {
    const m = this.modules
    m.configureCloud({ mode: 'local', localCloudUrl: this.options.url, timeoutMs: this.options.timeoutMs ?? 30_000 })
    m.initTracker(this.options.tracker)
    m.startMonitor()
    m.appLaunched(options)
  }

  /** App.onShow. */
  show(options: EntryOptions): void {
    this.modules.appShown(options)
  }

  /** App.onHide: the session ends (app_hide, and the tracker sends what it holds). */
  hide(): void {
    this.modules.appHidden()
  }

  /** The runtime calling wx.onError listeners (the monitor reports js_error). */
  scriptError(message: string): void {
    for (const listener of [...this.listeners.error]) listener(message)
  }

  /** A page as the runtime builds it: the page's own methods, wrapped by the real tracked-page behavior. */
  page(route: string, data: Record<string, unknown>, own: Record<string, Method>): PageInstance {
    const definition = { methods: { ...own } }
    this.modules.trackedPage.definitionFilter(definition)
    const instance: PageInstance = { route, data, methods: {} }
    for (const [name, method] of Object.entries({ ...this.modules.trackedPage.methods, ...definition.methods })) {
      instance.methods[name] = (...args: unknown[]) => method.apply(instance, args)
    }
    return instance
  }

  /** Resolves once nothing is in flight and every callback it triggered has run (replies handled, follow-up sends issued). */
  private async quiet(): Promise<void> {
    for (;;) {
      if (this.inflight > 0) await new Promise<void>((resolve) => this.idle.push(resolve))
      await immediate()
      if (this.inflight === 0) return
    }
  }

  /**
   * Waits until the tracker has delivered everything it holds (what the app does over its next
   * launches: failed sends are retried). Throws when the cloud keeps failing.
   */
  async settle(maxFailures = 8): Promise<void> {
    let failures = 0
    let left = Number.POSITIVE_INFINITY
    for (;;) {
      await this.quiet()
      const pending = this.modules.pending().length
      if (pending === 0) return
      if (pending < left) failures = 0
      else if (++failures > maxFailures) throw new Error(`the tracker cannot deliver its ${pending} events (the cloud keeps failing)`)
      left = pending
      if (failures > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** failures))
      await this.modules.flush()
    }
  }

  /** The app is killed: nothing more is tracked or sent by this instance (its storage stays). */
  kill(): void {
    this.modules.stopTracker()
    this.timers = []
  }

  private request(options: RequestOptions): void {
    const match = /\/functions\/([^/?]+)$/.exec(options.url)
    const fn = match?.[1] ?? ''
    const event = options.data as { action: string; data: unknown }
    const local = this.options.answer?.(fn, event)
    if (local) {
      // Answered on the device after the simulated latency (a request is never synchronous).
      queueMicrotask(() => {
        this.advance(local.latencyMs)
        if ('failure' in local) options.fail?.({ errMsg: local.failure })
        else options.success?.({ statusCode: 200, data: { result: local.result, requestID: '' }, header: {} })
        options.complete?.()
      })
      return
    }
    this.inflight++
    httpRequest({
      ...options,
      success: (res) => {
        if (fn === 'track') {
          const body = res.data as { result?: TrackReply['result'] } | null
          this.options.onTrackReply?.({ events: (event.data as { events: TrackedEvent[] }).events, status: res.statusCode, result: body?.result })
        }
        options.success?.(res)
      },
      fail: (err) => {
        if (fn === 'track') this.options.onTrackReply?.({ events: (event.data as { events: TrackedEvent[] }).events, status: 0 })
        options.fail?.(err)
      },
      complete: () => {
        options.complete?.()
        if (--this.inflight === 0) for (const resolve of this.idle.splice(0)) resolve()
      },
    })
  }

  private makeWx(): Record<string, unknown> {
    const { storage } = this.options
    const noop = () => undefined
    return {
      // Stored by reference: the device code replaces what it stores rather than changing it in place.
      getStorageSync: (key: string) => (storage.has(key) ? storage.get(key) : ''),
      setStorageSync: (key: string, value: unknown) => void storage.set(key, value),
      removeStorageSync: (key: string) => void storage.delete(key),
      request: (options: RequestOptions) => this.request(options),
      getAccountInfoSync: () => ({ miniProgram: { appId: 'wx0000000000000000', envVersion: 'develop', version: '' } }),
      // The user has agreed to the privacy terms: nothing left to authorize (answered asynchronously, as on a device).
      getPrivacySetting: (options: { success?: (res: { needAuthorization: boolean; privacyContractName: string }) => void; complete?: () => void }) =>
        queueMicrotask(() => {
          options.success?.({ needAuthorization: false, privacyContractName: '《小程序隐私保护指引》' })
          options.complete?.()
        }),
      onError: (listener: (e: unknown) => void) => void this.listeners.error.push(listener),
      onUnhandledRejection: (listener: (r: unknown) => void) => void this.listeners.rejection.push(listener),
      onPageNotFound: (listener: (r: unknown) => void) => void this.listeners.notFound.push(listener),
      showShareMenu: noop,
      navigateTo: noop,
      reLaunch: noop,
      setNavigationBarTitle: noop,
    }
  }
}

/** Lets asynchronous device work that needs no network (the privacy answer, local replies) finish. */
export function deviceTick(): Promise<void> {
  return immediate()
}
