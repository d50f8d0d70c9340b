/**
 * The collection manifest: every collection the cloud functions use, its indexes and the security
 * rule for direct client access. One file, read by three consumers:
 *  - the functions (collection names are typed from it, so a typo does not compile),
 *  - the local cloud (creates the collections and enforces unique indexes; any other name is
 *    answered with DATABASE_COLLECTION_NOT_EXIST, like a cloud environment where nobody created it),
 *  - `npm run docs:collections`, which turns it into the console steps in docs/collections.md.
 *
 * Clients never touch the database directly (every read and write goes through a function), so every
 * rule denies client access. Functions use the server SDK, which security rules do not restrict.
 */

export type IndexDirection = 1 | -1

export interface IndexSpec {
  /** Index name as created in the cloud console. */
  name: string
  /** Ordered fields; dotted paths reach into nested objects. */
  keys: Readonly<Record<string, IndexDirection>>
  /** A unique index makes a duplicate insert fail atomically (E11000), the basis of idempotent writes. */
  unique?: boolean
}

/** The JSON a console admin pastes into "数据权限 → 自定义安全规则". */
export interface SecurityRule {
  read: boolean | string
  write: boolean | string
}

export interface CollectionSpec {
  description: string
  indexes: readonly IndexSpec[]
  rule: SecurityRule
}

const CLIENTS_DENIED: SecurityRule = { read: false, write: false }

export const collections = {
  users: {
    description: 'One document per user. _id is the OPENID from getWXContext, so login is idempotent.',
    indexes: [
      { name: 'firstSeenDay_1', keys: { firstSeenDay: 1 } },
      // A content-check verdict (user function, wxa_media_check push) finds its avatar by trace id.
      { name: 'avatarCheck.traceId_1', keys: { 'avatarCheck.traceId': 1 } },
    ],
    rule: CLIENTS_DENIED,
  },
  categories: {
    description: 'Guide categories shown as tabs on the home page, ordered by `order`.',
    indexes: [{ name: 'order_1', keys: { order: 1 } }],
    rule: CLIENTS_DENIED,
  },
  guides: {
    description: 'Practical guides (the demo content). _id is a readable slug.',
    indexes: [
      { name: 'publishedAt_-1__id_-1', keys: { publishedAt: -1, _id: -1 } },
      { name: 'category_1_publishedAt_-1__id_-1', keys: { category: 1, publishedAt: -1, _id: -1 } },
    ],
    rule: CLIENTS_DENIED,
  },
  events: {
    description: 'Tracked events, one document each. _id is the UUIDv7 the device made, so a retried batch is stored once.',
    indexes: [
      { name: 'day_1_name_1', keys: { day: 1, name: 1 } },
      // The warehouse export reads a day in time windows (analytics/export.ts).
      { name: 'day_1_ts_1', keys: { day: 1, ts: 1 } },
      { name: 'receivedAt_1', keys: { receivedAt: 1 } },
      { name: 'openid_1_ts_1', keys: { openid: 1, ts: 1 } },
      // Experiment results: the exposures and goal events of a time window, by OPENID range (experiments/rollup.ts).
      { name: 'name_1_openid_1_ts_1', keys: { name: 1, openid: 1, ts: 1 } },
    ],
    rule: CLIENTS_DENIED,
  },
  user_days: {
    description: 'One document per user and active day (Asia/Shanghai); _id is `<openid>:<YYYY-MM-DD>`. The base of retention; `survey.due` counts a user\'s active days.',
    indexes: [
      { name: 'day_1', keys: { day: 1 } },
      { name: 'openid_1_day_1', keys: { openid: 1, day: 1 } },
    ],
    rule: CLIENTS_DENIED,
  },
  identities: {
    description: "Which user (OPENID) each device's anonymous id belongs to; _id is the anonymous id.",
    indexes: [{ name: 'openid_1', keys: { openid: 1 } }],
    rule: CLIENTS_DENIED,
  },
  channel_codes: {
    description: 'Short channel codes (the scene of a mini-program code) mapped to channel, campaign and inviter; _id is the code.',
    indexes: [{ name: 'channel_1_createdAt_-1', keys: { channel: 1, createdAt: -1 } }],
    rule: CLIENTS_DENIED,
  },
  monitor_windows: {
    description: 'Error and slow-call rates per 5-minute window, written by the `monitor` timer; _id is the window start.',
    indexes: [{ name: 'from_-1', keys: { from: -1 } }],
    rule: CLIENTS_DENIED,
  },
  monitor_state: {
    description: 'One document per alert kind: whether an incident is open, so one incident sends one alert.',
    indexes: [],
    rule: CLIENTS_DENIED,
  },
  metrics_daily: {
    description: "Each day's rollup (traffic, pages, paths, new users and their channels, returning users by cohort, errors), written whole by the `analytics` function; _id is the day.",
    indexes: [],
    rule: CLIENTS_DENIED,
  },
  metrics_funnels: {
    description: 'Funnel results per funnel and entry day, written by the `analytics` function; _id is `<funnel id>:<YYYY-MM-DD>`.',
    indexes: [{ name: 'day_1', keys: { day: 1 } }],
    rule: CLIENTS_DENIED,
  },
  metrics_partials: {
    description:
      'The incremental rollup\'s partials: one user\'s events of one day received in one minute, compacted (analytics/fold.ts); _id is `<day>:<openid>:<slice>`. Days are closed from these, never from raw events.',
    indexes: [
      { name: 'day_1_h_1', keys: { day: 1, h: 1 } },
      { name: 'openid_1_day_1', keys: { openid: 1, day: 1 } },
      { name: 'slice_1', keys: { slice: 1 } },
    ],
    rule: CLIENTS_DENIED,
  },
  metrics_state: {
    description: 'Where the incremental rollup is: the fold cursor (`fold`) and each day being closed (`close:<day>`), so a run stopped by the time limit resumes.',
    indexes: [],
    rule: CLIENTS_DENIED,
  },
  experiments: {
    description: 'Feature flags and A/B experiments, one document each; _id is the key. Edited in the console or through `experiments.save`; schema in cloudfunctions/experiments/schema.ts, defaults in defaults.ts.',
    indexes: [],
    rule: CLIENTS_DENIED,
  },
  metrics_experiments: {
    description: "Each experiment's results (users, conversions, intervals, SRM check, verdict), written whole by the `experiments` rollup; _id is the experiment key.",
    indexes: [],
    rule: CLIENTS_DENIED,
  },
  app_config: {
    description: 'Settings an admin edits in the cloud console, one document per topic (e.g. _id "admins": { openids: [...] }).',
    indexes: [],
    rule: CLIENTS_DENIED,
  },
  points_accounts: {
    description: "Each user's points: balance, lifetime (sum of grants), check-in streak; _id is the OPENID. Written only in the same transaction as a ledger entry.",
    indexes: [],
    rule: CLIENTS_DENIED,
  },
  points_ledger: {
    description: "Every change of a user's points; _id is the grant's natural key (e.g. `checkin:<openid>:<day>`), so a grant is made once. `seq` numbers a user's entries.",
    indexes: [{ name: 'openid_1_seq_-1', keys: { openid: 1, seq: -1 }, unique: true }],
    rule: CLIENTS_DENIED,
  },
  checkins: {
    description: 'One document per user and checked day (Asia/Shanghai), make-ups included; _id is `<openid>:<YYYY-MM-DD>`.',
    indexes: [{ name: 'openid_1_day_1', keys: { openid: 1, day: 1 }, unique: true }],
    rule: CLIENTS_DENIED,
  },
  referrals: {
    description: 'Accepted invites; _id is the invitee OPENID, so a user is invited (and rewarded) once.',
    indexes: [{ name: 'inviter_1_createdAt_-1', keys: { inviter: 1, createdAt: -1 } }],
    rule: CLIENTS_DENIED,
  },
  invite_codes: {
    description: "Each user's invite code (also a `channel_codes` entry with channel 'invite') and its mini-program code image; _id is the OPENID.",
    indexes: [{ name: 'code_1', keys: { code: 1 }, unique: true }],
    rule: CLIENTS_DENIED,
  },
  subscriptions: {
    description: "A user's subscription-message quota and answers per template (one accept = one send); _id is `<openid>:<templateKey>`.",
    indexes: [{ name: 'template_1_quota_1__id_1', keys: { template: 1, quota: 1, _id: 1 } }],
    rule: CLIENTS_DENIED,
  },
  message_log: {
    description: 'Every subscription-message send attempt; _id is the reason key (e.g. `checkin_reminder:<openid>:<day>`), so a reason is sent once. `openedAt` marks the first launch from it.',
    indexes: [
      { name: 'template_1_status_1', keys: { template: 1, status: 1 } },
      { name: 'openid_1_createdAt_-1', keys: { openid: 1, createdAt: -1 } },
    ],
    rule: CLIENTS_DENIED,
  },
  feedback: {
    description: "Users' feedback (category, text, screenshots under `feedback/<openid>/` in storage, device context), its status and the admin's reply.",
    indexes: [
      { name: 'openid_1_createdAt_-1', keys: { openid: 1, createdAt: -1 } },
      { name: 'status_1_createdAt_-1', keys: { status: 1, createdAt: -1 } },
      { name: 'category_1_createdAt_-1', keys: { category: 1, createdAt: -1 } },
      { name: 'status_1_category_1_createdAt_-1', keys: { status: 1, category: 1, createdAt: -1 } },
      { name: 'createdAt_-1', keys: { createdAt: -1 } },
    ],
    rule: CLIENTS_DENIED,
  },
  survey_responses: {
    description: 'One answer or dismissal per user and survey (cloudfunctions/survey); _id is `<surveyId>:<openid>`, so a repeat is refused atomically. Carries the channel and exposed variants for segmenting.',
    indexes: [
      { name: 'openid_1_at_-1', keys: { openid: 1, at: -1 } },
      { name: 'surveyId_1_day_1', keys: { surveyId: 1, day: 1 } },
    ],
    rule: CLIENTS_DENIED,
  },
  rate_limits: {
    description: "Rolling-window limits taken by one conditional update; _id is `<what>:<openid>` (e.g. `feedback:<openid>`), `recent` the latest slots, newest first.",
    indexes: [],
    rule: CLIENTS_DENIED,
  },
} as const satisfies Record<string, CollectionSpec>

export type CollectionName = keyof typeof collections

/**
 * The cloud-storage security rule for clients (存储 → 权限设置 → 自定义安全规则): `npm run deploy` sets it
 * and the local cloud enforces it. Functions use the server SDK, which rules do not restrict, so the
 * admin inbox and other users see a file only through a temporary URL a function makes.
 *  - read: a client reads only the files it uploaded (a feedback screenshot is not readable by
 *    whoever learns its file ID);
 *  - write: a client writes only files of its own (not another user's upload, not a file a function
 *    wrote such as an invite code image), and only in the folders devices upload to,
 *    `feedback/<openid>/` and `avatars/<openid>/`. The rule language cannot compare a folder with
 *    the caller's openid; the functions accept only file IDs in the caller's own folder.
 * Written in the documented subset of the rule language (==, &&, a regular expression's test).
 */
export const storageRule: SecurityRule = {
  read: 'auth != null && resource.openid == auth.openid',
  write: 'auth != null && resource.openid == auth.openid && /^(feedback|avatars)\\/[^\\/]+\\/[^\\/]+$/.test(resource.path) == true',
}

export const collectionNames = Object.keys(collections) as CollectionName[]

export function isCollectionName(name: string): name is CollectionName {
  return Object.prototype.hasOwnProperty.call(collections, name)
}
