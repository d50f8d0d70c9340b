/**
 * Flags and experiments on the device. The config (running experiments, flags, and who the user is
 * for targeting) comes from `experiments.config` at launch through the storage cache with
 * stale-while-revalidate, so a repeat launch reads it synchronously and never waits; a first launch
 * may wait briefly with `whenReady`. Assignment hashes the user's OPENID (`me.id`) with the same pure
 * code the cloud runs (bucketing.ts), so a user sees the same variant on every device.
 *
 * Exposure: the first time a user is shown a variant (`variant()` returns it in the experiment), an
 * `experiment_viewed` event is tracked, once per user and experiment (remembered in storage).
 * Forced variants (launch query `exp=<key>:<variant>`, or the admin override list) are shown but
 * never logged, and users outside coverage or targeting get the control without an exposure.
 * Config that is missing or malformed gives the control and the fallback: nothing here throws.
 */
import type { ClientConfig, ExperimentConfig } from '../../cloudfunctions/experiments/api'
import { api } from './api'
import { assignVariant, matchesTargeting, rolloutSeed, type TargetUser } from './bucketing'
import { type CachePolicy, readCache, swr } from './cache'
import { CACHED, FRESH_MS as LAUNCH_FRESH_MS, fromLaunch } from './launch'
import { hasConsent, track } from './tracker'

export interface Variant {
  key: string
  /** The variant's configured value (e.g. a tagline); undefined when the experiment is unknown. */
  value: unknown
  /** false: the control because the user is not in the experiment (or it is unknown); log nothing. */
  inExperiment: boolean
}

const CACHE_KEY = CACHED.experiments
const SEEN_KEY = 'experiments:seen'
/** A stopped experiment reaches devices at their next launch after this. */
const FRESH_MS = LAUNCH_FRESH_MS.experiments
const STALE_MS = 30 * 86_400_000
const FORCED = /^([a-z0-9_]{1,48}):([a-z0-9_]{1,32})$/

type Obj = Record<string, any>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isStr = (v: unknown): v is string => typeof v === 'string'
const strings = (v: unknown) => v === undefined || (Array.isArray(v) && v.every(isStr))
const optional = (v: unknown, type: string) => v === undefined || typeof v === type

function isTargeting(t: unknown): boolean {
  return t === undefined || (isObj(t) && optional(t.newUsers, 'boolean') && strings(t.channels) && strings(t.platforms) && optional(t.minSdk, 'string') && optional(t.percentage, 'number'))
}

// No for-of or async below: the official compiler turns them into ES5 helpers several times their size.

/** Usable: two or more variants with distinct keys and weights summing to 1, a coverage in (0, 1]. */
function isExperiment(e: Obj): e is ExperimentConfig {
  const variants: unknown[] = Array.isArray(e.variants) ? e.variants : []
  const keys = variants.map((v) => isObj(v) && v.key)
  // A weight that is not a number ≥ 0 makes the sum NaN, which fails the check.
  const sum = variants.reduce<number>((total, v) => total + (isObj(v) && typeof v.weight === 'number' && v.weight >= 0 ? v.weight : NaN), 0)
  return keys.length > 1 && keys.every(isStr) && new Set(keys).size === keys.length && Math.abs(sum - 1) <= 0.001 && e.coverage > 0 && e.coverage <= 1 && isTargeting(e.targeting)
}

function isConfig(d: unknown): d is ClientConfig {
  return isObj(d) && Array.isArray(d.flags) && Array.isArray(d.experiments) && isObj(d.me) && isStr(d.me.id) && typeof d.me.isNew === 'boolean' && isObj(d.me.forced)
}

const POLICY: CachePolicy<ClientConfig> = { freshMs: FRESH_MS, staleMs: STALE_MS, isValid: isConfig }

/** undefined: storage not read yet; null: no usable config. */
let config: ClientConfig | null | undefined
let user: TargetUser | null = null
let forcedByQuery: Obj = {}
let loading: Promise<boolean> | null = null
/** Experiment → variant already logged for `seen.id` (mirrors storage). */
let seen: { id: string; exp: Record<string, string> } | null = null

function use(data: ClientConfig): void {
  config = data
  user = null
}

function current(): ClientConfig | null {
  if (config === undefined) {
    const cached = readCache(CACHE_KEY, isConfig)
    config = cached && cached.ageMs < STALE_MS ? cached.data : null
  }
  return config
}

/** Targeting facts: the cloud's (id, new user, channel) and the device's (platform, base library). */
function targetUser(c: ClientConfig): TargetUser {
  if (user) return user
  user = { id: c.me.id, isNew: c.me.isNew, channel: c.me.channel }
  try {
    const device = wx.getDeviceInfo ? wx.getDeviceInfo() : wx.getSystemInfoSync()
    const base = wx.getAppBaseInfo ? wx.getAppBaseInfo() : wx.getSystemInfoSync()
    user.platform = device.platform
    user.sdkVersion = base.SDKVersion
  } catch {
    // unknown platform and version: rules that need them do not match
  }
  return user
}

/** `exp=home_value_copy:b,other:control` (QA); not in a release build, where only the admin override list forces. */
function parseForced(raw: string | undefined): Obj {
  const forced: Obj = {}
  try {
    if (!raw || wx.getAccountInfoSync().miniProgram.envVersion === 'release') return forced
    decodeURIComponent(raw)
      .split(',')
      .forEach((pair) => {
        const m = FORCED.exec(pair.trim())
        if (m) forced[m[1]!] = m[2]
      })
  } catch {
    // a malformed query forces nothing
  }
  return forced
}

/** Called once from app.ts onLaunch with the launch query. Fetches the config without blocking anything. */
export function initExperiments(query: Record<string, string | undefined> = {}): void {
  forcedByQuery = parseForced(query.exp)
  // The launch's reply carries the config when the launch made a call; otherwise ask (stale cache, no launch).
  const fetch = () =>
    (fromLaunch('config', (reply) => reply.config) ?? api.experiments.config()).then((data) => {
      if (!isConfig(data)) throw new Error('not a config')
      return data
    })
  loading = swr(CACHE_KEY, POLICY, fetch, use).then(
    ({ data }) => {
      use(data)
      return true
    },
    () => false,
  )
}

/** Whether a config is at hand, so `variant()` gives real assignments now (GrowthBook's `ready`). */
export function isReady(): boolean {
  return current() !== null
}

/**
 * Resolves true once a config is at hand (at once on a warm cache), false after `timeoutMs` or a
 * failed fetch: a page that would rather not switch copy on screen waits this long, then shows the
 * control. Before initExperiments (never in the app: onLaunch runs first) nothing is coming: false.
 */
export function whenReady(timeoutMs: number): Promise<boolean> {
  if (isReady()) return Promise.resolve(true)
  const pending = loading
  if (!pending) return Promise.resolve(false)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    pending.then((ok) => {
      clearTimeout(timer)
      resolve(ok)
    })
  })
}

/** A flag's value for this user: the first matching rule's, else the default; the fallback when missing or of another type. */
export function flag<T>(key: string, fallback: T): T {
  const c = current()
  const f = c?.flags.find((x) => isObj(x) && x.key === key)
  if (!c || !f) return fallback
  const rule = (Array.isArray(f.rules) ? f.rules : []).find((r) => isObj(r) && isTargeting(r.when) && matchesTargeting(r.when, targetUser(c), key))
  const value: unknown = rule ? rule.value : f.defaultValue
  const sameType =
    typeof value === typeof fallback && Array.isArray(value) === Array.isArray(fallback) && (value === null) === (fallback === null) && (typeof value !== 'number' || Number.isFinite(value))
  return sameType ? (value as T) : fallback
}

/** Logs the exposure unless this user was already logged in this variant. Without consent nothing is logged (nor remembered). */
function expose(id: string, experiment: string, key: string): void {
  if (!hasConsent()) return
  if (seen?.id !== id) {
    let stored: unknown
    try {
      stored = wx.getStorageSync(SEEN_KEY)
    } catch {
      // unreadable: start over (the cloud counts a user once anyway)
    }
    seen = isObj(stored) && stored.id === id && isObj(stored.exp) ? (stored as typeof seen) : { id, exp: {} }
  }
  if (seen!.exp[experiment] === key) return
  seen!.exp[experiment] = key
  try {
    wx.setStorageSync(SEEN_KEY, seen)
  } catch {
    // storage full: logged again next launch, and counted once by the cloud
  }
  track('experiment_viewed', { experiment, variant: key })
}

/**
 * The variant to show for experiment `key`, synchronously. Call it when the variant is about to be
 * shown: an assignment in the experiment logs the exposure (once per user and experiment).
 */
export function variant(key: string): Variant {
  const c = current()
  const e = c?.experiments.find((x) => isObj(x) && x.key === key)
  if (!c || !e || !isExperiment(e)) return { key: 'control', value: undefined, inExperiment: false }
  const pick = (i: number, inExperiment: boolean): Variant => ({ key: e.variants[i]!.key, value: e.variants[i]!.value, inExperiment })
  const forced = e.variants.findIndex((v) => v.key === (forcedByQuery[key] ?? c.me.forced[key]))
  if (forced >= 0) return pick(forced, true)
  if (!matchesTargeting(e.targeting, targetUser(c), rolloutSeed(key))) return pick(0, false)
  const a = assignVariant(e, c.me.id)
  if (a.inExperiment) expose(c.me.id, key, a.variant)
  return pick(a.index, a.inExperiment)
}
