/**
 * Seeded device traffic for the analytics tests (the incremental rollup, the warehouse export):
 * users arriving on each day of a range through four channels, coming back on some later days,
 * sessions with the content funnel's steps (some in the same millisecond), the onboarding guide,
 * errors and failed calls. Sent as a device sends it, through `track`.
 */
import { uuidv7 } from '../../miniprogram/core/uuid'
import type { AnalyticsOutputs } from '../../cloudfunctions/analytics/api'
import type { DeviceEvent } from './events'
import { callAction } from './local-cloud'

/** `analytics` actions as an admin, and `track` batches that must be accepted whole, against a running local cloud. */
export function analyticsCalls(url: () => string, admin: string) {
  return {
    async call<K extends keyof AnalyticsOutputs>(action: K, data: unknown): Promise<AnalyticsOutputs[K]> {
      const reply = await callAction<AnalyticsOutputs[K]>(url(), 'analytics', action, data, admin)
      if (!reply.ok) throw new Error(`${action}: ${JSON.stringify(reply.error)}`)
      return reply.data
    },
    async ingest(openid: string, events: DeviceEvent[]): Promise<void> {
      const reply = await callAction<{ rejected: unknown[] }>(url(), 'track', 'ingest', { events }, openid)
      if (!reply.ok) throw new Error(JSON.stringify(reply.error))
      if (reply.data.rejected.length > 0) throw new Error(`track rejected events: ${JSON.stringify(reply.data.rejected)}`)
    },
  }
}

const DAY = 86_400_000
const HOME = 'pages/home/index'
const DETAIL = 'packages/guide/detail/index'
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10)
const midnight = (day: string) => Date.parse(`${day}T00:00:00+08:00`)

/** The first-touch launch options of each channel; `PosterXY` must exist in `channel_codes`. */
export const TRAFFIC_CHANNELS = [{ scene: 1047, code: 'PosterXY' }, { scene: 1001, utm_source: 'moments_ad', utm_campaign: 'launch' }, { scene: 1005 }, { scene: 1007 }]

export interface SessionOptions {
  /** content_open and share in the same millisecond: only the device order says which came first. */
  tie?: boolean
  onboarding?: boolean
}

/** One session of a user on a day (08:00–21:00 Shanghai time): launch or show, home, maybe a guide, its funnel steps, maybe an error. */
export function makeSession(random: () => number, day: string, anonymousId: string, launch: Record<string, unknown> | null, options: SessionOptions = {}): DeviceEvent[] {
  const events: DeviceEvent[] = []
  const sessionId = uuidv7()
  let ts = midnight(day) + 8 * 3600_000 + Math.floor(random() * 13 * 3600_000)
  const ev = (name: string, page: string, props: Record<string, unknown> = {}, step = 1000 + Math.floor(random() * 60_000)) => {
    ts += step
    events.push({ id: uuidv7(ts), name, ts, anonymousId, sessionId, page, props })
  }
  if (launch) ev('app_launch', HOME, { path: HOME, ...launch })
  else ev('app_show', HOME, { path: HOME, scene: 1001 })
  const start = ts
  ev('page_view', HOME, { referrer: '' })
  if (options.onboarding) {
    ev('onboarding_step', HOME, { step: 'welcome', index: 0 })
    if (random() < 0.6) ev('onboarding_finish', HOME, { steps: 3 })
  }
  if (random() < 0.75) {
    ev('page_view', DETAIL, { referrer: HOME })
    if (options.tie) {
      ev('content_open', DETAIL, { guideId: 'g1', category: 'home' })
      ev('share', DETAIL, { kind: 'message', target: DETAIL }, 0)
    } else {
      if (random() < 0.6) ev('content_open', DETAIL, { guideId: 'g1', category: 'home' })
      if (random() < 0.3) ev('share', DETAIL, { kind: 'message', target: DETAIL })
    }
    if (random() < 0.5) ev('page_view', HOME, { referrer: DETAIL })
  }
  if (random() < 0.15) ev('js_error', HOME, { message: random() < 0.5 ? 'TypeError: x is undefined' : 'RangeError: bad' })
  if (random() < 0.2) ev('cloud_call_failed', HOME, { fn: 'content', action: 'list', code: 'TIMEOUT', durationMs: 3000 })
  if (random() < 0.8) ev('app_hide', HOME, { durationMs: ts - start + 5000 })
  return events
}

/** 4–6 new users a day from `from` to `to`, each back on a later day with probability 0.4; a second session some days. */
export async function makeTraffic(options: {
  random: () => number
  ingest: (openid: string, events: DeviceEvent[]) => Promise<void>
  from: string
  to: string
  prefix: string
}): Promise<void> {
  const { random, ingest, from, to, prefix } = options
  let n = 0
  for (let day = from; day <= to; day = addDays(day, 1)) {
    for (let k = 0; k < 4 + (n % 3); k++) {
      const openid = `${prefix}${n}`
      const touch = TRAFFIC_CHANNELS[n % TRAFFIC_CHANNELS.length]!
      const anonymousId = uuidv7()
      n++
      for (let d = day, first = true; d <= to; d = addDays(d, 1)) {
        if (!first && random() > 0.4) continue
        await ingest(openid, makeSession(random, d, anonymousId, first ? touch : null, { tie: random() < 0.3, onboarding: first && random() < 0.5 }))
        if (random() < 0.3) await ingest(openid, makeSession(random, d, anonymousId, null))
        first = false
      }
    }
  }
}
