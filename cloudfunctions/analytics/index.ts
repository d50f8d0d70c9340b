/**
 * `analytics`: daily rollups of tracked events (timers, and admin backfills) and the dashboard's
 * queries. Queries read `metrics_daily` / `metrics_funnels` only: one read of at most a few hundred
 * small documents, whatever the traffic.
 */
import { isAdmin } from '../_shared/admin'
import { collection, command } from '../_shared/cloud'
import type { DailyMetricsDoc, FunnelDayDoc } from '../_shared/models'
import { AppError, createRouter, type PublicContext } from '../_shared/router'
import { addDays, dayRange, shanghaiDay } from '../_shared/time'
import {
  analyticsActions,
  type AnalyticsOutputs,
  type ChannelRow,
  type DayTotals,
  type ErrorDay,
  type FunnelDef,
  type FunnelResult,
  RETENTION_DAYS,
  ROLLUP_BUDGET_MS,
  type RollupReport,
} from './api'
import { computeFunnelDay, definitionKey, loadFunnels, windowOpen } from './funnels'
import { rollupDay } from './rollup'

async function requireAdmin(ctx: PublicContext): Promise<void> {
  if (!ctx.openid || !(await isAdmin(ctx.openid))) {
    throw new AppError('FORBIDDEN', 'Only admins can see analytics (ADMIN_OPENIDS, or the app_config document "admins").')
  }
}

function fromTimer(ctx: PublicContext): boolean {
  return ctx.source?.split(',').includes('wx_trigger') ?? false
}

const ratio = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null)

// ---- rollups ---------------------------------------------------------------------------------

async function rollupFunnelDay(funnel: FunnelDef, day: string, now: Date): Promise<void> {
  const result = await computeFunnelDay(funnel, day)
  const doc: Omit<FunnelDayDoc, '_id'> = {
    funnel: funnel.id,
    day,
    definition: definitionKey(funnel),
    ...result,
    computedAt: now,
    partial: windowOpen(funnel, day, now),
  }
  await collection('metrics_funnels').set(`${funnel.id}:${day}`, doc)
}

/**
 * Rolls up `days`, then the funnels entered on `funnelDays` (oldest first: the ones whose window is
 * closing are final). Past the time budget the remaining funnel days are left for the next run
 * (timers re-run them while their window is open) and `next` says where it stopped.
 */
async function run(days: string[], funnelDays: (funnel: FunnelDef) => string[]): Promise<RollupReport> {
  const started = Date.now()
  const now = new Date()
  const report: RollupReport = { days: [], funnelDays: 0, funnelError: null, next: null }
  for (const day of days) {
    const started = Date.now()
    const doc = await rollupDay(day, now)
    report.days.push({ day, ms: Date.now() - started, uv: doc.uv, pv: doc.pv, newUsers: doc.newUsers })
  }
  const { funnels, error } = await loadFunnels()
  report.funnelError = error
  if (error) console.error(error)
  for (const funnel of funnels) {
    for (const day of funnelDays(funnel)) {
      if (Date.now() - started > ROLLUP_BUDGET_MS) {
        console.warn(`funnel ${funnel.id}: stopped at ${day}, over the time budget`)
        report.next = day
        return report
      }
      await rollupFunnelDay(funnel, day, now)
      report.funnelDays++
    }
  }
  return report
}

/** A backfill: day by day (the day, then its funnels), stopping before the time limit. */
async function backfill(days: string[]): Promise<RollupReport> {
  const started = Date.now()
  const now = new Date()
  const report: RollupReport = { days: [], funnelDays: 0, funnelError: null, next: null }
  const { funnels, error } = await loadFunnels()
  report.funnelError = error
  if (error) console.error(error)
  for (const [i, day] of days.entries()) {
    if (i > 0 && Date.now() - started > ROLLUP_BUDGET_MS) {
      report.next = day
      break
    }
    const dayStarted = Date.now()
    const doc = await rollupDay(day, now)
    for (const funnel of funnels) {
      await rollupFunnelDay(funnel, day, now)
      report.funnelDays++
    }
    report.days.push({ day, ms: Date.now() - dayStarted, uv: doc.uv, pv: doc.pv, newUsers: doc.newUsers })
  }
  return report
}

function today(): string {
  return shanghaiDay(new Date())
}

// ---- reading rollups -------------------------------------------------------------------------

/** The rollups of `days` (missing days are absent), in one read. */
async function dailyDocs(days: string[], fields?: Record<string, boolean>): Promise<Map<string, DailyMetricsDoc>> {
  const docs = await collection('metrics_daily').find({ _id: command().in(days) }, { limit: days.length, ...(fields ? { fields } : {}) })
  return new Map(docs.map((d) => [d.day, d]))
}

const TOTAL_FIELDS = {
  day: true,
  uv: true,
  pv: true,
  newUsers: true,
  sessions: true,
  endedSessions: true,
  sessionMs: true,
  returning: true,
  errors: true,
  computedAt: true,
}

function totalsOf(day: string, docs: Map<string, DailyMetricsDoc>): DayTotals {
  const doc = docs.get(day)
  const before = docs.get(addDays(day, -1))
  if (!doc) return { day, uv: 0, pv: 0, newUsers: 0, sessions: 0, avgSessionMs: 0, d1Retention: null, errors: 0, computedAt: null }
  const d1 = doc.returning.find((r) => r.n === 1)?.users ?? 0
  const e = doc.errors
  return {
    day,
    uv: doc.uv,
    pv: doc.pv,
    newUsers: doc.newUsers,
    sessions: doc.sessions,
    avgSessionMs: doc.endedSessions > 0 ? Math.round(doc.sessionMs / doc.endedSessions) : 0,
    d1Retention: before ? ratio(d1, before.newUsers) : null,
    errors: e.js_error + e.promise_rejection + e.page_not_found + e.cloud_call_failed,
    computedAt: new Date(doc.computedAt).toISOString(),
  }
}

export const main = createRouter<typeof analyticsActions, AnalyticsOutputs>(
  analyticsActions,
  {
    async rollup({ from, to }, ctx) {
      await requireAdmin(ctx)
      return backfill(dayRange(from, to))
    },

    async hourly(_input, ctx) {
      if (!fromTimer(ctx)) await requireAdmin(ctx)
      const days = [addDays(today(), -1), today()]
      return run(days, () => days)
    },

    async nightly(_input, ctx) {
      if (!fromTimer(ctx)) await requireAdmin(ctx)
      const yesterday = addDays(today(), -1)
      // Late events (devices that were offline) land on past days: redo the two before yesterday.
      // Funnels: every entry day whose window was still open yesterday.
      return run([addDays(yesterday, -2), addDays(yesterday, -1)], (funnel) =>
        dayRange(addDays(yesterday, -funnel.windowDays - 1), addDays(yesterday, -1)),
      )
    },

    async access(_input, { openid }) {
      return { admin: await isAdmin(openid) }
    },

    async overview({ day }, ctx) {
      await requireAdmin(ctx)
      const d = day ?? today()
      const wanted = [d, addDays(d, -1), addDays(d, -2), addDays(d, -7), addDays(d, -8)]
      const docs = await dailyDocs(wanted, TOTAL_FIELDS)
      return { today: totalsOf(d, docs), yesterday: totalsOf(addDays(d, -1), docs), weekAgo: totalsOf(addDays(d, -7), docs) }
    },

    async trend({ from, to }, ctx) {
      await requireAdmin(ctx)
      const days = dayRange(addDays(from, -1), to)
      const docs = await dailyDocs(days, TOTAL_FIELDS)
      return { days: days.slice(1).map((day) => totalsOf(day, docs)) }
    },

    async retention({ from, to }, ctx) {
      await requireAdmin(ctx)
      const last = RETENTION_DAYS[RETENTION_DAYS.length - 1]!
      const docs = await dailyDocs(dayRange(from, addDays(to, last)), { day: true, newUsers: true, returning: true })
      const now = today()
      const cohorts = dayRange(from, to).map((day) => {
        const size = docs.get(day)?.newUsers ?? 0
        const rates = RETENTION_DAYS.map((n) => {
          const later = docs.get(addDays(day, n))
          // Today is still under way: its users may yet come back, so its rate is not known.
          if (!later || later.day >= now) return null
          return ratio(later.returning.find((r) => r.n === n)?.users ?? 0, size)
        })
        return { day, size, rates }
      })
      return { offsets: [...RETENTION_DAYS], cohorts }
    },

    async funnels({ from, to }, ctx) {
      await requireAdmin(ctx)
      const { funnels, error } = await loadFunnels()
      if (error) throw new AppError('CONFLICT', error)
      const days = dayRange(from, to)
      const ids = funnels.flatMap((f) => days.map((day) => `${f.id}:${day}`))
      const docs = ids.length > 0 ? await collection('metrics_funnels').find({ _id: command().in(ids) }, { limit: ids.length }) : []
      const results: FunnelResult[] = funnels.map((funnel) => {
        // Results computed with another definition of the funnel do not add up with these.
        const mine = docs.filter((d) => d.funnel === funnel.id && d.definition === definitionKey(funnel))
        const users = funnel.steps.map((_, j) => mine.reduce((n, d) => n + (d.users[j] ?? 0), 0))
        return {
          id: funnel.id,
          name: funnel.name,
          windowDays: funnel.windowDays,
          steps: funnel.steps.map((step, j) => {
            // The days' medians, weighted by the users behind each: exact for one day.
            const weighted = mine
              .filter((d) => d.medianMs[j] !== null && d.medianMs[j] !== undefined && (d.users[j] ?? 0) > 0)
              .map((d) => ({ value: d.medianMs[j]!, weight: d.users[j]! }))
              .sort((a, b) => a.value - b.value)
            const half = weighted.reduce((n, w) => n + w.weight, 0) / 2
            let acc = 0
            const medianMs = j === 0 ? null : (weighted.find((w) => (acc += w.weight) >= half)?.value ?? null)
            return {
              label: step.label,
              users: users[j]!,
              conversion: j === 0 ? ratio(users[0]!, users[0]!) : ratio(users[j]!, users[j - 1]!),
              overall: ratio(users[j]!, users[0]!),
              medianMs,
            }
          }),
        }
      })
      return { funnels: results }
    },

    async channels({ from, to }, ctx) {
      await requireAdmin(ctx)
      const now = today()
      const docs = await dailyDocs(dayRange(from, addDays(to, 7)), { day: true, newUsersByChannel: true, returningByChannel: true })
      const rows = new Map<string, { newUsers: number; d1: number; d1Base: number; d7: number; d7Base: number }>()
      const row = (channel: string) => rows.get(channel) ?? rows.set(channel, { newUsers: 0, d1: 0, d1Base: 0, d7: 0, d7Base: 0 }).get(channel)!
      for (const day of dayRange(from, to)) {
        const cohort = docs.get(day)
        if (!cohort) continue
        for (const { channel, users } of cohort.newUsersByChannel) row(channel).newUsers += users
        // A cohort counts towards Dn only once day + n has been rolled up and is over (today, under
        // way, would count its users as not back yet): until then Dn is null, shown as —.
        for (const [n, key, base] of [
          [1, 'd1', 'd1Base'],
          [7, 'd7', 'd7Base'],
        ] as const) {
          const later = docs.get(addDays(day, n))
          if (!later || later.day >= now) continue
          for (const { channel, users } of cohort.newUsersByChannel) row(channel)[base] += users
          for (const r of later.returningByChannel) row(r.channel)[key] += r[key]
        }
      }
      const result: ChannelRow[] = [...rows]
        .filter(([, r]) => r.newUsers > 0)
        .map(([channel, r]) => ({ channel, newUsers: r.newUsers, d1: ratio(r.d1, r.d1Base), d7: ratio(r.d7, r.d7Base) }))
        .sort((a, b) => b.newUsers - a.newUsers || a.channel.localeCompare(b.channel))
      return { rows: result }
    },

    async pages({ from, to }, ctx) {
      await requireAdmin(ctx)
      const docs = await dailyDocs(dayRange(from, to), { day: true, pages: true, paths: true })
      const pages = new Map<string, { pv: number; uv: number }>()
      const paths = new Map<string, { path: string[]; sessions: number }>()
      for (const doc of docs.values()) {
        for (const p of doc.pages) {
          const entry = pages.get(p.page) ?? pages.set(p.page, { pv: 0, uv: 0 }).get(p.page)!
          entry.pv += p.pv
          entry.uv += p.uv
        }
        for (const p of doc.paths) {
          const key = p.path.join('\n')
          const entry = paths.get(key) ?? paths.set(key, { path: p.path, sessions: 0 }).get(key)!
          entry.sessions += p.sessions
        }
      }
      return {
        pages: [...pages].map(([page, v]) => ({ page, ...v })).sort((a, b) => b.pv - a.pv || a.page.localeCompare(b.page)),
        paths: [...paths.values()].sort((a, b) => b.sessions - a.sessions).slice(0, 10),
      }
    },

    async errors({ from, to }, ctx) {
      await requireAdmin(ctx)
      const docs = await dailyDocs(dayRange(from, to), { day: true, sessions: true, errors: true, errorMessages: true })
      const days: ErrorDay[] = dayRange(from, to).map((day) => {
        const doc = docs.get(day)
        const e = doc?.errors
        return {
          day,
          js_error: e?.js_error ?? 0,
          promise_rejection: e?.promise_rejection ?? 0,
          page_not_found: e?.page_not_found ?? 0,
          cloud_call_failed: e?.cloud_call_failed ?? 0,
          sessionsWithError: e?.sessionsWithError ?? 0,
          sessions: doc?.sessions ?? 0,
        }
      })
      const top = new Map<string, { name: string; message: string; count: number }>()
      for (const doc of docs.values()) {
        for (const m of doc.errorMessages) {
          const key = `${m.name}\n${m.message}`
          const entry = top.get(key) ?? top.set(key, { name: m.name, message: m.message, count: 0 }).get(key)!
          entry.count += m.count
        }
      }
      return { days, top: [...top.values()].sort((a, b) => b.count - a.count).slice(0, 20) }
    },

    async validateFunnels({ funnels }, ctx) {
      await requireAdmin(ctx)
      return { funnels }
    },
  },
  { timers: { hourly: 'hourly', nightly: 'nightly' } },
)
