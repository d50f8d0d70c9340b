/**
 * `analytics`: daily rollups of tracked events (timers, and admin backfills) and the dashboard's
 * queries. Queries read `metrics_daily` / `metrics_funnels` only: one read of at most a few hundred
 * small documents, whatever the traffic.
 */
import { isAdmin } from '../_shared/admin'
import { collection, command } from '../_shared/cloud'
import type { DailyMetricsDoc } from '../_shared/models'
import { AppError, createRouter, type PublicContext } from '../_shared/router'
import { addDays, dayRange, shanghaiDay } from '../_shared/time'
import {
  analyticsActions,
  type AnalyticsOutputs,
  type ChannelRow,
  type DayTotals,
  type ExportReport,
  type ErrorDay,
  type FunnelDef,
  type FunnelResult,
  RETENTION_DAYS,
  ROLLUP_BUDGET_MS,
  type RollupReport,
} from './api'
import { closeDay, loadCloseState } from './close'
import { exportDay, exportedSeq, exportPrefix } from './export'
import { foldPending, loadFoldState } from './fold'
import { computeFunnelDay, definitionKey, loadFunnels } from './funnels'
import { recomputeDay } from './recompute'

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

/** A run starts no new step after this long (tests set ROLLUP_BUDGET_MS to stop runs early). */
function budgetMs(): number {
  const configured = process.env.ROLLUP_BUDGET_MS ? Number(process.env.ROLLUP_BUDGET_MS) : NaN
  return Number.isFinite(configured) && configured >= 0 ? configured : ROLLUP_BUDGET_MS
}

/** Today's document is refreshed at most this often by the hourly timer (each refresh reads its partials again). */
export const TODAY_REFRESH_MS = 6 * 3600_000

interface Run {
  now: Date
  deadline: number
  funnels: FunnelDef[]
  report: RollupReport
}

async function startRun(): Promise<Run> {
  const now = new Date()
  const deadline = Date.now() + budgetMs()
  const { funnels, error } = await loadFunnels()
  if (error) console.error(error)
  const report: RollupReport = { days: [], funnelDays: 0, funnelError: error, next: null, folded: null }
  const folded = await foldPending(now.getTime(), deadline, funnels)
  report.folded = { slices: folded.slices, events: folded.events, partials: folded.partials }
  if (!folded.done) report.next = shanghaiDay(now)
  return { now, deadline, funnels, report }
}

/** Closes one day (metrics and the funnels entered that day, or the funnels only); false when the budget ran out. */
async function close(run: Run, day: string, metrics: boolean, seq: number): Promise<boolean> {
  const started = Date.now()
  const result = await closeDay(day, { now: run.now, deadline: run.deadline, funnels: run.funnels, metrics, seq })
  if (!result.done) {
    run.report.next = day
    return false
  }
  run.report.funnelDays += result.funnelDays
  if (result.daily) run.report.days.push({ day, ms: Date.now() - started, uv: result.daily.uv, pv: result.daily.pv, newUsers: result.daily.newUsers })
  return true
}

/**
 * The timers' run: fold what arrived, then close the days it changed (oldest first), today at most
 * every TODAY_REFRESH_MS (and whenever it has never been closed), and, at night, the funnels whose
 * window has just closed (their final numbers). Whatever the budget leaves undone, the next run does.
 */
async function timerRun(nightly: boolean): Promise<RollupReport> {
  const run = await startRun()
  if (nightly) {
    // The day's export is owed from now on (after the fold: late events mark their days), whatever
    // this run's budget leaves for it.
    const owed = [...new Set([...(await pendingExports()), ...(await exportTargets())])].sort()
    await collection('metrics_state').set(EXPORT_STATE, { pending: owed })
  }
  if (run.report.next) return run.report
  const now = today()
  const { dirty } = await loadFoldState()
  const days = [...new Set([...Object.keys(dirty), now])].sort()
  for (const day of days) {
    if (day > now) continue
    const state = await loadCloseState(day)
    const seq = dirty[day] ?? 0
    const resuming = state.job?.metrics === true
    if (!(seq > state.closedSeq || state.closedAt === null || resuming)) continue
    if (day === now && state.closedAt !== null && !resuming && run.now.getTime() - state.closedAt < TODAY_REFRESH_MS) continue
    if (!(await close(run, day, true, seq))) return run.report
  }
  if (nightly) {
    const yesterday = addDays(now, -1)
    for (const windowDays of new Set(run.funnels.map((f) => f.windowDays))) {
      const day = addDays(yesterday, -windowDays)
      const state = await loadCloseState(day)
      if (state.finalAt !== null && state.job?.metrics !== false) continue
      if (!(await close(run, day, false, 0))) return run.report
    }
  }
  // Last, the export the nightly run owes (hourly runs finish one the budget cut short).
  await exportRun(run.report, run.deadline)
  return run.report
}

/** A backfill: folds what arrived, then closes each day of the range whole, resuming where a stopped call left off. */
async function backfill(days: string[]): Promise<RollupReport> {
  const run = await startRun()
  if (run.report.next) {
    run.report.next = days[0]!
    return run.report
  }
  const { dirty } = await loadFoldState()
  for (const day of days) if (!(await close(run, day, true, dirty[day] ?? 0))) break
  return run.report
}

/** Exports `days` in order until `deadline`; a day that stops is resumed by the next call. */
async function exportDays(days: string[], deadline: number): Promise<ExportReport> {
  const now = new Date()
  const { dirty } = await loadFoldState()
  const report: ExportReport = { days: [], next: null }
  for (const [i, day] of days.entries()) {
    if (i > 0 && Date.now() > deadline) {
      report.next = day
      break
    }
    const manifest = await exportDay(day, dirty[day] ?? 0, now, deadline)
    if (!manifest) {
      report.next = day
      break
    }
    report.days.push({ day, rows: manifest.rows, bytes: manifest.bytes, parts: manifest.parts.length, manifest: `${exportPrefix(day)}/manifest.json` })
  }
  return report
}

/** What the daily export owes: yesterday, and any earlier day with events (up to 30 days: late events) not exported since its fold mark last moved. */
async function exportTargets(): Promise<string[]> {
  const yesterday = addDays(today(), -1)
  const { dirty } = await loadFoldState()
  const days: string[] = []
  for (const day of dayRange(addDays(yesterday, -30), yesterday)) {
    const mark = dirty[day]
    if (day !== yesterday && mark === undefined) continue
    const exported = await exportedSeq(day)
    if (exported < (mark ?? 0) || exported < 0) days.push(day)
  }
  return days
}

const EXPORT_STATE = 'export'

/** Days whose export is owed: set by the nightly run, continued by every timer run until done. */
async function pendingExports(): Promise<string[]> {
  const saved = (await collection('metrics_state').get(EXPORT_STATE)) as { pending?: string[] } | null
  return saved?.pending ?? []
}

/** Exports what is pending within the run's budget; what is left stays pending for the next run. */
async function exportRun(report: RollupReport, deadline: number): Promise<void> {
  const pending = await pendingExports()
  if (pending.length === 0) return
  const exported = await exportDays(pending, deadline)
  report.exported = exported.days
  const left = exported.next ? pending.slice(pending.indexOf(exported.next)) : []
  await collection('metrics_state').set(EXPORT_STATE, { pending: left })
  if (exported.next && !report.next) report.next = exported.next
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
      return timerRun(false)
    },

    async nightly(_input, ctx) {
      if (!fromTimer(ctx)) await requireAdmin(ctx)
      return timerRun(true)
    },

    async exportDaily(_input, ctx) {
      if (!fromTimer(ctx)) await requireAdmin(ctx)
      return exportDays(await exportTargets(), Date.now() + budgetMs())
    },

    async exportEvents({ from, to }, ctx) {
      await requireAdmin(ctx)
      return exportDays(dayRange(from, to), Date.now() + budgetMs())
    },

    async recompute({ day }, ctx) {
      await requireAdmin(ctx)
      const { computedAt: _c, partial: _p, ...daily } = await recomputeDay(day, new Date())
      const { funnels, error } = await loadFunnels()
      if (error) throw new AppError('CONFLICT', error)
      const results = []
      for (const funnel of funnels) results.push({ id: funnel.id, ...(await computeFunnelDay(funnel, day)) })
      return { daily, funnels: results }
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
