/**
 * The full recomputation of a day from its raw events: every number by an aggregation in the
 * database (the function only receives grouped rows). This was the daily rollup before the
 * incremental one (fold.ts, close.ts); it is kept as the reference the incremental numbers must
 * equal: the admin action `recompute` returns it for a day without writing anything, and the tests
 * compare the two. It reads the day's events about four times, and the content funnel a week of
 * them: for checks and audits, not the daily path.
 */
import { collection } from '../_shared/cloud'
import type { DailyMetricsDoc } from '../_shared/models'
import { addDays, daysFrom, dayStart } from '../_shared/time'
import { ERROR_EVENTS } from '../track/plan'
import { MAX_RETENTION_DAY, TOP_ERRORS, TOP_PAGES, TOP_PATHS, type TrafficTotals } from './facts'
import { messageExpr } from './fold'


/**
 * A user's channel from their first touch, most specific first: a channel code's channel, a utm
 * source, a share (someone invited them), else the WeChat scene. Evaluated in the database.
 */
export function channelExpr(touch: string): Record<string, unknown> {
  return {
    $ifNull: [
      `${touch}.channel`,
      {
        $ifNull: [
          `${touch}.utm_source`,
          {
            $cond: [
              { $ifNull: [`${touch}.inviter`, false] },
              'share',
              { $cond: [{ $ifNull: [`${touch}.scene`, false] }, { $concat: ['scene_', { $toString: `${touch}.scene` }] }, 'unknown'] },
            ],
          },
        ],
      },
    ],
  }
}

const isEvent = (name: string) => ({ $cond: [{ $eq: ['$name', name] }, 1, 0] })

interface Totals extends TrafficTotals {
  js_error: number
  promise_rejection: number
  page_not_found: number
  cloud_call_failed: number
}

/** Users, page views, sessions and errors of the day in one pass: per session, per user, then in all. */
async function totals(day: string): Promise<Totals> {
  const errorSums = Object.fromEntries(ERROR_EVENTS.map((name) => [name, { $sum: isEvent(name) }]))
  const carried = Object.fromEntries(ERROR_EVENTS.map((name) => [name, { $sum: `$${name}` }]))
  const [row] = await collection('events').aggregate<Totals>([
    { $match: { day } },
    {
      $group: {
        _id: { u: '$openid', s: '$sessionId' },
        pv: { $sum: isEvent('page_view') },
        hides: { $sum: isEvent('app_hide') },
        ms: { $sum: { $cond: [{ $eq: ['$name', 'app_hide'] }, '$props.durationMs', 0] } },
        ...errorSums,
      },
    },
    {
      $group: {
        _id: '$_id.u',
        pv: { $sum: '$pv' },
        sessions: { $sum: 1 },
        endedSessions: { $sum: { $cond: [{ $gt: ['$hides', 0] }, 1, 0] } },
        sessionMs: { $sum: '$ms' },
        sessionsWithError: { $sum: { $cond: [{ $gt: [{ $add: ERROR_EVENTS.map((n) => `$${n}`) }, 0] }, 1, 0] } },
        ...carried,
      },
    },
    {
      $group: {
        _id: null,
        uv: { $sum: 1 },
        pv: { $sum: '$pv' },
        sessions: { $sum: '$sessions' },
        endedSessions: { $sum: '$endedSessions' },
        sessionMs: { $sum: '$sessionMs' },
        sessionsWithError: { $sum: '$sessionsWithError' },
        ...carried,
      },
    },
  ])
  return row ?? { uv: 0, pv: 0, sessions: 0, endedSessions: 0, sessionMs: 0, sessionsWithError: 0, js_error: 0, promise_rejection: 0, page_not_found: 0, cloud_call_failed: 0 }
}

async function pages(day: string): Promise<DailyMetricsDoc['pages']> {
  const rows = await collection('events').aggregate<{ _id: string; pv: number; uv: number }>([
    { $match: { day, name: 'page_view' } },
    { $group: { _id: { p: '$page', u: '$openid' }, pv: { $sum: 1 } } },
    { $group: { _id: '$_id.p', pv: { $sum: '$pv' }, uv: { $sum: 1 } } },
    { $sort: { pv: -1, _id: 1 } },
    { $limit: TOP_PAGES },
  ])
  return rows.map((r) => ({ page: r._id, pv: r.pv, uv: r.uv }))
}

/** The most common first three pages of a session (sessions with a page view that day). */
async function paths(day: string): Promise<DailyMetricsDoc['paths']> {
  const rows = await collection('events').aggregate<{ _id: string[]; sessions: number }>([
    { $match: { day, name: 'page_view' } },
    { $sort: { ts: 1, _id: 1 } },
    { $group: { _id: '$sessionId', pages: { $push: '$page' } } },
    { $group: { _id: { $slice: ['$pages', 3] }, sessions: { $sum: 1 } } },
    // Ties in the pages joined with line ends (facts.ts's pathKey): the database's own array order is not the same everywhere.
    { $addFields: { key: { $reduce: { input: '$_id', initialValue: '', in: { $concat: ['$$value', '$$this', '\n'] } } } } },
    { $sort: { sessions: -1, key: 1 } },
    { $limit: TOP_PATHS },
  ])
  return rows.map((r) => ({ path: r._id, sessions: r.sessions }))
}

async function errorMessages(day: string): Promise<DailyMetricsDoc['errorMessages']> {
  const rows = await collection('events').aggregate<{ _id: { n: string; m: string }; count: number }>([
    { $match: { day, name: { $in: [...ERROR_EVENTS] } } },
    {
      $group: {
        _id: {
          n: '$name',
          m: messageExpr,
        },
        count: { $sum: 1 },
      },
    },
    { $sort: { count: -1, '_id.n': 1, '_id.m': 1 } },
    { $limit: TOP_ERRORS },
  ])
  return rows.map((r) => ({ name: r._id.n, message: r._id.m, count: r.count }))
}

export async function newUsers(day: string): Promise<DailyMetricsDoc['newUsersByChannel']> {
  const rows = await collection('users').aggregate<{ _id: string; users: number }>([
    { $match: { firstSeenDay: day } },
    { $group: { _id: channelExpr('$firstTouch'), users: { $sum: 1 } } },
    { $sort: { users: -1, _id: 1 } },
    { $limit: 1000 },
  ])
  return rows.map((r) => ({ channel: r._id, users: r.users }))
}

/**
 * The day's active users by cohort: each joined to their user document for their first day (and
 * first-touch channel), counted by (first day, channel). Cohorts older than 30 days are left out.
 */
async function returning(day: string): Promise<Pick<DailyMetricsDoc, 'returning' | 'returningByChannel'>> {
  const rows = await collection('user_days').aggregate<{ _id: { c: string; ch: string }; users: number }>([
    { $match: { day } },
    { $lookup: { from: 'users', localField: 'openid', foreignField: '_id', as: 'u' } },
    { $unwind: '$u' },
    { $match: { 'u.firstSeenDay': { $gte: addDays(day, -MAX_RETENTION_DAY), $lt: day } } },
    { $group: { _id: { c: '$u.firstSeenDay', ch: channelExpr('$u.firstTouch') }, users: { $sum: 1 } } },
    { $limit: 100_000 },
  ])
  const byN = new Map<number, number>()
  const byChannel = new Map<string, { d1: number; d7: number }>()
  for (const row of rows) {
    const n = daysFrom(row._id.c, day)
    byN.set(n, (byN.get(n) ?? 0) + row.users)
    if (n === 1 || n === 7) {
      const entry = byChannel.get(row._id.ch) ?? { d1: 0, d7: 0 }
      if (n === 1) entry.d1 += row.users
      else entry.d7 += row.users
      byChannel.set(row._id.ch, entry)
    }
  }
  return {
    returning: [...byN].sort((a, b) => a[0] - b[0]).map(([n, users]) => ({ n, users })),
    returningByChannel: [...byChannel].sort((a, b) => a[0].localeCompare(b[0])).map(([channel, v]) => ({ channel, ...v })),
  }
}

/** Computes one day from its raw events (nothing is written). */
export async function recomputeDay(day: string, now: Date): Promise<Omit<DailyMetricsDoc, '_id'>> {
  // Sequential on purpose: a cloud function's database connection pool is small, and each of these
  // is one round trip.
  const t = await totals(day)
  const doc: Omit<DailyMetricsDoc, '_id'> = {
    day,
    uv: t.uv,
    pv: t.pv,
    sessions: t.sessions,
    endedSessions: t.endedSessions,
    sessionMs: t.sessionMs,
    newUsers: 0,
    newUsersByChannel: await newUsers(day),
    ...(await returning(day)),
    pages: await pages(day),
    paths: await paths(day),
    errors: {
      js_error: t.js_error,
      promise_rejection: t.promise_rejection,
      page_not_found: t.page_not_found,
      cloud_call_failed: t.cloud_call_failed,
      sessionsWithError: t.sessionsWithError,
    },
    errorMessages: await errorMessages(day),
    computedAt: now,
    partial: now.getTime() < dayStart(addDays(day, 1)).getTime(),
  }
  doc.newUsers = doc.newUsersByChannel.reduce((n, c) => n + c.users, 0)
  return doc
}
