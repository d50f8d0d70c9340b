/**
 * `monitor`: every 5 minutes, the error rate (share of sessions with an error event) and the
 * slow-call rate (share of cloud calls the devices counted as slow) of the last complete window,
 * computed in the database by one aggregation. Over a threshold, an incident opens and admins are
 * alerted once — by the `ops_alert` subscription message (each admin who subscribed on the dashboard
 * spends one accept; see docs/subscriptions.md) and by an optional webhook — until it resolves.
 *
 * Environment (config.json envVariables or the cloud console):
 *   MONITOR_ERROR_RATE (0.05), MONITOR_MIN_SESSIONS (20), MONITOR_SLOW_RATE (0.1), MONITOR_MIN_CALLS (50),
 *   MONITOR_WEBHOOK_URL (WeCom, Feishu or any URL). The template id is `ops_alert` in app_config/templates.
 */
import { adminOpenids, isAdmin } from '../_shared/admin'
import { collection, command, isDuplicateKeyError } from '../_shared/cloud'
import { sendTemplate } from '../_shared/messages'
import type { MonitorWindowDoc } from '../_shared/models'
import { AppError, createRouter } from '../_shared/router'
import { shanghaiTime } from '../_shared/time'
import { postWebhook } from '../_shared/webhook'
import { ERROR_EVENTS } from '../track/plan'
import { type AlertKind, monitorActions, type MonitorOutputs, type Transition, WINDOW_MS, type WindowStats } from './api'

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name])
  return Number.isFinite(value) && process.env[name] !== '' && process.env[name] !== undefined ? value : fallback
}

interface Check {
  kind: AlertKind
  value: number
  threshold: number
  /** Enough data to judge (a handful of sessions proves nothing). */
  enough: boolean
  label: string
  /** The counts behind the rate, e.g. `3/40`. */
  counts: string
}

function checks(stats: WindowStats): Check[] {
  return [
    {
      kind: 'error_rate',
      value: stats.errorRate,
      threshold: envNumber('MONITOR_ERROR_RATE', 0.05),
      enough: stats.sessions >= envNumber('MONITOR_MIN_SESSIONS', 20),
      label: '错误率',
      counts: `${stats.sessionsWithError}/${stats.sessions}`,
    },
    {
      kind: 'slow_calls',
      value: stats.slowRate,
      threshold: envNumber('MONITOR_SLOW_RATE', 0.1),
      enough: stats.calls >= envNumber('MONITOR_MIN_CALLS', 50),
      label: '慢调用率',
      counts: `${stats.slowCalls}/${stats.calls}`,
    },
  ]
}

/** One aggregation over the window's events: per session, then in total. */
async function windowStats(from: Date, to: Date): Promise<WindowStats> {
  const [row] = await collection('events').aggregate<Omit<WindowStats, 'from' | 'to' | 'errorRate' | 'slowRate'>>([
    { $match: { receivedAt: command().gte(from).and(command().lt(to)) } },
    {
      $group: {
        _id: '$sessionId',
        errors: { $sum: { $cond: [{ $in: ['$name', [...ERROR_EVENTS]] }, 1, 0] } },
        calls: { $sum: '$props.calls' },
        slowCalls: { $sum: '$props.slow' },
        failedCalls: { $sum: '$props.failed' },
      },
    },
    {
      $group: {
        _id: null,
        sessions: { $sum: 1 },
        sessionsWithError: { $sum: { $cond: [{ $gt: ['$errors', 0] }, 1, 0] } },
        errors: { $sum: '$errors' },
        calls: { $sum: '$calls' },
        slowCalls: { $sum: '$slowCalls' },
        failedCalls: { $sum: '$failedCalls' },
      },
    },
  ])
  const totals = row ?? { sessions: 0, sessionsWithError: 0, errors: 0, calls: 0, slowCalls: 0, failedCalls: 0 }
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    sessions: totals.sessions,
    sessionsWithError: totals.sessionsWithError,
    errors: totals.errors,
    calls: totals.calls,
    slowCalls: totals.slowCalls,
    failedCalls: totals.failedCalls,
    errorRate: totals.sessions ? totals.sessionsWithError / totals.sessions : 0,
    slowRate: totals.calls ? totals.slowCalls / totals.calls : 0,
  }
}

/** Opens the incident if it is closed; true only for the one run that opened it (one incident, one alert). */
async function open(check: Check): Promise<boolean> {
  const _ = command()
  const now = new Date()
  const updated = await collection('monitor_state').updateWhere(
    { _id: check.kind, open: false },
    { open: true, openedAt: now, value: check.value, threshold: check.threshold, alerts: _.inc(1) },
  )
  if (updated > 0) return true
  try {
    await collection('monitor_state').add({ _id: check.kind, open: true, openedAt: now, value: check.value, threshold: check.threshold, alerts: 1 })
    return true
  } catch (err) {
    if (isDuplicateKeyError(err)) return false // open already, or another run opened it
    throw err
  }
}

async function resolve(check: Check): Promise<boolean> {
  const updated = await collection('monitor_state').updateWhere({ _id: check.kind, open: true }, { open: false, closedAt: new Date(), value: check.value })
  return updated > 0
}

const percent = (x: number) => `${(x * 100).toFixed(1)}%`

async function notify(check: Check, state: Transition['state'], stats: WindowStats): Promise<Transition> {
  const text =
    state === 'opened'
      ? `${check.label} ${percent(check.value)}，超过阈值 ${percent(check.threshold)}（${shanghaiTime(new Date(stats.from))} 起 5 分钟）`
      : `${check.label}已恢复：${percent(check.value)}（阈值 ${percent(check.threshold)}）`
  let notified = 0
  let unsubscribed = 0
  if (state === 'opened') {
    for (const admin of await adminOpenids()) {
      // One message per admin and incident (the reason is the log's key): a rerun never sends it twice.
      const outcome = await sendTemplate({
        openid: admin,
        template: 'ops_alert',
        data: { thing1: `${check.label}${percent(check.value)}超阈值`, time2: shanghaiTime(new Date(stats.to)), character_string3: check.counts },
        reason: `ops_alert:${check.kind}:${stats.from}:${admin}`,
        page: 'packages/admin/index?tab=errors',
      })
      if (outcome.status === 'sent') notified++
      else if (outcome.status === 'no_quota') unsubscribed++
      // Not configured, or WeChat refused: the log (or the webhook) tells; the incident stands.
      else console.warn(`alert to ${admin} not sent`, outcome)
    }
  }
  const url = process.env.MONITOR_WEBHOOK_URL
  let webhook: Transition['webhook'] = 'off'
  if (url) {
    try {
      const status = await postWebhook(url, text, { kind: check.kind, state, value: check.value, threshold: check.threshold, window: stats })
      webhook = status >= 200 && status < 300 ? 'sent' : 'failed'
    } catch (err) {
      console.warn('alert webhook failed', err)
      webhook = 'failed'
    }
  }
  return { kind: check.kind, state, value: check.value, threshold: check.threshold, notified, unsubscribed, webhook }
}

export const main = createRouter<typeof monitorActions, MonitorOutputs>(
  monitorActions,
  {
    async run({ at }, { openid, source }) {
      const fromTimer = source?.split(',').includes('wx_trigger') ?? false
      if (!fromTimer && !(openid && (await isAdmin(openid)))) throw new AppError('FORBIDDEN', 'Runs on its timer, or by an admin.')
      const end = at ? new Date(at) : new Date()
      const to = new Date(Math.floor(end.getTime() / WINDOW_MS) * WINDOW_MS)
      const from = new Date(to.getTime() - WINDOW_MS)
      const stats = await windowStats(from, to)
      const doc: Omit<MonitorWindowDoc, '_id'> = { ...stats, from, to }
      await collection('monitor_windows').set(stats.from, doc)

      const transitions: Transition[] = []
      for (const check of checks(stats)) {
        if (check.enough && check.value > check.threshold) {
          if (await open(check)) transitions.push(await notify(check, 'opened', stats))
        } else if (check.enough && (await resolve(check))) {
          transitions.push(await notify(check, 'resolved', stats))
        }
      }
      return { window: stats, transitions }
    },
  },
  { timers: { 'every-5-minutes': 'run' } },
)
