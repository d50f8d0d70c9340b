/**
 * Document shapes stored in each collection of the manifest. Dates are real `Date` values in the
 * database (serverDate() on writes); they cross the function boundary as ISO strings.
 */
import type { ExperimentResults } from '../experiments/api'
import type { FeedbackCategory, FeedbackContext, FeedbackStatus, NotifyOutcome } from '../feedback/api'
import type { CollectionName } from './collections'

export interface UserDoc {
  _id: string
  openid: string
  appid: string
  unionid?: string
  nickname: string
  /** A `cloud://` file in `avatars/<openid>/` (chosen on Me), an https URL, or ''. */
  avatarUrl: string
  /** The content check of an uploaded avatar (security.mediaCheckAsync); its verdict arrives later by push. */
  avatarCheck?: { traceId: string; status: 'pending' | 'pass' | 'review' | 'risky'; at: Date }
  firstSeenAt: Date
  /** Asia/Shanghai calendar day of the first login, `YYYY-MM-DD`; the "new user" day in metrics. */
  firstSeenDay: string
  lastSeenAt: Date
  lastSeenDay: string
  updatedAt: Date
  /** Where the user first came from; set once, by `track`, from the first session it sees. */
  firstTouch?: Touch
  /** How the onboarding guide ended (user.setOnboarding); set once. */
  onboarding?: { status: 'finished' | 'skipped'; step: string; at: Date }
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
  /** The subscription message the session was opened from (message_log id). */
  msg?: string
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

/**
 * One user's events of one day that arrived in one slice of time (analytics/fold.ts): what the
 * day's numbers need, compacted. `_id` is `<day>:<openid>:<slice start, 14 digits>`.
 */
export interface MetricsPartialDoc {
  _id: string
  day: string
  openid: string
  /** userHash(openid): the day is closed in ranges of it. */
  h: number
  /** Start of the receivedAt slice (ms). */
  slice: number
  events: number
  pv: number
  /** Per session: app_hide count and their durations, error events, the first three page views [ts, id, page]. */
  sessions: { id: string; hides: number; ms: number; errors: number; views: [number, string, string][] }[]
  /** Page views per page. */
  pages: [string, number][]
  /** Error events per name, and per (name, message). */
  errors: [string, number][]
  messages: [string, string, number][]
  /** Events of the configured funnels' steps: [name, page, ts, id]. */
  steps: [string, string, number, string][]
}

/** Where the incremental rollup is: the fold's cursor (`fold`), a day being closed (`close:<day>`). */
export interface MetricsStateDoc {
  _id: string
  [key: string]: unknown
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

/** Why points changed: a check-in, a make-up (spent), a task, a referral (inviter) or its welcome (invitee). */
export type PointsReason = 'checkin' | 'makeup' | 'task' | 'referral' | 'referral_welcome'

/** A user's points; written only in the transaction that writes the matching ledger entry. */
export interface PointsAccountDoc {
  _id: string
  openid: string
  /** Always the sum of the user's ledger amounts. */
  balance: number
  /** Sum of the positive amounts: never goes down, so neither does the level. */
  lifetime: number
  /** Entries in the user's ledger; the next one gets seq = entries + 1. */
  entries: number
  /** The latest checked day, the streak it ends, the longest streak ever and the latest check-in's reward. */
  checkin: { lastDay: string; streak: number; best: number; lastReward: number }
  /** Make-ups done in `month` (YYYY-MM, the month they were made in). */
  makeups: { month: string; count: number }
  /** Invites this user was rewarded for: in all, and on `day`. */
  invites: { rewarded: number; day: string; today: number }
  updatedAt: Date
}

export interface PointsLedgerDoc {
  /** The grant's natural key, e.g. `checkin:<openid>:<day>`, `task:<openid>:<taskId>`. */
  _id: string
  openid: string
  seq: number
  reason: PointsReason
  /** Signed integer. */
  amount: number
  /** What the entry is about: the day, the task id, the other user of a referral. */
  ref: string
  /** zh-CN line for the history, fixed when granted (a task may be renamed later). */
  title: string
  /** Asia/Shanghai day the entry is about. */
  day: string
  createdAt: Date
  balanceAfter: number
}

export interface CheckinDoc {
  _id: string
  openid: string
  day: string
  /** Consecutive checked days ending on this day. */
  streak: number
  /** Points granted (0 for a make-up, which costs points instead). */
  reward: number
  makeup: boolean
  createdAt: Date
}

export interface ReferralDoc {
  /** The invitee's OPENID. */
  _id: string
  inviter: string
  invitee: string
  /** The invite code used; '' when the inviter came from the first-touch attribution. */
  code: string
  day: string
  inviterRewarded: boolean
  inviterPoints: number
  inviteePoints: number
  createdAt: Date
}

export interface InviteCodeDoc {
  /** The inviter's OPENID. */
  _id: string
  code: string
  /** The mini-program code image carrying the code; '' until it is made. */
  qrFileId: string
  createdAt: Date
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

/**
 * A flag or experiment as stored. Admins may edit these in the console, so a stored document is
 * only trusted after experiments/schema.ts parses it.
 */
export interface ExperimentConfigDoc {
  _id: string
  kind?: unknown
  [field: string]: unknown
}

/** One experiment's results (see experiments/api.ts ExperimentResults), written whole by its rollup. */
export type ExperimentResultsDoc = Omit<ExperimentResults, 'key' | 'startedAt' | 'stoppedAt' | 'from' | 'to' | 'computedAt'> & {
  _id: string
  startedAt: Date | null
  stoppedAt: Date | null
  from: Date | null
  to: Date
  computedAt: Date
}

/** A user's answer to, or dismissal of, a survey (cloudfunctions/survey); _id is `<surveyId>:<openid>`. */
export interface SurveyResponseDoc {
  _id: string
  surveyId: string
  openid: string
  status: 'answered' | 'dismissed'
  /** NPS: 0–10. */
  score?: number
  /** Choice survey: the index of the answer. */
  choice?: number
  /** The follow-up's free text, content-checked. */
  text?: string
  /** Asia/Shanghai day of `at`. */
  day: string
  at: Date
  /** First-touch channel ('' when unknown), for segmenting. */
  channel: string
  /** Experiment key → the variant the user was exposed to. */
  variants: Record<string, string>
}

/** A rolling-window limit (cloudfunctions/_shared/rate-limit.ts). */
export interface RateLimitDoc {
  _id: string
  /** The slots taken within the window, newest first, at most the limit. */
  recent: { at: Date; token: string }[]
}

/** One piece of user feedback (cloudfunctions/feedback). */
export interface FeedbackDoc {
  _id: string
  openid: string
  category: FeedbackCategory
  text: string
  /** File IDs under `feedback/<openid>/` in cloud storage, checked on submit. */
  images: string[]
  contact?: string
  context: FeedbackContext
  status: FeedbackStatus
  createdAt: Date
  updatedAt: Date
  reply?: { text: string; at: Date; by: string; notify: NotifyOutcome }
  closedAt?: Date
  closedBy?: string
}

/** A user's subscription to one template (cloudfunctions/notify); _id is `<openid>:<templateKey>`. */
export interface SubscriptionDoc {
  _id: string
  openid: string
  template: string
  /** Sends left: +1 per accept, -1 per send, 0 after WeChat answered 43101. */
  quota: number
  /** How often each answer was given (accept, reject, ban, filter, switched_off). */
  counts: { accept: number; reject: number; ban: number; filter: number; switched_off: number }
  last: { outcome: 'accept' | 'reject' | 'ban' | 'filter' | 'switched_off'; at: Date }
  /** Answers recorded in the current hour (the record rate limit). */
  hourly: { hour: string; n: number }
  /** The run (e.g. the reminder's day) that last handled this subscription: a timer handles it once per run. */
  doneFor?: string
  /** The run that took this subscription's quota for its send (tells concurrent runs apart). */
  doneBy?: string
  updatedAt: Date
}

/** One subscription-message send attempt (cloudfunctions/_shared/messages.ts). */
export interface MessageLogDoc {
  /** The reason key when the sender gave one (sent once), else a random key. */
  _id: string
  openid: string
  template: string
  /** `sending` while WeChat is being called; `refused` attempts never reached WeChat. */
  status: 'sending' | 'sent' | 'failed' | 'refused'
  /** The sender's reason key, on refused attempts (whose _id is random). */
  reason?: string
  /** Why it was refused or failed (no_quota, not_configured, 43101 ...). */
  error?: string
  errCode?: number
  attempts: number
  page: string
  createdAt: Date
  sentAt?: Date
  /** The first launch from the message (scene 1014/1107 with `msg`). */
  openedAt?: Date
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
  metrics_partials: MetricsPartialDoc
  metrics_state: MetricsStateDoc
  experiments: ExperimentConfigDoc
  metrics_experiments: ExperimentResultsDoc
  app_config: AppConfigDoc
  survey_responses: SurveyResponseDoc
  points_accounts: PointsAccountDoc
  points_ledger: PointsLedgerDoc
  checkins: CheckinDoc
  referrals: ReferralDoc
  invite_codes: InviteCodeDoc
  subscriptions: SubscriptionDoc
  message_log: MessageLogDoc
  feedback: FeedbackDoc
  rate_limits: RateLimitDoc
}

type MissingTypes = Exclude<CollectionName, keyof DocTypes>
type ExtraTypes = Exclude<keyof DocTypes, CollectionName>
// Compile-time check that DocTypes and the manifest list the same collections.
export const docTypesCoverManifest: [MissingTypes, ExtraTypes] extends [never, never] ? true : never = true
