/**
 * Document shapes stored in each collection of the manifest. Dates are real `Date` values in the
 * database (serverDate() on writes); they cross the function boundary as ISO strings.
 */
import type { CollectionName } from './collections'

export interface UserDoc {
  _id: string
  openid: string
  appid: string
  unionid?: string
  nickname: string
  avatarUrl: string
  firstSeenAt: Date
  /** Asia/Shanghai calendar day of the first login, `YYYY-MM-DD`; the "new user" day in metrics. */
  firstSeenDay: string
  lastSeenAt: Date
  lastSeenDay: string
  updatedAt: Date
  /** Where the user first came from; set once, by `track`, from the first session it sees. */
  firstTouch?: Touch
}

/** A session's origin: WeChat scene, campaign parameters, sharer, channel code (resolved in the cloud). */
export interface Touch {
  scene?: number
  utm_source?: string
  utm_medium?: string
  utm_campaign?: string
  /** Anonymous id of the sharer, and the sharer's OPENID when the cloud knows the device. */
  sharer?: string
  inviter?: string
  /** Position in a share chain: 1 = opened a share of a user who came by themselves. */
  depth?: number
  code?: string
  channel?: string
  campaign?: string
  at: Date
  day: string
}

export interface EventDoc {
  _id: string
  name: string
  /** Device time of the event. */
  ts: Date
  /** Asia/Shanghai day of `ts`. */
  day: string
  receivedAt: Date
  openid: string
  anonymousId: string
  sessionId: string
  page: string
  props: Record<string, unknown>
}

export interface UserDayDoc {
  _id: string
  openid: string
  day: string
  at: Date
}

export interface IdentityDoc {
  _id: string
  openid: string
  firstSeenAt: Date
}

export interface ChannelCodeDoc {
  _id: string
  channel: string
  campaign: string
  /** OPENID credited for users who arrive through this code (referrals), if any. */
  inviter?: string
  page: string
  note: string
  createdBy: string
  createdAt: Date
  qrFileId: string
}

export interface MonitorWindowDoc {
  _id: string
  from: Date
  to: Date
  sessions: number
  sessionsWithError: number
  errors: number
  calls: number
  slowCalls: number
  failedCalls: number
  errorRate: number
  slowRate: number
}

export interface MonitorStateDoc {
  _id: string
  open: boolean
  openedAt?: Date
  closedAt?: Date
  value: number
  threshold: number
  alerts: number
}

/** One day's rollup, written whole (so a failed run never leaves half a day). */
export interface DailyMetricsDoc {
  _id: string
  day: string
  /** Users with at least one event that day, and page views. */
  uv: number
  pv: number
  /** Sessions with an event that day; those that ended (app_hide) and their total length. */
  sessions: number
  endedSessions: number
  sessionMs: number
  /** Users whose first day (users.firstSeenDay) is this day, in all and by first-touch channel. */
  newUsers: number
  newUsersByChannel: { channel: string; users: number }[]
  /** Active users this day by cohort: `n` days after their first day (1..30). */
  returning: { n: number; users: number }[]
  /** Active users this day among the users new 1 and 7 days before, by channel. */
  returningByChannel: { channel: string; d1: number; d7: number }[]
  pages: { page: string; pv: number; uv: number }[]
  paths: { path: string[]; sessions: number }[]
  errors: { js_error: number; promise_rejection: number; page_not_found: number; cloud_call_failed: number; sessionsWithError: number }
  errorMessages: { name: string; message: string; count: number }[]
  computedAt: Date
  /** Computed before the day was over. */
  partial: boolean
}

/** A funnel's result for the users who entered it (did its first step) on one day. */
export interface FunnelDayDoc {
  _id: string
  funnel: string
  day: string
  /** The definition the result was computed with (steps change over time). */
  definition: string
  /** Users who reached each step, the first one included. */
  users: number[]
  /** Median time from the previous step, per step (null for the first, or when nobody reached it). */
  medianMs: (number | null)[]
  computedAt: Date
  /** The conversion window had not closed yet when computed. */
  partial: boolean
}

export interface AppConfigDoc {
  _id: string
  [key: string]: unknown
}

export interface CategoryDoc {
  _id: string
  name: string
  order: number
}

/** One block of a guide's body, rendered natively (no rich-text HTML). */
export type GuideBlock =
  | { type: 'p'; text: string }
  | { type: 'h'; text: string }
  | { type: 'tip'; text: string }
  | { type: 'steps'; items: string[] }

export interface GuideDoc {
  _id: string
  title: string
  summary: string
  category: string
  tags: string[]
  readMinutes: number
  publishedAt: Date
  body: GuideBlock[]
  views: number
}

/** Maps each manifest collection to its document type; a collection without a type fails to compile. */
export interface DocTypes {
  users: UserDoc
  categories: CategoryDoc
  guides: GuideDoc
  events: EventDoc
  user_days: UserDayDoc
  identities: IdentityDoc
  channel_codes: ChannelCodeDoc
  monitor_windows: MonitorWindowDoc
  monitor_state: MonitorStateDoc
  metrics_daily: DailyMetricsDoc
  metrics_funnels: FunnelDayDoc
  app_config: AppConfigDoc
}

type MissingTypes = Exclude<CollectionName, keyof DocTypes>
type ExtraTypes = Exclude<keyof DocTypes, CollectionName>
// Compile-time check that DocTypes and the manifest list the same collections.
export const docTypesCoverManifest: [MissingTypes, ExtraTypes] extends [never, never] ? true : never = true
