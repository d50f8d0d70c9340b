/**
 * `notify`: subscription messages. Records the user's answers (one accept = one send), tells the
 * device what it may still ask for, lets admins test a template and read its numbers, and sends the
 * daily check-in reminder on a timer (every 10 minutes from 20:00 to 20:30, each run resuming the
 * last: a user is handled once per day however many runs there are, concurrent ones included).
 */
import { randomBytes } from 'node:crypto'
import { isAdmin } from '../_shared/admin'
import { collection, command, isDuplicateKeyError } from '../_shared/cloud'
import { type BatchMessage, send, sendBatch, subscriptionId, templateIds } from '../_shared/messages'
import type { SubscriptionDoc } from '../_shared/models'
import { AppError, createRouter } from '../_shared/router'
import { type SubscribeOutcome, type TemplateKey, templateKeys } from '../_shared/templates'
import { addDays, shanghaiDay } from '../_shared/time'
import { notifyActions, type NotifyOutputs, type RemindResult, type TemplateStats } from './api'

/** Answers recorded per user and template per hour: a real user cannot answer more often. */
const RECORDS_PER_HOUR = 20

async function requireAdmin(openid: string | undefined): Promise<void> {
  if (!openid || !(await isAdmin(openid))) throw new AppError('FORBIDDEN', 'Only admins can do this.')
}

function emptyCounts(): SubscriptionDoc['counts'] {
  return { accept: 0, reject: 0, ban: 0, filter: 0, switched_off: 0 }
}

/** Records one answer: 1 round trip when the subscription exists, 2–3 for a user's first answer. */
async function recordOne(openid: string, template: TemplateKey, outcome: SubscribeOutcome, now: Date): Promise<void> {
  const _ = command()
  const subscriptions = collection('subscriptions')
  const id = subscriptionId(openid, template)
  const hour = now.toISOString().slice(0, 13)
  const change = {
    // Nested objects in an update set only the fields they name (the SDK sends dotted paths).
    counts: { [outcome]: _.inc(1) },
    ...(outcome === 'accept' ? { quota: _.inc(1) } : {}),
    last: _.set({ outcome, at: now }),
    updatedAt: now,
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    if ((await subscriptions.updateWhere({ _id: id, 'hourly.hour': hour, 'hourly.n': _.lt(RECORDS_PER_HOUR) }, { ...change, hourly: { n: _.inc(1) } })) > 0) return
    if ((await subscriptions.updateWhere({ _id: id, 'hourly.hour': _.neq(hour) }, { ...change, hourly: _.set({ hour, n: 1 }) })) > 0) return
    try {
      await subscriptions.add({
        _id: id,
        openid,
        template,
        quota: outcome === 'accept' ? 1 : 0,
        counts: { ...emptyCounts(), [outcome]: 1 },
        last: { outcome, at: now },
        hourly: { hour, n: 1 },
        updatedAt: now,
      })
      return
    } catch (err) {
      // Exists: either over this hour's limit, or created by a concurrent answer (then try again).
      if (!isDuplicateKeyError(err)) throw err
    }
  }
  throw new AppError('RATE_LIMITED', 'Too many answers recorded for this template in the last hour.')
}

// ---- the daily reminder -------------------------------------------------------------------------

function budgetMs(input: number | undefined): number {
  const env = Number(process.env.NOTIFY_BUDGET_MS)
  return input ?? (Number.isFinite(env) && env > 0 ? env : 50_000)
}

/** The reminder's text: the streak that a check-in today keeps going, or an invitation. */
function reminderData(streak: number): BatchMessage<'checkin_reminder'>['data'] {
  return {
    thing1: '每日签到',
    number2: streak,
    thing3: streak > 0 ? `今天签到，连续签到就到 ${streak + 1} 天了` : '今天还没签到，来领积分吧',
  }
}

async function remind(day: string, budget: number, batchSize: number): Promise<RemindResult> {
  const deadline = Date.now() + budget
  const _ = command()
  const runId = randomBytes(8).toString('hex')
  const result: RemindResult = { day, scanned: 0, checkedIn: 0, sent: 0, skipped: 0, failed: 0, exhausted: 0, done: false }
  if (!(await templateIds()).checkin_reminder) return { ...result, done: true }
  const yesterday = addDays(day, -1)
  let cursor = ''
  for (let batch = 0; ; batch++) {
    // At least one batch per run, so a short budget still makes progress.
    if (batch > 0 && Date.now() >= deadline) return result
    const subs = await collection('subscriptions').find(
      { template: 'checkin_reminder', quota: _.gt(0), doneFor: _.neq(day), _id: _.gt(cursor) },
      { orderBy: [['_id', 'asc']], limit: batchSize, fields: { _id: true, openid: true } },
    )
    if (subs.length === 0) return { ...result, done: true }
    cursor = subs[subs.length - 1]!._id
    result.scanned += subs.length
    const accounts = await collection('points_accounts').find({ _id: _.in(subs.map((s) => s.openid)) }, { limit: 1000, fields: { _id: true, checkin: true } })
    const byUser = new Map(accounts.map((a) => [a._id, a.checkin]))
    const checked = subs.filter((s) => byUser.get(s.openid)?.lastDay === day)
    if (checked.length) await collection('subscriptions').updateWhere({ _id: _.in(checked.map((s) => s._id)), doneFor: _.neq(day) }, { doneFor: day })
    result.checkedIn += checked.length
    const messages = subs
      .filter((s) => byUser.get(s.openid)?.lastDay !== day)
      .map((s) => {
        const last = byUser.get(s.openid)
        return { openid: s.openid, reason: `checkin_reminder:${s.openid}:${day}`, data: reminderData(last?.lastDay === yesterday ? last.streak : 0) }
      })
    const sent = await sendBatch({ template: 'checkin_reminder', run: day, runId, messages })
    result.sent += sent.sent
    result.skipped += sent.skipped + sent.invalid
    result.failed += sent.failed
    result.exhausted += sent.exhausted
    if (subs.length < batchSize) return { ...result, done: true }
  }
}

// ---- stats --------------------------------------------------------------------------------------

async function stats(): Promise<TemplateStats[]> {
  const [ids, subs, logs] = await Promise.all([
    templateIds(),
    collection('subscriptions').aggregate<{ _id: string; users: number; accepts: number; rejects: number; quotaLeft: number }>([
      { $group: { _id: '$template', users: { $sum: 1 }, accepts: { $sum: '$counts.accept' }, rejects: { $sum: '$counts.reject' }, quotaLeft: { $sum: '$quota' } } },
      { $limit: 100 },
    ]),
    collection('message_log').aggregate<{ _id: string; sent: number; failed: number; refused: number; opened: number }>([
      {
        $group: {
          _id: '$template',
          sent: { $sum: { $cond: [{ $eq: ['$status', 'sent'] }, 1, 0] } },
          failed: { $sum: { $cond: [{ $eq: ['$status', 'failed'] }, 1, 0] } },
          refused: { $sum: { $cond: [{ $eq: ['$status', 'refused'] }, 1, 0] } },
          opened: { $sum: { $cond: [{ $ifNull: ['$openedAt', false] }, 1, 0] } },
        },
      },
      { $limit: 100 },
    ]),
  ])
  return templateKeys.map((key) => {
    const s = subs.find((row) => row._id === key)
    const l = logs.find((row) => row._id === key)
    return {
      key,
      configured: Boolean(ids[key]),
      users: s?.users ?? 0,
      accepts: s?.accepts ?? 0,
      rejects: s?.rejects ?? 0,
      quotaLeft: s?.quotaLeft ?? 0,
      sent: l?.sent ?? 0,
      failed: l?.failed ?? 0,
      refused: l?.refused ?? 0,
      opened: l?.opened ?? 0,
    }
  })
}

export const main = createRouter<typeof notifyActions, NotifyOutputs>(
  notifyActions,
  {
    async record({ outcomes }, { openid }) {
      const now = new Date()
      const entries = Object.entries(outcomes) as [TemplateKey, SubscribeOutcome][]
      await Promise.all(entries.map(([template, outcome]) => recordOne(openid, template, outcome, now)))
      return { recorded: entries.length }
    },

    async status(_input, { openid }) {
      const ids = await templateIds()
      const configured = templateKeys.filter((key) => ids[key])
      if (configured.length === 0) return { templates: [] }
      const docs = await collection('subscriptions').find({ _id: command().in(configured.map((key) => subscriptionId(openid, key))) }, { limit: configured.length })
      return {
        templates: configured.map((key) => {
          const doc = docs.find((d) => d.template === key)
          return { key, id: ids[key]!, quota: doc?.quota ?? 0, last: doc ? { outcome: doc.last.outcome, at: new Date(doc.last.at).toISOString() } : null }
        }),
      }
    },

    async send(input, { openid }) {
      await requireAdmin(openid)
      return send(input.openid, input.template, input.data, input.reason)
    },

    async stats(_input, { openid }) {
      await requireAdmin(openid)
      return { templates: await stats() }
    },

    async remind(input, { openid, source }) {
      const fromTimer = source?.split(',').includes('wx_trigger') ?? false
      if (!fromTimer) await requireAdmin(openid)
      return remind(input.day ?? shanghaiDay(new Date()), budgetMs(input.budgetMs), input.batch ?? 200)
    },
  },
  { timers: { 'daily-reminder': 'remind' } },
)
