/**
 * The tracking plan: every event the app may send, with its properties. One module, two uses:
 * the mini-program imports its types (tracking an unknown event, a missing property or a wrong type
 * does not compile), and the `track` function validates every incoming event against the same
 * schemas at runtime. To add an event, add it here (see docs/tracking.md).
 */
import * as z from 'zod/v4'

/** A page route such as `pages/home/index` (no leading slash, no query). */
const route = z.string().max(128).regex(/^[A-Za-z0-9_\-/]*$/, 'a page route such as pages/home/index')
const slug = z.string().regex(/^[a-z0-9-]{1,48}$/)
const ms = z.number().int().min(0).max(7 * 86_400_000)
const count = z.number().int().min(0).max(100_000)
const short = (max: number) => z.string().max(max)

/** Where a session came from: WeChat's scene, campaign parameters, who shared, which channel code. */
export const touchProps = {
  /** WeChat scene value of the launch or show (1001 discovery, 1007 chat share, 1047 mini-program code...). */
  scene: z.number().int().min(1000).max(9999).optional(),
  utm_source: short(64).optional(),
  utm_medium: short(64).optional(),
  utm_campaign: short(64).optional(),
  /** Anonymous id of the user whose share opened the app. */
  sharer: short(64).optional(),
  /** A short channel code (the `scene` of a mini-program code, or `?c=` in a link). */
  code: z.string().regex(/^[A-Za-z0-9]{4,32}$/).optional(),
  /** The subscription message opened (its message_log id, `?msg=` on the page it opens). */
  msg: z.string().regex(/^[A-Za-z0-9_:.-]{1,160}$/).optional(),
}

export const trackingPlan = {
  /** The first launch ever on this device (once per anonymous id). */
  first_launch: z.strictObject({}),
  /** Cold start: the launch options' path and where the user came from. */
  app_launch: z.strictObject({ path: route, ...touchProps }),
  /** The app comes to the foreground: a new session starts (its last touch). */
  app_show: z.strictObject({ path: route, ...touchProps }),
  /** The app goes to the background: the session ends after `durationMs`. */
  app_hide: z.strictObject({ durationMs: ms }),
  /** A page is shown; `referrer` is the page shown before it. */
  page_view: z.strictObject({ referrer: route.optional() }),
  /** A share was offered: to a chat (`message`) or to Moments (`timeline`); `target` is what was shared. */
  share: z.strictObject({ kind: z.enum(['message', 'timeline']), target: short(64).optional() }),
  /** A tap on an element marked `data-track="<element>"`. */
  element_tap: z.strictObject({ element: z.string().regex(/^[a-z0-9_.-]{1,64}$/) }),
  /** A guide was opened (the demo app's core value). */
  content_open: z.strictObject({ guideId: slug, category: slug }),
  /** An onboarding guide step was shown: its id and its position (0-based). */
  onboarding_step: z.strictObject({ step: z.string().regex(/^[a-z0-9_-]{1,32}$/), index: z.number().int().min(0).max(9) }),
  /** The guide was skipped on this step. */
  onboarding_skip: z.strictObject({ step: z.string().regex(/^[a-z0-9_-]{1,32}$/), index: z.number().int().min(0).max(9) }),
  /** Onboarding was finished (the incentives task "finish onboarding" counts it); `steps` is how many it had. */
  onboarding_finish: z.strictObject({ steps: z.number().int().min(1).max(10).optional() }),
  /** A user was first shown a variant of a running experiment (once per user and experiment; see docs/experiments.md). */
  experiment_viewed: z.strictObject({ experiment: z.string().regex(/^[a-z0-9_]{1,48}$/), variant: z.string().regex(/^[a-z0-9_]{1,32}$/) }),

  // Incentives (see docs/incentives.md)
  /** A check-in was granted: the streak it makes, and whether it made up a missed day. */
  checkin: z.strictObject({ streak: z.number().int().min(1).max(100_000), makeup: z.boolean() }),
  /** A task's reward was claimed. */
  task_claim: z.strictObject({ taskId: z.string().regex(/^[a-z0-9_-]{1,48}$/) }),
  /** The invite page was shared as a chat card (`message`), or 保存海报到相册 was tapped to share its poster (`poster`). */
  invite_share: z.strictObject({ kind: z.enum(['message', 'poster']) }),
  /** How saving the invite poster to the album ended. */
  poster_save: z.strictObject({ result: z.enum(['saved', 'denied', 'cancelled', 'failed']) }),

  // Feedback (see docs/feedback.md)
  /** The feedback form was opened; `from` is the route of the page the user came from. */
  feedback_open: z.strictObject({ from: route }),
  /** Feedback was stored: its category and how many screenshots it carried. */
  feedback_submit: z.strictObject({ category: z.enum(['suggestion', 'bug', 'content', 'other']), images: z.number().int().min(0).max(3) }),

  // Monitoring
  js_error: z.strictObject({ message: short(500), stack: short(2000).optional() }),
  promise_rejection: z.strictObject({ message: short(500) }),
  page_not_found: z.strictObject({ path: short(256), isEntryPage: z.boolean() }),
  /** A cloud function call that failed (transport or function error). */
  cloud_call_failed: z.strictObject({ fn: short(32), action: short(64), code: short(32), durationMs: ms }),
  /** Cloud calls since the previous flush: how many, how many failed, how many were slow. */
  cloud_calls: z.strictObject({ calls: count, failed: count, slow: count, totalMs: z.number().int().min(0) }),
  /** A performance entry from wx.getPerformance(). */
  perf: z.strictObject({ metric: z.enum(['appLaunch', 'firstRender', 'route', 'firstPaint']), durationMs: ms, target: short(128).optional() }),
  /** The device dropped events it could not keep: its queue was full (oldest first) or unreadable. */
  tracker_dropped: z.strictObject({ count, reason: z.enum(['queue_full', 'corrupted']) }),
} as const

export type EventName = keyof typeof trackingPlan
export type EventProps<N extends EventName> = z.input<(typeof trackingPlan)[N]>

export const ERROR_EVENTS: readonly EventName[] = ['js_error', 'promise_rejection', 'page_not_found', 'cloud_call_failed']

/** An RFC 9562 UUID, version 7 (time-ordered): every event id is one, made on the device. */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** What the device sends for each event. `openid` is never part of it: the cloud knows the caller. */
export interface TrackedEvent<N extends EventName = EventName> {
  id: string
  name: N
  /** Device clock, ms since epoch. */
  ts: number
  anonymousId: string
  sessionId: string
  /** Route of the page on screen when it happened ('' before the first page). */
  page: string
  props: EventProps<N>
}

export const envelopeSchema = z.strictObject({
  id: z.string().regex(UUID_V7, 'id must be a UUIDv7'),
  name: z.string().max(64),
  ts: z.number().int(),
  anonymousId: z.string().regex(UUID_V7, 'anonymousId must be a UUIDv7'),
  sessionId: z.string().regex(UUID_V7, 'sessionId must be a UUIDv7'),
  page: route,
  props: z.record(z.string(), z.unknown()),
})

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(trackingPlan, name)
}
