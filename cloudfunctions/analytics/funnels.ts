/**
 * Funnels: ordered steps over tracked events, each counted once per user, a step counting only
 * after the previous one and within the conversion window from the first step. The definitions are
 * configuration: the `app_config` document `funnels` ({ funnels: [...] }, edited in the cloud
 * console, checked by the `validateFunnels` action), or these defaults.
 */
import { collection } from '../_shared/cloud'
import { addDays, dayStart } from '../_shared/time'
import { type FunnelDef, funnelsConfigSchema } from './api'

export const DEFAULT_FUNNELS: FunnelDef[] = [
  {
    id: 'content',
    name: '内容转化',
    windowDays: 7,
    steps: [
      { event: 'page_view', page: 'pages/home/index', label: '浏览首页' },
      { event: 'page_view', page: 'packages/guide/detail/index', label: '进入详情' },
      { event: 'content_open', label: '读完指南' },
      { event: 'share', label: '分享' },
    ],
  },
  {
    // The onboarding guide: a step shown (the first one a user sees), then finished (docs/onboarding.md).
    id: 'onboarding',
    name: '新手引导',
    windowDays: 7,
    steps: [
      { event: 'onboarding_step', page: 'pages/home/index', label: '看到引导' },
      { event: 'onboarding_finish', label: '完成引导' },
    ],
  },
]

/** The configured funnels; a stored configuration that is not valid is reported, not guessed at. */
export async function loadFunnels(): Promise<{ funnels: FunnelDef[]; error: string | null }> {
  const doc = await collection('app_config').get('funnels')
  if (!doc) return { funnels: DEFAULT_FUNNELS, error: null }
  const parsed = funnelsConfigSchema.safeParse(doc.funnels)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { funnels: [], error: `app_config/funnels is invalid: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unreadable'}` }
  }
  return { funnels: parsed.data, error: null }
}

/** What a stored result was computed with: a changed definition makes old results incomparable. */
export function definitionKey(funnel: FunnelDef): string {
  return JSON.stringify([funnel.windowDays, funnel.steps.map((s) => [s.event, s.page ?? null])])
}

function median(values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2)
}

/**
 * The funnel for the users who did its first step on `day`. One aggregation in the database: the
 * steps' events of the window, per user in time order, folded ($reduce) into how far the user got
 * and when; then grouped by how far. Only those per-depth groups come back (with each user's gaps
 * between steps, for the medians).
 */
export async function computeFunnelDay(funnel: FunnelDef, day: string): Promise<{ users: number[]; medianMs: (number | null)[] }> {
  const names = funnel.steps.map((s) => s.event)
  const pages = funnel.steps.map((s) => s.page ?? null)
  const windowMs = funnel.windowDays * 86_400_000
  const k = funnel.steps.length
  const step = { $arrayElemAt: [{ $literal: names }, '$$value.i'] }
  const page = { $arrayElemAt: [{ $literal: pages }, '$$value.i'] }
  const rows = await collection('events').aggregate<{ _id: number; users: number; gaps: number[][] }>([
    {
      $match: {
        day: { $gte: day, $lte: addDays(day, funnel.windowDays) },
        name: { $in: [...new Set(names)] },
      },
    },
    // Only the steps' own events (a step may be limited to one page).
    { $match: { $or: funnel.steps.map((s) => (s.page ? { name: s.event, page: s.page } : { name: s.event })) } },
    // Equal timestamps in the device's order: ids are UUIDv7s, monotonic within a millisecond on a device.
    { $sort: { ts: 1, _id: 1 } },
    { $group: { _id: '$openid', evs: { $push: { n: '$name', p: '$page', t: '$ts', d: '$day' } } } },
    // Only users who did the first step on the entry day go through the fold.
    { $match: { evs: { $elemMatch: { n: names[0], d: day, ...(pages[0] ? { p: pages[0] } : {}) } } } },
    {
      $project: {
        r: {
          $reduce: {
            input: '$evs',
            initialValue: { i: 0, t: [] },
            in: {
              $cond: [
                {
                  $and: [
                    { $lt: ['$$value.i', k] },
                    { $eq: ['$$this.n', step] },
                    { $or: [{ $eq: [page, null] }, { $eq: ['$$this.p', page] }] },
                    {
                      $or: [
                        // The first step: on the entry day.
                        { $and: [{ $eq: ['$$value.i', 0] }, { $eq: ['$$this.d', day] }] },
                        // The next ones: within the window from the first.
                        { $and: [{ $gt: ['$$value.i', 0] }, { $lte: [{ $subtract: ['$$this.t', { $arrayElemAt: ['$$value.t', 0] }] }, windowMs] }] },
                      ],
                    },
                  ],
                },
                { i: { $add: ['$$value.i', 1] }, t: { $concatArrays: ['$$value.t', ['$$this.t']] } },
                '$$value',
              ],
            },
          },
        },
      },
    },
    { $match: { 'r.i': { $gte: 1 } } },
    {
      $project: {
        depth: '$r.i',
        gaps: {
          $map: {
            input: { $range: [1, '$r.i'] },
            as: 'j',
            in: { $subtract: [{ $arrayElemAt: ['$r.t', '$$j'] }, { $arrayElemAt: ['$r.t', { $subtract: ['$$j', 1] }] }] },
          },
        },
      },
    },
    { $group: { _id: '$depth', users: { $sum: 1 }, gaps: { $push: '$gaps' } } },
    { $limit: k },
  ])
  const users = Array.from({ length: k }, (_, j) => rows.filter((r) => r._id > j).reduce((n, r) => n + r.users, 0))
  const medianMs = Array.from({ length: k }, (_, j) => (j === 0 ? null : median(rows.flatMap((r) => r.gaps.filter((g) => g.length >= j).map((g) => g[j - 1]!)))))
  return { users, medianMs }
}

/** Whether the window of users entering on `day` is still open at `now`. */
export function windowOpen(funnel: FunnelDef, day: string, now: Date): boolean {
  return now.getTime() < dayStart(addDays(day, 1)).getTime() + funnel.windowDays * 86_400_000
}
