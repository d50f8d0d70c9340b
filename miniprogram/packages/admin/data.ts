/**
 * The dashboard's reads: typed calls to the `analytics` function (here rather than in core/api.ts,
 * so the main package every user downloads does not carry admin-only code), each kept in storage
 * for a repeat visit. One entry per query: it holds the input it answers, and a different range
 * is a miss, so storage never fills with old ranges. Pull-to-refresh bypasses the cache.
 */
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

const FRESH_MS = 5 * 60_000
const STALE_MS = 24 * 3600_000

/**
 * One query's answer: from storage when fresh (or stale, then `onFresh` gets the new answer), from
 * the function otherwise or when `force`d.
 */
export async function query<Q extends Query>(
  name: Q,
  input: Input<'analytics', Q>,
  force: boolean,
  onFresh?: (data: Output<'analytics', Q>) => void,
): Promise<Output<'analytics', Q>> {
  type Data = Output<'analytics', Q>
  const key = `admin:${name}`
  const inputKey = JSON.stringify(input)
  const fetch = async (): Promise<Entry<Data>> => ({ input: inputKey, data: await call('analytics', name, input, { retries: 2 }) })
  if (force) {
    const entry = await fetch()
    writeCache(key, entry)
    return entry.data
  }
  const policy: CachePolicy<Entry<Data>> = {
    freshMs: FRESH_MS,
    staleMs: STALE_MS,
    isValid: (d: unknown): d is Entry<Data> => isObject(d) && d.input === inputKey && isObject(d.data) && SHAPES[name](d.data),
  }
  const { data } = await swr(key, policy, fetch, onFresh && ((entry) => onFresh(entry.data)))
  return data.data
}
