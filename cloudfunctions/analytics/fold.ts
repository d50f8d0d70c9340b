/**
 * The fold: the only reader of raw events in the daily path. Events are taken by when they were
 * received, one minute-slice at a time, grouped by user and day in the database, and written back
 * as compact partials (one per user, day and slice; see facts.ts). A slice is read once when it is
 * final, and at most once more if a run folded it before it was final (provisionally) and events
 * arrived in it since. The cursor lives in `metrics_state` (`fold`), so a run stopped by its time
 * budget resumes where it stopped. Late events (up to the 30 days `track` accepts) land in the
 * slice they arrived in, like any other, and mark their day for closing again.
 */
import { collection, command } from '../_shared/cloud'
import type { MetricsPartialDoc } from '../_shared/models'
import { addDays, shanghaiDay } from '../_shared/time'
import { ERROR_EVENTS } from '../track/plan'
import type { FunnelDef } from './api'
import { type FoldedEvent, MAX_RETENTION_DAY, partialOf, SETTLE_MS, SLICE_MS, stepNames } from './facts'

export interface FoldState {
  /** Every slice before this instant (ms) is folded and final; null before the first run. */
  through: number | null
  /** Slices at or after `through` folded before they were final, with the events they held (in all, and per day). */
  provisional: { slice: number; count: number; days?: Record<string, number> }[]
  /** Bumped whenever a day gets new partials; a day is dirty while its mark is above its last close's. */
  seq: number
  dirty: Record<string, number>
}

const STATE_ID = 'fold'

export async function loadFoldState(): Promise<FoldState> {
  const doc = (await collection('metrics_state').get(STATE_ID)) as Partial<FoldState> | null
  return { through: doc?.through ?? null, provisional: doc?.provisional ?? [], seq: doc?.seq ?? 0, dirty: doc?.dirty ?? {} }
}

async function saveFoldState(state: FoldState): Promise<void> {
  // Days more than 31 days old cannot change any more (`track` refuses events older than 30 days).
  const oldest = addDays(shanghaiDay(new Date(state.through ?? Date.now())), -(MAX_RETENTION_DAY + 1))
  for (const day of Object.keys(state.dirty)) if (day < oldest) delete state.dirty[day]
  await collection('metrics_state').set(STATE_ID, { ...state })
}

/** The message an error event is counted under (its message, its path, or `fn.action code`), in the database. */
export const messageExpr = {
  $ifNull: [
    '$props.message',
    { $ifNull: ['$props.path', { $concat: [{ $ifNull: ['$props.fn', ''] }, '.', { $ifNull: ['$props.action', ''] }, ' ', { $ifNull: ['$props.code', ''] }] }] },
  ],
}

interface FoldRow {
  _id: { u: string; d: string }
  ev: FoldedEvent[]
}

export interface FoldReport {
  slices: number
  events: number
  partials: number
  /** False when the time budget ran out first (the next run continues). */
  done: boolean
}

/** A user's earliest event of the slice was on an earlier day than their first day: move it. */
async function moveFirstDays(rows: FoldRow[], sliceDay: string, state: FoldState): Promise<void> {
  const earliest = new Map<string, { day: string; at: number }>()
  for (const row of rows) {
    if (row._id.d >= sliceDay) continue // only late events can be earlier than a first day
    const at = Math.min(...row.ev.map((e) => new Date(e.t).getTime()))
    const known = earliest.get(row._id.u)
    if (!known || row._id.d < known.day) earliest.set(row._id.u, { day: row._id.d, at })
  }
  if (earliest.size === 0) return
  const _ = command()
  const users = await collection('users').find({ _id: _.in([...earliest.keys()]) }, { fields: { _id: true, firstSeenDay: true }, limit: earliest.size })
  for (const user of users) {
    const first = earliest.get(user._id)!
    if (!(user.firstSeenDay > first.day)) continue
    await collection('users').updateWhere({ _id: user._id, firstSeenDay: _.gt(first.day) }, { firstSeenDay: first.day, firstSeenAt: new Date(first.at) })
    // Their new-user day moved: both days' new users change, and so does the retention of every day
    // they were active within 30 days of either.
    const active = await collection('metrics_partials').find(
      { openid: user._id, day: _.gt(first.day).and(_.lte(addDays(user.firstSeenDay, MAX_RETENTION_DAY))) },
      { fields: { day: true }, limit: 1000 },
    )
    for (const day of new Set([first.day, user.firstSeenDay, ...active.map((p) => p.day)])) state.dirty[day] = ++state.seq
  }
}

async function foldSlice(
  slice: number,
  steps: Set<string>,
  state: FoldState,
  before: FoldState['provisional'][number] | undefined,
): Promise<{ events: number; partials: number; days: Record<string, number> }> {
  const rows = await collection('events').aggregate<FoldRow>([
    { $match: { receivedAt: command().gte(new Date(slice)).and(command().lt(new Date(slice + SLICE_MS))) } },
    {
      $group: {
        _id: { u: '$openid', d: '$day' },
        ev: {
          $push: {
            n: '$name',
            p: '$page',
            t: '$ts',
            i: '$_id',
            s: '$sessionId',
            ms: '$props.durationMs',
            m: { $cond: [{ $in: ['$name', [...ERROR_EVENTS]] }, messageExpr, null] },
          },
        },
      },
    },
    { $limit: 1_000_000 },
  ])
  const partials: MetricsPartialDoc[] = rows.map((row) => partialOf(slice, row._id.u, row._id.d, row.ev, steps))
  // A slice folded before (provisionally, or by a run that stopped half-way) is replaced whole.
  if (before || partials.length > 0) await collection('metrics_partials').removeWhere({ slice })
  for (let at = 0; at < partials.length; at += 500) await collection('metrics_partials').addMany(partials.slice(at, at + 500))
  await moveFirstDays(rows, shanghaiDay(new Date(slice)), state)
  const days: Record<string, number> = {}
  for (const p of partials) days[p.day] = (days[p.day] ?? 0) + p.events
  // A slice folded again marks only the days whose events in it changed.
  for (const day of Object.keys(days)) if (before?.days?.[day] !== days[day]) state.dirty[day] = ++state.seq
  return { events: partials.reduce((n, p) => n + p.events, 0), partials: partials.length, days }
}

/**
 * Folds every slice received since the cursor, up to `now`, until `deadline` (ms). Slices not yet
 * final are folded provisionally: the next run counts their events and folds them again only if
 * some arrived since.
 */
export async function foldPending(now: number, deadline: number, funnels: FunnelDef[]): Promise<FoldReport> {
  const state = await loadFoldState()
  const report: FoldReport = { slices: 0, events: 0, partials: 0, done: false }
  const events = collection('events')
  if (state.through === null) {
    // The first run starts at the oldest event (the one read of all events, once).
    const [oldest] = await events.find({}, { orderBy: [['receivedAt', 'asc']], limit: 1, fields: { receivedAt: true } })
    const from = oldest ? new Date(oldest.receivedAt).getTime() : now
    state.through = Math.floor(from / SLICE_MS) * SLICE_MS
  }
  const names = stepNames(funnels)
  const _ = command()
  let advancing = true
  let slice = state.through
  let folds = 0
  for (; slice < now; slice += SLICE_MS) {
    const final = slice + SLICE_MS <= now - SETTLE_MS
    const known = state.provisional.find((p) => p.slice === slice)
    if (known) {
      const count = await events.count({ receivedAt: _.gte(new Date(slice)).and(_.lt(new Date(slice + SLICE_MS))) })
      if (count === known.count) {
        if (final && advancing) {
          state.provisional = state.provisional.filter((p) => p.slice !== slice)
          state.through = slice + SLICE_MS
        }
        if (!final) advancing = false
        continue
      }
    }
    // At least one fold per run, so even a tiny budget makes progress.
    if (folds++ > 0 && Date.now() > deadline) break
    const folded = await foldSlice(slice, names, state, known)
    report.slices++
    report.events += folded.events
    report.partials += folded.partials
    state.provisional = state.provisional.filter((p) => p.slice !== slice)
    // Final and nothing unsettled before it: the cursor moves on. Otherwise it is checked next run.
    if (final && advancing) state.through = slice + SLICE_MS
    else state.provisional.push({ slice, count: folded.events, days: folded.days })
    if (!final) advancing = false
    if (folded.partials > 0) await saveFoldState(state)
  }
  report.done = slice >= now
  await saveFoldState(state)
  return report
}
