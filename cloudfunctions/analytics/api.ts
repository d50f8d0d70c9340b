/**
 * Contract of the `analytics` function: daily rollups from tracked events (a timer, idempotent,
 * able to backfill a range) and the admin dashboard's queries, which read rollups only, so their
 * cost grows with the number of days shown and never with traffic.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'
import type { DailyMetricsDoc } from '../_shared/models'
import { daysFrom } from '../_shared/time'
import { isEventName } from '../track/plan'

/** A calendar day in Asia/Shanghai, `YYYY-MM-DD`, that exists (2026-02-30 does not). */
export const daySchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD')
  .refine((day) => {
    const date = new Date(`${day}T00:00:00Z`)
    return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === day
  }, 'not a calendar day')

/** The dashboard shows at most this many days at once. */
export const MAX_RANGE_DAYS = 90
/** A backfill covers at most this many days per call (each day is one rollup). */
export const MAX_BACKFILL_DAYS = 31
/** A backfill starts no new day after this long, well inside the function's 60 s limit. */
export const ROLLUP_BUDGET_MS = 30_000

function boundedRange(max: number) {
  return z.strictObject({ from: daySchema, to: daySchema }).check((ctx) => {
    const { from, to } = ctx.value
    if (!/^\d{4}-\d{2}-\d{2}$/.test(from) || !/^\d{4}-\d{2}-\d{2}$/.test(to)) return
    const days = daysFrom(from, to) + 1
    if (days < 1) ctx.issues.push({ code: 'custom', message: '"from" must not be after "to"', input: ctx.value, path: ['from'] })
    else if (days > max) ctx.issues.push({ code: 'custom', message: `at most ${max} days at once`, input: ctx.value, path: ['to'] })
  })
}

const range = boundedRange(MAX_RANGE_DAYS)

/** Retention is reported for these day offsets (classic: active on exactly day n after the first). */
export const RETENTION_DAYS = [1, 2, 3, 4, 5, 6, 7, 14, 30] as const

/** One funnel step: an event of the tracking plan, optionally on one page only. */
export const funnelStepSchema = z.strictObject({
  event: z.string().refine(isEventName, 'not an event of the tracking plan'),
  page: z.string().min(1).max(128).optional(),
  /** What the dashboard calls the step (zh-CN). */
  label: z.string().trim().min(1).max(20),
})

export const funnelSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9_]{1,32}$/, 'an id such as "activation"'),
  name: z.string().trim().min(1).max(20),
  steps: z.array(funnelStepSchema).min(2, 'a funnel needs at least 2 steps').max(8),
  /** A user converts on a step only within this many days of entering the funnel. */
  windowDays: z.number().int().min(1).max(30).default(7),
})

export const funnelsConfigSchema = z
  .array(funnelSchema)
  .max(10)
  .refine((funnels) => new Set(funnels.map((f) => f.id)).size === funnels.length, 'funnel ids must be unique')

export type FunnelDef = z.output<typeof funnelSchema>
export type FunnelStep = z.output<typeof funnelStepSchema>

export const analyticsActions = {
  /**
   * Admins: computes the rollups of each day in [from, to] and the funnels entered on those days
   * (a backfill; running it twice changes nothing). Stops after ROLLUP_BUDGET_MS with `next` set:
   * call again from there.
   */
  rollup: { input: boundedRange(MAX_BACKFILL_DAYS), auth: 'user' },
  /** The hourly timer: folds the events that arrived, closes the days they changed (today at most every 6 hours). */
  hourly: { input: z.strictObject({}), auth: 'public' },
  /** The nightly timer: the same, the final numbers of the funnels whose window closed yesterday, then the day's export. */
  nightly: { input: z.strictObject({}), auth: 'public' },
  /** Admins: a day recomputed from its raw events (the reference the incremental rollup must equal); writes nothing. */
  recompute: { input: z.strictObject({ day: daySchema }), auth: 'user' },
  /** What the nightly run exports, now: yesterday's events, and days that received late events since their export (admins). */
  exportDaily: { input: z.strictObject({}), auth: 'public' },
  /** Admins: exports the events of each day in [from, to] (a backfill; idempotent). Stops within the budget with `next` set. */
  exportEvents: { input: boundedRange(MAX_BACKFILL_DAYS), auth: 'user' },
  /** Is the caller an admin? (The Me page shows the dashboard entry only to admins.) */
  access: { input: z.strictObject({}), auth: 'user' },
  /** Admins: the day (default today) against yesterday and 7 days before. */
  overview: { input: z.strictObject({ day: daySchema.optional() }), auth: 'user' },
  /** Admins: one row per day. */
  trend: { input: range, auth: 'user' },
  /** Admins: retention of each cohort (users new on a day) in the range. */
  retention: { input: range, auth: 'user' },
  /** Admins: each configured funnel, over users who entered it in the range. */
  funnels: { input: range, auth: 'user' },
  /** Admins: new users by first-touch channel, with their D1 and D7 retention. */
  channels: { input: range, auth: 'user' },
  /** Admins: page views by page, and the most common first three pages of a session. */
  pages: { input: range, auth: 'user' },
  /** Admins: error events by day, and the most frequent messages. */
  errors: { input: range, auth: 'user' },
  /** Admins: checks a funnel configuration before it is saved to `app_config` (document `funnels`). */
  validateFunnels: { input: z.strictObject({ funnels: funnelsConfigSchema }), auth: 'user' },
} as const

/** The headline numbers of one day. Rates are null when there is nothing to divide by. */
export interface DayTotals {
  day: string
  uv: number
  pv: number
  newUsers: number
  sessions: number
  /** Mean length of the sessions that ended (app_hide) that day. */
  avgSessionMs: number
  /** Of the users new the day before, the share active on this day. */
  d1Retention: number | null
  errors: number
  /** The day's rollup time, null when the day has not been rolled up. */
  computedAt: string | null
}

export interface RetentionCohort {
  day: string
  size: number
  /** One entry per RETENTION_DAYS offset: the share of the cohort active on exactly that day; null until that day is over (or when it has no rollup). */
  rates: (number | null)[]
}

export interface FunnelResult {
  id: string
  name: string
  windowDays: number
  steps: {
    label: string
    users: number
    /** users / users of the previous step (1 for the first step), null when the previous step has none. */
    conversion: number | null
    /** users / users of the first step. */
    overall: number | null
    /** Median time from the previous step (the days' medians weighted by users), null for the first step or none. */
    medianMs: number | null
  }[]
}

export interface ChannelRow {
  channel: string
  newUsers: number
  /** Retention of these new users; null until a cohort's day n is over and rolled up. */
  d1: number | null
  d7: number | null
}

export interface ErrorDay {
  day: string
  js_error: number
  promise_rejection: number
  page_not_found: number
  cloud_call_failed: number
  /** Sessions with at least one of those events, and all sessions. */
  sessionsWithError: number
  sessions: number
}

export interface RollupReport {
  days: { day: string; ms: number; uv: number; pv: number; newUsers: number }[]
  /** Funnel results written, one per funnel and entry day. */
  funnelDays: number
  /** Why the funnels were skipped: the stored configuration is invalid (the daily rollups still ran). */
  funnelError: string | null
  /** Where a run stopped before the function's time limit: the first day (or funnel day, for timers) it did not reach — call a backfill again from there — or null when done. */
  next: string | null
  /** What the run folded: minute-slices of received events, the events in them, the partials written. */
  folded: { slices: number; events: number; partials: number } | null
  /** Days the run exported to storage (the nightly run, and hourly runs finishing its export). */
  exported?: ExportReport['days']
}

export interface ExportReport {
  /** Days whose export finished: rows, gzipped bytes, part files, and the manifest's path. */
  days: { day: string; rows: number; bytes: number; parts: number; manifest: string }[]
  /** The first day not finished (call again from there), or null. */
  next: string | null
}

export interface AnalyticsOutputs {
  rollup: RollupReport
  hourly: RollupReport
  nightly: RollupReport
  exportDaily: ExportReport
  exportEvents: ExportReport
  recompute: { daily: Omit<DailyMetricsDoc, '_id' | 'computedAt' | 'partial'>; funnels: { id: string; users: number[]; medianMs: (number | null)[] }[] }
  access: { admin: boolean }
  overview: { today: DayTotals; yesterday: DayTotals; weekAgo: DayTotals }
  trend: { days: DayTotals[] }
  retention: { offsets: number[]; cohorts: RetentionCohort[] }
  funnels: { funnels: FunnelResult[] }
  channels: { rows: ChannelRow[] }
  pages: { pages: { page: string; pv: number; uv: number }[]; paths: { path: string[]; sessions: number }[] }
  errors: { days: ErrorDay[]; top: { name: string; message: string; count: number }[] }
  validateFunnels: { funnels: FunnelDef[] }
}

export type AnalyticsApi = ApiOf<typeof analyticsActions, AnalyticsOutputs>
