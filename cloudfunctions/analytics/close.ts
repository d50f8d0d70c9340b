/**
 * Closing a day: its partials (never raw events) read in ranges of the users' hash, each range's
 * users added to an accumulator (their share of every number is a sum over users: facts.ts), then
 * the day's `metrics_daily` document and the funnels entered that day written whole. The range
 * adapts so a read returns at most CHUNK partials; a run that reaches its time budget saves the
 * accumulator and where it was in `metrics_state` (`close:<day>`), and the next run resumes there.
 */
import { collection, command } from '../_shared/cloud'
import type { DailyMetricsDoc, FunnelDayDoc, MetricsPartialDoc, UserDoc } from '../_shared/models'
import { addDays, dayStart } from '../_shared/time'
import type { FunnelDef } from './api'
import { addUser, dailyFromAcc, type DayAcc, emptyAcc, funnelResult, nextSpan } from './facts'
import { definitionKey, windowOpen } from './funnels'
import { newUsers } from './recompute'

const HASH_SPACE = 2 ** 32

/** Partials read per round trip (the cloud returns at most 1000 documents per read). */
export function chunkSize(): number {
  const configured = Number(process.env.ROLLUP_CHUNK)
  return Number.isInteger(configured) && configured > 0 && configured <= 1000 ? configured : 1000
}

interface CloseJob {
  lo: number
  span: number
  /** The day's dirty mark when this close started: a fold after it leaves the day dirty. */
  seq: number
  metrics: boolean
  definition: string
  acc: DayAcc
}

export interface CloseState {
  _id: string
  job: CloseJob | null
  closedAt: number | null
  closedSeq: number
  /** When the nightly run computed the funnels entered that day once their window had closed (their final numbers). */
  finalAt: number | null
}

export async function loadCloseState(day: string): Promise<CloseState> {
  const doc = (await collection('metrics_state').get(`close:${day}`)) as Partial<CloseState> | null
  return { _id: `close:${day}`, job: doc?.job ?? null, closedAt: doc?.closedAt ?? null, closedSeq: doc?.closedSeq ?? 0, finalAt: doc?.finalAt ?? null }
}

async function saveCloseState(state: CloseState): Promise<void> {
  const { _id, ...rest } = state
  await collection('metrics_state').set(_id, rest)
}

function entersAny(funnels: FunnelDef[], parts: MetricsPartialDoc[]): boolean {
  return funnels.some((f) => {
    const first = f.steps[0]!
    return parts.some((part) => part.steps.some(([n, p]) => n === first.event && (!first.page || p === first.page)))
  })
}

/** The later days' partials of `openids` within the funnels' longest window, split when a read would be cut short. */
async function laterPartials(day: string, openids: string[], windowDays: number, limit: number): Promise<MetricsPartialDoc[]> {
  if (openids.length === 0 || windowDays === 0) return []
  const _ = command()
  const found = await collection('metrics_partials').find(
    { openid: _.in(openids), day: _.gt(day).and(_.lte(addDays(day, windowDays))) },
    { fields: { day: true, openid: true, steps: true }, limit },
  )
  if (found.length < limit || openids.length === 1) return found
  const half = openids.length >> 1
  return [...(await laterPartials(day, openids.slice(0, half), windowDays, limit)), ...(await laterPartials(day, openids.slice(half), windowDays, limit))]
}

export interface CloseResult {
  done: boolean
  daily: Omit<DailyMetricsDoc, '_id'> | null
  funnelDays: number
}

/**
 * Closes `day` (resuming a close that stopped), until `deadline`. `metrics: false` recomputes only
 * the funnels entered that day (their window closed: the final numbers). `seq` is the day's dirty
 * mark now.
 */
export async function closeDay(day: string, options: { now: Date; deadline: number; funnels: FunnelDef[]; metrics: boolean; seq: number }): Promise<CloseResult> {
  const { now, funnels } = options
  const state = await loadCloseState(day)
  const definition = JSON.stringify(funnels.map(definitionKey))
  let job = state.job
  if (!job || job.definition !== definition || job.metrics !== options.metrics) {
    job = { lo: 0, span: HASH_SPACE, seq: options.seq, metrics: options.metrics, definition, acc: emptyAcc(funnels) }
  }
  const limit = chunkSize()
  const windowDays = Math.max(0, ...funnels.map((f) => f.windowDays))
  const partials = collection('metrics_partials')
  const _ = command()
  for (let reads = 0; job.lo < HASH_SPACE; reads++) {
    // At least one read per run, so even a tiny budget makes progress.
    if (reads > 0 && Date.now() > options.deadline) {
      state.job = job
      await saveCloseState(state)
      return { done: false, daily: null, funnelDays: 0 }
    }
    const hi = Math.min(job.lo + job.span, HASH_SPACE)
    const parts = await partials.find({ day, h: _.gte(job.lo).and(_.lt(hi)) }, { limit })
    if (parts.length >= limit && job.span > 1) {
      // Maybe more in this range than a read returns: narrow it and read again.
      job.span = Math.ceil(job.span / 4)
      continue
    }
    const byUser = new Map<string, MetricsPartialDoc[]>()
    for (const part of parts) byUser.set(part.openid, [...(byUser.get(part.openid) ?? []), part])
    const openids = [...byUser.keys()]
    const users = new Map<string, Pick<UserDoc, 'firstSeenDay' | 'firstTouch'>>()
    if (job.metrics && openids.length > 0) {
      const docs = await collection('users').find({ _id: _.in(openids) }, { fields: { _id: true, firstSeenDay: true, firstTouch: true }, limit: openids.length })
      for (const doc of docs) users.set(doc._id, doc)
    }
    const entrants = openids.filter((u) => entersAny(funnels, byUser.get(u)!))
    const later = new Map<string, MetricsPartialDoc[]>()
    for (const part of await laterPartials(day, entrants, windowDays, limit)) later.set(part.openid, [...(later.get(part.openid) ?? []), part])
    for (const [openid, mine] of byUser) {
      addUser(job.acc, day, mine, later.get(openid) ?? [], job.metrics ? (users.get(openid) ?? null) : null, funnels)
    }
    job.lo = hi
    job.span = nextSpan(job.span, parts.length, limit, HASH_SPACE)
  }

  let daily: Omit<DailyMetricsDoc, '_id'> | null = null
  if (job.metrics) {
    daily = dailyFromAcc(job.acc, day, await newUsers(day), now, now.getTime() < dayStart(addDays(day, 1)).getTime())
    await collection('metrics_daily').set(day, daily)
  }
  for (const [f, funnel] of funnels.entries()) {
    const doc: Omit<FunnelDayDoc, '_id'> = {
      funnel: funnel.id,
      day,
      definition: definitionKey(funnel),
      ...funnelResult(job.acc.funnels[f]!),
      computedAt: now,
      partial: windowOpen(funnel, day, now),
    }
    await collection('metrics_funnels').set(`${funnel.id}:${day}`, doc)
  }
  state.job = null
  if (job.metrics) {
    state.closedAt = now.getTime()
    state.closedSeq = job.seq
  }
  else state.finalAt = now.getTime()
  await saveCloseState(state)
  return { done: true, daily, funnelDays: funnels.length }
}
