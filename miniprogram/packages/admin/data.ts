/**
 * The dashboard's reads: typed calls to the `analytics` and `experiments` functions (here rather
 * than in core/api.ts, so the main package every user downloads does not carry admin-only code),
 * each kept in storage for a repeat visit. One entry per query: it holds the input it answers, and
 * a different range is a miss, so storage never fills with old ranges. Pull-to-refresh bypasses the cache.
 */
import type { ExperimentResults, RollupRun } from '../../../cloudfunctions/experiments/api'
import { type CachePolicy, swr, writeCache } from '../../core/cache'
import { call, type Input, type Output } from '../../core/cloud'

export type Query = 'overview' | 'trend' | 'retention' | 'funnels' | 'channels' | 'errors'

interface Entry<T> {
  input: string
  data: T
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isStr = (v: unknown): v is string => typeof v === 'string'
const isRate = (v: unknown) => v === null || isNum(v)
const isInterval = (v: unknown) => v === null || (Array.isArray(v) && v.length === 2 && v.every(isNum))
const listOf = (v: unknown, item: (x: Record<string, unknown>) => boolean) => Array.isArray(v) && v.every((x) => isObject(x) && item(x))

const isTotals = (t: unknown) =>
  isObject(t) && isStr(t.day) && isNum(t.uv) && isNum(t.pv) && isNum(t.newUsers) && isRate(t.d1Retention) && (t.computedAt === null || isStr(t.computedAt))

/** Every field a tab renders: a cached answer missing one would show "undefined" or "NaN%". */
const SHAPES: Record<Query, (d: Record<string, unknown>) => boolean> = {
  overview: (d) => isTotals(d.today) && isTotals(d.yesterday) && isTotals(d.weekAgo),
  trend: (d) => listOf(d.days, isTotals),
  retention: (d) =>
    Array.isArray(d.offsets) && d.offsets.every(isNum) && listOf(d.cohorts, (c) => isStr(c.day) && isNum(c.size) && Array.isArray(c.rates) && c.rates.every(isRate)),
  funnels: (d) =>
    listOf(d.funnels, (f) => isStr(f.id) && isStr(f.name) && isNum(f.windowDays) && listOf(f.steps, (s) => isStr(s.label) && isNum(s.users) && isRate(s.conversion) && isRate(s.overall) && isRate(s.medianMs))),
  channels: (d) => listOf(d.rows, (r) => isStr(r.channel) && isNum(r.newUsers) && isRate(r.d1) && isRate(r.d7)),
  errors: (d) =>
    listOf(d.days, (x) => isStr(x.day) && ['js_error', 'promise_rejection', 'page_not_found', 'cloud_call_failed', 'sessionsWithError', 'sessions'].every((k) => isNum(x[k]))) &&
    listOf(d.top, (t) => isStr(t.name) && isStr(t.message) && isNum(t.count)),
}

/** Every field the 实验 tab renders of an experiment's results. */
const isExperimentResults = (e: Record<string, unknown>) =>
  isStr(e.key) && isStr(e.name) && isStr(e.status) && isStr(e.computedAt) && (e.from === null || isStr(e.from)) && isStr(e.to) &&
  isNum(e.multipleExposures) && isNum(e.overridden) &&
  isObject(e.goal) && isStr(e.goal.event) && isNum(e.goal.withinDays) &&
  isObject(e.verdict) && isStr(e.verdict.kind) && isStr(e.verdict.text) &&
  isObject(e.stopping) && isStr(e.stopping.text) &&
  (e.srm === null || (isObject(e.srm) && isNum(e.srm.pValue) && typeof e.srm.flagged === 'boolean' && Array.isArray(e.srm.expected) && e.srm.expected.every(isNum))) &&
  listOf(e.variants, (v) => isStr(v.key) && isStr(v.name) && isNum(v.users) && isNum(v.conversions) && isRate(v.rate) && isInterval(v.rateCi)) &&
  listOf(e.comparisons, (c) => isStr(c.variant) && isRate(c.uplift) && isInterval(c.upliftCi) && isRate(c.chanceToBeat))

const FRESH_MS = 5 * 60_000
const STALE_MS = 24 * 3600_000

/**
 * An answer kept under `key` for `input`: from storage when fresh (or stale, then `onFresh` gets
 * the new answer), from `fetch` otherwise or when `force`d.
 */
async function cached<T>(
  key: string,
  input: unknown,
  fetch: () => Promise<T>,
  isData: (d: Record<string, unknown>) => boolean,
  force: boolean,
  onFresh?: (data: T) => void,
): Promise<T> {
  const inputKey = JSON.stringify(input)
  const load = async (): Promise<Entry<T>> => ({ input: inputKey, data: await fetch() })
  if (force) {
    const entry = await load()
    writeCache(key, entry)
    return entry.data
  }
  const policy: CachePolicy<Entry<T>> = {
    freshMs: FRESH_MS,
    staleMs: STALE_MS,
    isValid: (d: unknown): d is Entry<T> => isObject(d) && d.input === inputKey && isObject(d.data) && isData(d.data),
  }
  const { data } = await swr(key, policy, load, onFresh && ((entry) => onFresh(entry.data)))
  return data.data
}

/** One `analytics` query's answer (see `cached`). */
export function query<Q extends Query>(
  name: Q,
  input: Input<'analytics', Q>,
  force: boolean,
  onFresh?: (data: Output<'analytics', Q>) => void,
): Promise<Output<'analytics', Q>> {
  return cached(`admin:${name}`, input, () => call('analytics', name, input, { retries: 2 }), SHAPES[name], force, onFresh)
}

/** Every experiment's stored results (computed by the hourly rollup, or by `recomputeExperiments`). */
export async function experimentResults(force: boolean, onFresh?: (items: ExperimentResults[]) => void): Promise<ExperimentResults[]> {
  const fetch = () => call('experiments', 'results', {}, { retries: 2 })
  const answer = await cached('admin:experiments', {}, fetch, (d) => listOf(d.items, isExperimentResults), force, onFresh && ((fresh) => onFresh(fresh.items)))
  return answer.items
}

/** Recomputes every running (or recently stopped) experiment now; a run reports an invalid config as its `error`. */
export async function recomputeExperiments(): Promise<RollupRun[]> {
  // Not retried: the rollup reads every exposure again, and a retry would only queue a second one.
  return (await call('experiments', 'rollup', {}, { timeoutMs: 30_000 })).runs
}
