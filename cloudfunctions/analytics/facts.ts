/**
 * The incremental rollup's data, as pure functions (no database): how a slice's grouped events
 * become one partial per user and day, and how a user's partials of a day become that user's share
 * of the day's numbers. Every number of `metrics_daily` is a sum over users of these shares, so a
 * day can be closed in chunks of users and the chunks added up (see close.ts).
 */
import type { DailyMetricsDoc, MetricsPartialDoc, Touch } from '../_shared/models'
import { addDays, daysFrom } from '../_shared/time'
import { ERROR_EVENTS } from '../track/plan'
import type { FunnelDef } from './api'

/** Events are folded by when they were received, in slices of this length. */
export const SLICE_MS = 60_000
/**
 * A slice is final once this long has passed since it ended: a `track` call stamps receivedAt when
 * it starts and cannot run longer than a function's 60 s limit, so no event of the slice is still
 * to be written. Slices younger than this are folded provisionally and checked again.
 */
export const SETTLE_MS = 75_000
/** Retention is followed this many days after a user's first day. */
export const MAX_RETENTION_DAY = 30

/** 32-bit FNV-1a of an OPENID: a user's partials share it, so a hash range never splits a user. */
export function userHash(openid: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < openid.length; i++) {
    h ^= openid.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * The next range to read after one returned `found` of at most `limit` documents: aimed at half the
 * limit from the density just seen (between a quarter and four times the last range), so a read is
 * rarely cut short and read again.
 */
export function nextSpan(span: number, found: number, limit: number, max: number): number {
  const aimed = (span * (limit / 2)) / Math.max(found, 1)
  return Math.max(1, Math.min(max, Math.round(Math.min(span * 4, Math.max(span / 4, aimed)))))
}

/** One event as the fold's aggregation returns it (grouped by user and day). */
export interface FoldedEvent {
  n: string
  p: string
  t: Date | number
  i: string
  s: string
  ms?: unknown
  m?: string | null
}

const isError = (name: string) => (ERROR_EVENTS as readonly string[]).includes(name)
const time = (t: Date | number) => (typeof t === 'number' ? t : new Date(t).getTime())
/** Equal timestamps in the device's order (UUIDv7 ids are monotonic within a millisecond on a device). */
const byDeviceOrder = (a: { t: number; i: string }, b: { t: number; i: string }) => a.t - b.t || (a.i < b.i ? -1 : a.i > b.i ? 1 : 0)

/** The names of the configured funnels' steps: only those events are kept for funnels. */
export function stepNames(funnels: FunnelDef[]): Set<string> {
  return new Set(funnels.flatMap((f) => f.steps.map((s) => s.event)))
}

/** A user's events of one day received in one slice, as one partial document. */
export function partialOf(slice: number, openid: string, day: string, events: FoldedEvent[], steps: Set<string>): MetricsPartialDoc {
  const sessions = new Map<string, MetricsPartialDoc['sessions'][number]>()
  const pages = new Map<string, number>()
  const errors = new Map<string, number>()
  const messages = new Map<string, number>()
  const funnelEvents: MetricsPartialDoc['steps'] = []
  let pv = 0
  const sorted = events.map((e) => ({ ...e, t: time(e.t) })).sort(byDeviceOrder)
  for (const e of sorted) {
    const session = sessions.get(e.s) ?? { id: e.s, hides: 0, ms: 0, errors: 0, views: [] }
    sessions.set(e.s, session)
    if (e.n === 'page_view') {
      pv++
      pages.set(e.p, (pages.get(e.p) ?? 0) + 1)
      if (session.views.length < 3) session.views.push([e.t, e.i, e.p])
    } else if (e.n === 'app_hide') {
      session.hides++
      if (typeof e.ms === 'number') session.ms += e.ms
    }
    if (isError(e.n)) {
      session.errors++
      errors.set(e.n, (errors.get(e.n) ?? 0) + 1)
      const key = `${e.n}\n${e.m ?? ''}`
      messages.set(key, (messages.get(key) ?? 0) + 1)
    }
    if (steps.has(e.n)) funnelEvents.push([e.n, e.p, e.t, e.i])
  }
  return {
    _id: `${day}:${openid}:${String(slice).padStart(14, '0')}`,
    day,
    openid,
    h: userHash(openid),
    slice,
    events: events.length,
    pv,
    sessions: [...sessions.values()],
    pages: [...pages],
    errors: [...errors],
    messages: [...messages].map(([key, count]) => {
      const [name, message] = key.split('\n') as [string, string]
      return [name, message, count]
    }),
    steps: funnelEvents,
  }
}

/** A user's channel from their first touch (the same rule as rollup.ts's channelExpr, in code). */
export function channelOf(touch: Touch | undefined): string {
  if (!touch) return 'unknown'
  if (touch.channel != null) return touch.channel
  if (touch.utm_source != null) return touch.utm_source
  if (touch.inviter) return 'share'
  if (touch.scene) return `scene_${touch.scene}`
  return 'unknown'
}

/** A day's users, page views and sessions (both computations add these up). */
export interface TrafficTotals {
  uv: number
  pv: number
  sessions: number
  endedSessions: number
  sessionMs: number
  sessionsWithError: number
}

/** Funnel medians are exact up to this many entrants a day (then estimated from a sample of them). */
export const MAX_EXACT_GAPS = 5_000

/** What a day's close adds up, chunk by chunk: sums over disjoint sets of users. */
export interface DayAcc extends TrafficTotals {
  errors: [string, number][]
  pages: [string, number, number][]
  paths: [string, number][]
  messages: [string, string, number][]
  returning: [number, number][]
  returningByChannel: [string, number, number][]
  /** Per funnel: users who reached each depth (1..k), and each user's gaps between steps. */
  funnels: { id: string; depth: number[]; gaps: number[][] }[]
}

export function emptyAcc(funnels: FunnelDef[]): DayAcc {
  return {
    uv: 0,
    pv: 0,
    sessions: 0,
    endedSessions: 0,
    sessionMs: 0,
    sessionsWithError: 0,
    errors: [],
    pages: [],
    paths: [],
    messages: [],
    returning: [],
    returningByChannel: [],
    funnels: funnels.map((f) => ({ id: f.id, depth: f.steps.map(() => 0), gaps: [] })),
  }
}

function bump<K>(list: [K, ...number[]][], key: K, ...values: number[]): void {
  const row = list.find((r) => r[0] === key)
  if (row) values.forEach((v, j) => ((row[j + 1] as number) += v))
  else list.push([key, ...values])
}

/** How far a user got in a funnel entered on `day`, and the time between steps; null when not entered. */
export function funnelProgress(funnel: FunnelDef, day: string, events: { n: string; p: string; t: number; i: string; d: string }[]): number[] | null {
  const windowMs = funnel.windowDays * 86_400_000
  const last = addDays(day, funnel.windowDays)
  const steps = funnel.steps
  const times: number[] = []
  for (const e of [...events].sort(byDeviceOrder)) {
    if (e.d < day || e.d > last) continue
    const j = times.length
    if (j >= steps.length) break
    const step = steps[j]!
    if (e.n !== step.event || (step.page && e.p !== step.page)) continue
    if (j === 0 ? e.d === day : e.t - times[0]! <= windowMs) times.push(e.t)
  }
  return times.length === 0 ? null : times
}

export interface UserFacts {
  firstSeenDay?: string
  firstTouch?: Touch
}

/**
 * Adds one user's day to the accumulator: `mine` are the user's partials of `day`, `later` their
 * funnel events of the days after it (within the longest window), `user` their user document.
 */
export function addUser(
  acc: DayAcc,
  day: string,
  mine: MetricsPartialDoc[],
  later: MetricsPartialDoc[],
  user: UserFacts | null,
  funnels: FunnelDef[],
): void {
  acc.uv++
  const sessions = new Map<string, { hides: number; ms: number; errors: number; views: [number, string, string][] }>()
  const pages = new Map<string, number>()
  for (const part of mine) {
    acc.pv += part.pv
    for (const [name, n] of part.errors) bump(acc.errors, name, n)
    for (const [name, message, n] of part.messages) {
      const row = acc.messages.find((r) => r[0] === name && r[1] === message)
      if (row) row[2] += n
      else acc.messages.push([name, message, n])
    }
    for (const [page, n] of part.pages) pages.set(page, (pages.get(page) ?? 0) + n)
    for (const s of part.sessions) {
      const into = sessions.get(s.id) ?? { hides: 0, ms: 0, errors: 0, views: [] }
      into.hides += s.hides
      into.ms += s.ms
      into.errors += s.errors
      into.views.push(...s.views)
      sessions.set(s.id, into)
    }
  }
  for (const [page, n] of pages) bump(acc.pages, page, n, 1)
  for (const s of sessions.values()) {
    acc.sessions++
    if (s.hides > 0) acc.endedSessions++
    acc.sessionMs += s.ms
    if (s.errors > 0) acc.sessionsWithError++
    if (s.views.length > 0) {
      const path = s.views
        .map(([t, i, p]) => ({ t, i, p }))
        .sort(byDeviceOrder)
        .slice(0, 3)
        .map((v) => v.p)
      bump(acc.paths, JSON.stringify(path), 1)
    }
  }
  // Retention: active today, n days after their first day (users new in the last 30 days).
  const first = user?.firstSeenDay
  if (user && first && first >= addDays(day, -MAX_RETENTION_DAY) && first < day) {
    const n = daysFrom(first, day)
    bump(acc.returning, n, 1)
    if (n === 1 || n === 7) bump(acc.returningByChannel, channelOf(user.firstTouch), n === 1 ? 1 : 0, n === 7 ? 1 : 0)
  }
  // Funnels entered today: this day's step events and the later days' within the window.
  const steps = [...mine, ...later].flatMap((part) => part.steps.map(([n, p, t, i]) => ({ n, p, t, i, d: part.day })))
  funnels.forEach((funnel, f) => {
    const times = funnelProgress(funnel, day, steps)
    if (!times) return
    const into = acc.funnels[f]!
    for (let j = 0; j < times.length; j++) into.depth[j]!++
    into.gaps.push(times.slice(1).map((t, j) => t - times[j]!))
    // Bounded, so the accumulator a stopped close saves stays small: past the cap every other
    // user's gaps are dropped (a deterministic half sample; the medians become estimates).
    if (into.gaps.length >= 2 * MAX_EXACT_GAPS) into.gaps = into.gaps.filter((_, i) => i % 2 === 0)
  })
}

function median(values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2)
}

/** A funnel's result from the accumulator: users per step, median time from the previous step. */
export function funnelResult(acc: DayAcc['funnels'][number]): { users: number[]; medianMs: (number | null)[] } {
  return {
    users: acc.depth,
    medianMs: acc.depth.map((_, j) => (j === 0 ? null : median(acc.gaps.filter((g) => g.length >= j).map((g) => g[j - 1]!)))),
  }
}

export const TOP_PAGES = 100
export const TOP_PATHS = 20
export const TOP_ERRORS = 20

/** The sort key of a path among paths with as many sessions. */
export const pathKey = (pages: string[]) => pages.map((p) => `${p}\n`).join('')

/** The day's document from the accumulator (new users come from the users collection). */
export function dailyFromAcc(
  acc: DayAcc,
  day: string,
  newUsersByChannel: DailyMetricsDoc['newUsersByChannel'],
  now: Date,
  partial: boolean,
): Omit<DailyMetricsDoc, '_id'> {
  const errorCount = (name: string) => acc.errors.find((e) => e[0] === name)?.[1] ?? 0
  const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  // Paths with as many sessions: by their pages joined with line ends (recompute.ts sorts the same way).
  const byPath = (a: string, b: string) => byText(pathKey(JSON.parse(a) as string[]), pathKey(JSON.parse(b) as string[]))
  return {
    day,
    uv: acc.uv,
    pv: acc.pv,
    sessions: acc.sessions,
    endedSessions: acc.endedSessions,
    sessionMs: acc.sessionMs,
    newUsers: newUsersByChannel.reduce((n, c) => n + c.users, 0),
    newUsersByChannel,
    returning: [...acc.returning].sort((a, b) => a[0] - b[0]).map(([n, users]) => ({ n, users })),
    returningByChannel: [...acc.returningByChannel].sort((a, b) => a[0].localeCompare(b[0])).map(([channel, d1, d7]) => ({ channel, d1, d7 })),
    pages: [...acc.pages]
      .sort((a, b) => b[1] - a[1] || byText(a[0], b[0]))
      .slice(0, TOP_PAGES)
      .map(([page, pv, uv]) => ({ page, pv, uv })),
    paths: [...acc.paths]
      .sort((a, b) => b[1] - a[1] || byPath(a[0], b[0]))
      .slice(0, TOP_PATHS)
      .map(([path, sessions]) => ({ path: JSON.parse(path) as string[], sessions })),
    errors: {
      js_error: errorCount('js_error'),
      promise_rejection: errorCount('promise_rejection'),
      page_not_found: errorCount('page_not_found'),
      cloud_call_failed: errorCount('cloud_call_failed'),
      sessionsWithError: acc.sessionsWithError,
    },
    errorMessages: [...acc.messages]
      .sort((a, b) => b[2] - a[2] || byText(a[0], b[0]) || byText(a[1], b[1]))
      .slice(0, TOP_ERRORS)
      .map(([name, message, count]) => ({ name, message, count })),
    computedAt: now,
    partial,
  }
}
