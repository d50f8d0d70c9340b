/**
 * Contract of the `incentives` function: the points ledger and what earns points (daily check-in,
 * make-up check-ins, tasks, referrals), membership levels, and the admin's config check.
 *
 * Identity comes from the call context only: no action takes an openid, and `checkin` takes no day
 * (the server's Asia/Shanghai "today" is the only day it grants). Every grant is idempotent by a
 * natural key, so a retried or doubled call answers with the first result instead of granting again.
 *
 * Refusals a page can show as they are (messages are zh-CN) come with these codes:
 *  - INVALID_INPUT: a make-up for today, a future day or a day outside the make-up window;
 *  - CONFLICT: the day is already checked in (make-up), the invite was already accepted, a busy account;
 *  - FORBIDDEN: not enough points, make-up turned off, self-invite, an invite loop, not a new user,
 *    a task not completed yet, `validateConfig` by a non-admin;
 *  - RATE_LIMITED: this month's make-ups are used up;
 *  - NOT_FOUND: an unknown task, an unknown invite code, no inviter to accept, no user yet (login first).
 */
import * as z from 'zod/v4'
import type { ApiOf, InputIssue } from '../_shared/contract'
import type { PointsReason } from '../_shared/models'
import { daySchema } from '../analytics/api'
import type { IncentivesConfig, TaskKind } from './defaults'

export type { IncentivesConfig, TaskKind } from './defaults'
export type { PointsReason } from '../_shared/models'

/** A calendar month, `YYYY-MM`. */
export const monthSchema = z.string().regex(/^(19|20)\d{2}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM')

/** A task id as configured (lower-case letters, digits, `-` and `_`). */
export const TASK_ID = /^[a-z0-9_-]{1,32}$/

/** An invite code is a short code of the channel registry (8 letters and digits). */
export const INVITE_CODE = /^[A-Za-z0-9]{8}$/

/** The page an invite opens, carrying the code as `c` (what the tracker reads as the channel code). */
export const INVITE_PAGE = 'pages/home/index'

export const LEDGER_PAGE_MAX = 50

export const incentivesActions = {
  /** Balance, lifetime points, level (with perks and the next level), streak and today's check-in. */
  summary: { input: z.strictObject({}), auth: 'user' },
  /**
   * Checks in for today (Asia/Shanghai, the server's clock). A second call the same day grants nothing.
   * With `month`, the reply also carries that month's calendar as it is after the check-in (what the
   * page shows next: one call instead of a check-in and a calendar refresh).
   */
  checkin: { input: z.strictObject({ month: monthSchema.optional() }), auth: 'user' },
  /** Makes up a missed past day within the configured window; costs points. */
  makeup: { input: z.strictObject({ day: daySchema }), auth: 'user' },
  /** The month's checked days (make-ups marked), today, the streak and what the next days would earn. */
  calendar: { input: z.strictObject({ month: monthSchema }), auth: 'user' },
  /** Every enabled task with its progress; new-user tasks first. */
  tasks: { input: z.strictObject({}), auth: 'user' },
  /** Grants a completed task's points, once. */
  claimTask: { input: z.strictObject({ taskId: z.string().regex(TASK_ID, 'a task id') }), auth: 'user' },
  /** My invite code, the share path carrying it and my mini-program code image (made once). */
  invite: { input: z.strictObject({}), auth: 'user' },
  /**
   * Called by a new user's device after its first login: rewards the inviter and the invitee once.
   * Without a code, the inviter recorded by the first-touch attribution is used, else the sharer's
   * (the anonymous id in the shared path the app was opened from, known to the cloud by `track`).
   */
  acceptInvite: {
    input: z.strictObject({
      code: z.string().regex(INVITE_CODE, 'an 8-character invite code').optional(),
      sharer: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "a device's anonymous id (UUIDv7)").optional(),
    }),
    auth: 'user',
  },
  /** My points history, newest first; pass the previous page's `nextCursor` for the next page. */
  ledger: {
    input: z.strictObject({
      cursor: z.string().regex(/^[1-9]\d{0,9}$/, 'a cursor from a previous page').optional(),
      limit: z.number().int().min(1).max(LEDGER_PAGE_MAX).default(20),
    }),
    auth: 'user',
  },
  /**
   * Admins only: checks the stored `app_config/incentives` document (or a draft, before pasting it
   * into the console) and returns its issues and the config the function actually runs on.
   */
  validateConfig: { input: z.strictObject({ draft: z.record(z.string(), z.unknown()).optional() }), auth: 'user' },
} as const

export interface Level {
  /** 0 for the first level. */
  index: number
  name: string
  /** Lifetime points needed. */
  minPoints: number
  /** Short zh-CN lines shown on Me. */
  perks: string[]
}

export interface NextLevel extends Level {
  pointsToGo: number
}

export interface MakeupRules {
  enabled: boolean
  cost: number
  /** How many days back a missed day can be made up (1 = yesterday only). */
  daysBack: number
  /** Make-ups left this calendar month. */
  remainingThisMonth: number
}

export interface Summary {
  balance: number
  /** Sum of every positive grant; spending never lowers it, so levels never go down. */
  lifetime: number
  level: Level
  next: NextLevel | null
  /** Consecutive checked days ending today, or yesterday when today is not checked yet. */
  streak: number
  checkedInToday: boolean
  /** Today, Asia/Shanghai, `YYYY-MM-DD`. */
  today: string
  /** What today's check-in granted, or would grant. */
  todayReward: number
  makeup: MakeupRules
}

export interface CheckinResult {
  day: string
  /** The streak today's check-in makes. */
  streak: number
  base: number
  bonus: number
  /** base + bonus. */
  reward: number
  /** True when today was checked in already: nothing was granted by this call. */
  alreadyCheckedIn: boolean
  balance: number
  level: Level
  /** Offer tomorrow's reminder (the `checkin_reminder` subscription is configured and the offer is on). */
  reminder: boolean
  /** The month asked for (`month`), after this check-in. */
  calendar?: Calendar
}

export interface MakeupResult {
  day: string
  cost: number
  balance: number
  /** The current streak once the day is filled. */
  streak: number
  makeup: MakeupRules
}

export interface CalendarDay {
  day: string
  /** Filled by a make-up check-in. */
  makeup: boolean
  /** Points the check-in granted (0 for a make-up). */
  reward: number
}

export interface Calendar {
  month: string
  today: string
  /** Checked days of the month, ascending. */
  days: CalendarDay[]
  streak: number
  checkedInToday: boolean
  /** Days of this month that can be made up right now (missed, inside the window), ascending. */
  makeupDays: string[]
  makeup: MakeupRules
  /** What check-ins from today (or tomorrow, once today is checked) on would earn if the streak holds: 7 days. */
  upcoming: { day: string; streak: number; reward: number }[]
}

export interface TaskView {
  id: string
  kind: TaskKind
  title: string
  description: string
  points: number
  /** Shown first, for a user's first days. */
  newUser: boolean
  progress: number
  target: number
  completed: boolean
  /** Completed and not claimed yet. */
  claimable: boolean
  claimed: boolean
}

export interface ClaimResult {
  taskId: string
  points: number
  /** True when it was claimed before: nothing was granted by this call. */
  alreadyClaimed: boolean
  balance: number
  level: Level
}

export interface InviteInfo {
  code: string
  /** Page path to share (onShareAppMessage `path`), carrying the code as `c`. */
  path: string
  /** Temporary URL of my mini-program code image ('' if it could not be made; the next call retries). */
  qrUrl: string
  /** Friends whose invite I was rewarded for, in all. */
  rewarded: number
  rewards: { inviter: number; invitee: number }
}

export interface AcceptResult {
  /** Points granted to me (the invitee). */
  reward: number
  /** Whether my inviter was rewarded (false once they reached today's limit). */
  inviterRewarded: boolean
  balance: number
}

export interface LedgerEntry {
  /** Position in my ledger (1 = first entry). */
  seq: number
  reason: PointsReason
  /** zh-CN line for the history, e.g. "每日签到（连续 3 天）". */
  title: string
  /** Signed: negative when points were spent. */
  amount: number
  balanceAfter: number
  /** Asia/Shanghai day the entry is about. */
  day: string
  /** ISO instant. */
  at: string
}

export interface ConfigCheck {
  /** What was checked: the stored document, the draft passed in, or nothing (no document: defaults). */
  source: 'stored' | 'draft' | 'none'
  valid: boolean
  issues: InputIssue[]
  /** The config in effect for what was checked: the parsed document, or the defaults when it is invalid. */
  effective: IncentivesConfig
}

export interface IncentivesOutputs {
  summary: Summary
  checkin: CheckinResult
  makeup: MakeupResult
  calendar: Calendar
  tasks: { items: TaskView[] }
  claimTask: ClaimResult
  invite: InviteInfo
  acceptInvite: AcceptResult
  ledger: { items: LedgerEntry[]; nextCursor: string | null }
  validateConfig: ConfigCheck
}

export type IncentivesApi = ApiOf<typeof incentivesActions, IncentivesOutputs>
