/**
 * An experiment's results from its exposure and goal events. Aggregations in the database do the
 * work (the function receives a few rows per variant, never raw events or per-user rows):
 *
 *  1. the exposures of this experiment in [from, to] and the goal events in [from, to + window],
 *     read through the `name_1_openid_1_ts_1` index of `events`;
 *  2. grouped per user: the first exposure, the set of variants seen, the goal event times;
 *  3. per user: converted = a goal event in [first exposure, first exposure + withinDays); and, for
 *     CUPED, pre = the goal events in the PRE_DAYS before the first exposure;
 *  4. grouped per variant (users who saw more than one variant, or are on the override list, apart).
 *
 * Large experiments run as several such aggregations over disjoint OPENID ranges (a user's events
 * all fall in one), so each stays far inside the SDK's 15 s request timeout and MongoDB's 100 MB
 * per-stage memory, whatever the number of users; their rows are summed here.
 *
 * The result is one `metrics_experiments` document, replaced whole: running the rollup again over
 * the same events writes the same numbers.
 */
import { collection } from '../_shared/cloud'
import type { ExperimentResultsDoc } from '../_shared/models'
import type { ExperimentResults } from './api'
import { EXPOSURE_EVENT, type ExperimentDoc } from './schema'
import { analyze, type PreSums } from './stats'

const DAY_MS = 86_400_000
/** CUPED's covariate: goal events in this many days before a user's first exposure. */
export const PRE_DAYS = 14
/** Group keys for users left out; variant keys cannot contain '#'. */
const MULTIPLE = '#multiple'
const OVERRIDDEN = '#overridden'
/** Users per aggregation: about 2 s of the local cloud's engine, a few MB of group state in MongoDB. */
export const CHUNK_USERS = 20_000
const MAX_CHUNKS = 128
/** Exposure events read to place the OPENID range boundaries. */
const SAMPLE = 1000

interface VariantRow {
  _id: string | null
  users: number
  conversions: number
  /** The earliest first exposure in the row. */
  from: Date | null
  /** Σ pre, Σ pre², Σ pre over users who converted (CUPED). */
  preSum: number
  preSq: number
  preConverted: number
}

/** An OPENID range [lo, hi); undefined = unbounded. */
export interface UserRange {
  lo?: string
  hi?: string
}

/**
 * Splits the experiment's users into about `users / CHUNK_USERS` OPENID ranges, at quantiles of a
 * random sample of its exposures (`$sample`: the first exposures stored would not do, ids made in
 * sequence would all fall in one range). `expectedUsers` is the previous result's count; without
 * one, a full sample means "large". Any boundaries give the same result, only the balance differs.
 */
export async function userRanges(exp: ExperimentDoc, expectedUsers: number | null): Promise<UserRange[]> {
  if (expectedUsers !== null && expectedUsers < CHUNK_USERS / 2) return [{}]
  const sample = await collection('events').aggregate<{ openid: string }>([
    { $match: { name: EXPOSURE_EVENT, 'props.experiment': exp._id } },
    { $sample: { size: SAMPLE } },
    { $project: { _id: 0, openid: 1 } },
    { $limit: SAMPLE },
  ])
  if (sample.length < SAMPLE && expectedUsers === null) return [{}]
  const chunks = Math.min(MAX_CHUNKS, Math.max(2, Math.ceil(((expectedUsers ?? CHUNK_USERS * 8) * 1.2) / CHUNK_USERS)))
  const ids = [...new Set(sample.map((e) => e.openid))].sort()
  const bounds = [...new Set(Array.from({ length: chunks - 1 }, (_, i) => ids[Math.floor(((i + 1) * ids.length) / chunks)]!))].filter(Boolean)
  return [undefined, ...bounds].map((lo, i) => ({ ...(lo ? { lo } : {}), ...(bounds[i] ? { hi: bounds[i] } : {}) }))
}

/** Users and conversions per group (a variant key, MULTIPLE or OVERRIDDEN) of one OPENID range, by one aggregation. */
export async function countVariants(exp: ExperimentDoc, from: Date | null, to: Date, range: UserRange = {}): Promise<VariantRow[]> {
  const windowMs = exp.goal.withinDays * DAY_MS
  const isExposure = { $eq: ['$name', EXPOSURE_EVENT] }
  const overridden = Object.keys(exp.overrides ?? {})
  const preMs = PRE_DAYS * DAY_MS
  // Without a start (a running default), everything before `to` counts: no user converts before their first exposure anyway.
  // Goal events reach back PRE_DAYS before the start: the pre-period of the first users exposed.
  const ts = { ...(from ? { $gte: new Date(from.getTime() - preMs) } : {}), $lt: new Date(to.getTime() + windowMs) }
  const openid = { $gt: '', ...(range.lo ? { $gte: range.lo } : {}), ...(range.hi ? { $lt: range.hi } : {}) }
  return collection('events').aggregate<VariantRow>([
    {
      $match: {
        // One index range per event name (and OPENID range); a goal can come up to a window after the last exposure.
        name: { $in: [EXPOSURE_EVENT, exp.goal.event] },
        openid,
        ts,
        $or: [{ name: EXPOSURE_EVENT, 'props.experiment': exp._id, ts: { ...(from ? { $gte: from } : {}), $lte: to } }, { name: exp.goal.event }],
      },
    },
    {
      $group: {
        _id: '$openid',
        first: { $min: { $cond: [isExposure, '$ts', null] } },
        variants: { $addToSet: { $cond: [isExposure, '$props.variant', null] } },
        goals: { $push: { $cond: [isExposure, null, '$ts'] } },
      },
    },
    { $match: { first: { $ne: null } } }, // goal events of users never exposed
    {
      $project: {
        first: 1,
        variants: { $setDifference: ['$variants', [null]] },
        converted: {
          $gt: [
            {
              $size: {
                $filter: {
                  input: '$goals',
                  as: 'g',
                  cond: { $and: [{ $ne: ['$$g', null] }, { $gte: ['$$g', '$first'] }, { $lt: ['$$g', { $add: ['$first', windowMs] }] }] },
                },
              },
            },
            0,
          ],
        },
        pre: {
          $size: {
            $filter: {
              input: '$goals',
              as: 'g',
              cond: { $and: [{ $ne: ['$$g', null] }, { $lt: ['$$g', '$first'] }, { $gte: ['$$g', { $subtract: ['$first', preMs] }] }] },
            },
          },
        },
      },
    },
    {
      $group: {
        _id: {
          $cond: [
            { $in: ['$_id', overridden] },
            OVERRIDDEN,
            { $cond: [{ $eq: [{ $size: '$variants' }, 1] }, { $arrayElemAt: ['$variants', 0] }, MULTIPLE] },
          ],
        },
        users: { $sum: 1 },
        conversions: { $sum: { $cond: ['$converted', 1, 0] } },
        from: { $min: '$first' },
        preSum: { $sum: '$pre' },
        preSq: { $sum: { $multiply: ['$pre', '$pre'] } },
        preConverted: { $sum: { $cond: ['$converted', '$pre', 0] } },
      },
    },
    { $limit: 1000 },
  ])
}

/** Computes one experiment's results at `now` and writes them whole. Drafts have none. */
export async function rollupExperiment(exp: ExperimentDoc, now: Date): Promise<ExperimentResultsDoc> {
  const to = exp.stoppedAt && exp.stoppedAt < now ? exp.stoppedAt : now
  const previous = await collection('metrics_experiments').get(exp._id)
  // A running default has no startedAt: it counts from its first exposure, found by the first run.
  const from = exp.startedAt ?? previous?.from ?? null
  const expected = previous ? previous.users + previous.multipleExposures + previous.overridden : null
  const byKey = new Map<string | null, VariantRow>()
  for (const range of await userRanges(exp, expected)) {
    for (const row of await countVariants(exp, from, to, range)) {
      const sum = byKey.get(row._id)
      byKey.set(row._id, {
        _id: row._id,
        users: (sum?.users ?? 0) + row.users,
        conversions: (sum?.conversions ?? 0) + row.conversions,
        from: sum?.from && row.from && sum.from < row.from ? sum.from : (row.from ?? sum?.from ?? null),
        preSum: (sum?.preSum ?? 0) + (row.preSum ?? 0),
        preSq: (sum?.preSq ?? 0) + (row.preSq ?? 0),
        preConverted: (sum?.preConverted ?? 0) + (row.preConverted ?? 0),
      })
    }
  }
  const rows = [...byKey.values()]
  const unknown = rows.filter((r) => r._id !== MULTIPLE && r._id !== OVERRIDDEN && !exp.variants.some((v) => v.key === r._id))
  if (unknown.length > 0) {
    // A device with an old config, or a hand-made event: not part of any variant we can compare.
    console.warn(`[experiments] ${exp._id}: exposures of unknown variants left out: ${unknown.map((r) => `${r._id}=${r.users}`).join(', ')}`)
  }
  const counted = exp.variants.map((v) => {
    const row = byKey.get(v.key)
    const pre: PreSums = { sum: row?.preSum ?? 0, sumSq: row?.preSq ?? 0, sumConverted: row?.preConverted ?? 0 }
    return { key: v.key, name: v.name, weight: v.weight, users: row?.users ?? 0, conversions: row?.conversions ?? 0, pre }
  })
  const firstExposure = rows.reduce<Date | null>((min, r) => (r.from && (!min || r.from < min) ? r.from : min), null)
  const doc: Omit<ExperimentResultsDoc, '_id'> = {
    name: exp.name,
    status: exp.status,
    goal: { event: exp.goal.event, withinDays: exp.goal.withinDays },
    startedAt: exp.startedAt ?? null,
    stoppedAt: exp.stoppedAt ?? null,
    from: from ?? firstExposure,
    to,
    computedAt: now,
    users: counted.reduce((s, v) => s + v.users, 0),
    multipleExposures: byKey.get(MULTIPLE)?.users ?? 0,
    overridden: byKey.get(OVERRIDDEN)?.users ?? 0,
    ...analyze(counted),
  }
  await collection('metrics_experiments').set(exp._id, doc)
  return { _id: exp._id, ...doc }
}

/** The stored document as the `results` action returns it. */
export function toResults(doc: ExperimentResultsDoc): ExperimentResults {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null)
  const { _id, startedAt, stoppedAt, from, to, computedAt, ...rest } = doc
  return {
    key: _id,
    ...rest,
    // Results stored before CUPED and the always-valid interval: recomputed within the hour.
    comparisons: rest.comparisons.map((c) => ({ ...c, cuped: c.cuped ?? null, sequentialCi: c.sequentialCi ?? null })),
    stopping: rest.stopping ?? { safe: false, text: '还不能判断能否停止：等下次计算（每小时）' },
    startedAt: iso(startedAt),
    stoppedAt: iso(stoppedAt),
    from: iso(from),
    to: new Date(to).toISOString(),
    computedAt: new Date(computedAt).toISOString(),
  }
}
