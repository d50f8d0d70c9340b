/**
 * The incentives config: its schema and its defaults. Admins change rewards, tasks and levels in ONE
 * document, `app_config/incentives`, in the cloud console; every field may be left out (it takes the
 * default below), unknown keys are refused (a typo must not pass silently). A document that fails
 * this schema is not used at all: the function runs on the defaults and logs why (and the admin
 * action `validateConfig` lists the issues). See docs/incentives.md.
 *
 * Pure zod and types: the mini-program imports the types.
 */
import * as z from 'zod/v4'

const points = z.number().int().min(0).max(100_000)
const zh = (max: number) => z.string().trim().min(1).max(max)

export const TASK_KINDS = ['profile', 'onboarding', 'first_share', 'invite', 'read', 'checkin_streak'] as const
export type TaskKind = (typeof TASK_KINDS)[number]

const taskBase = {
  /** Stable id: a claim is keyed by it, so a new id makes a task claimable again (never reuse one). */
  id: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'lower-case letters, digits, - and _ (at most 32)'),
  title: zh(16),
  description: z.string().trim().max(40).default(''),
  points: points.min(1),
  /** New-user tasks are listed first. */
  newUser: z.boolean().default(false),
  enabled: z.boolean().default(true),
}

/** Done once: nickname and avatar set, onboarding finished, something shared. */
const onceTask = z.strictObject({ ...taskBase, kind: z.enum(['profile', 'onboarding', 'first_share']) })
/** Counted: rewarded invites, distinct guides read, the longest check-in streak. */
const countedTask = z.strictObject({ ...taskBase, kind: z.enum(['invite', 'read', 'checkin_streak']), target: z.number().int().min(1).max(1000) })

export const taskSchema = z.discriminatedUnion('kind', [onceTask, countedTask])
export type TaskConfig = z.output<typeof taskSchema>

export const levelSchema = z.strictObject({
  name: zh(8),
  /** Lifetime points needed to reach the level. */
  minPoints: z.number().int().min(0).max(100_000_000),
  perks: z.array(zh(24)).max(6).default([]),
})

const streakDay = z.string().regex(/^[1-9]\d{0,2}$/, 'a streak day from 1 to 999')

export const configSchema = z.strictObject({
  checkin: z
    .strictObject({
      basePoints: points.default(5),
      /** Extra points on a streak day: `{ "3": 5, "7": 30 }` = +5 on the 3rd day in a row, +30 on the 7th. */
      streakBonuses: z.record(streakDay, points).default({ '3': 5, '7': 30 }),
      /** After the longest bonus day the streak's rewards start over (day 8 earns like day 1); otherwise later days earn the base only. */
      cycle: z.boolean().default(true),
    })
    .prefault({}),
  makeup: z
    .strictObject({
      enabled: z.boolean().default(true),
      cost: points.default(20),
      /** How far back a missed day can be made up: 1 = yesterday only. */
      daysBack: z.number().int().min(1).max(31).default(7),
      maxPerMonth: z.number().int().min(0).max(31).default(3),
    })
    .prefault({}),
  tasks: z
    .array(taskSchema)
    .max(30)
    .default([
      { id: 'profile', kind: 'profile', title: '完善资料', description: '设置头像和昵称', points: 20, newUser: true, enabled: true },
      { id: 'onboarding', kind: 'onboarding', title: '完成新手引导', description: '了解小程序的主要功能', points: 10, newUser: true, enabled: true },
      { id: 'first-share', kind: 'first_share', title: '首次分享', description: '把喜欢的内容分享给好友', points: 10, newUser: true, enabled: true },
      { id: 'checkin-3', kind: 'checkin_streak', title: '连续签到 3 天', description: '养成每天来看看的习惯', points: 15, target: 3, newUser: true, enabled: true },
      { id: 'read-5', kind: 'read', title: '阅读 5 篇指南', description: '打开 5 篇不同的指南', points: 30, target: 5, newUser: false, enabled: true },
      { id: 'invite-1', kind: 'invite', title: '邀请 1 位好友', description: '好友通过你的邀请加入', points: 50, target: 1, newUser: false, enabled: true },
    ])
    .check((ctx) => {
      const seen = new Set<string>()
      ctx.value.forEach((task, i) => {
        if (seen.has(task.id)) ctx.issues.push({ code: 'custom', message: `duplicate task id "${task.id}"`, input: task.id, path: [i, 'id'] })
        seen.add(task.id)
      })
    }),
  levels: z
    .array(levelSchema)
    .min(1)
    .max(20)
    .default([
      { name: '新手', minPoints: 0, perks: ['每日签到领积分'] },
      { name: '青铜', minPoints: 100, perks: ['每日签到领积分', '专属青铜徽章'] },
      { name: '白银', minPoints: 500, perks: ['每日签到领积分', '专属白银徽章', '每月多 1 次补签'] },
      { name: '黄金', minPoints: 2000, perks: ['每日签到领积分', '专属黄金徽章', '新指南抢先看'] },
      { name: '钻石', minPoints: 5000, perks: ['每日签到领积分', '专属钻石徽章', '新指南抢先看', '专属客服'] },
    ])
    .check((ctx) => {
      const levels = ctx.value
      if (levels[0] && levels[0].minPoints !== 0) ctx.issues.push({ code: 'custom', message: 'the first level starts at 0 points', input: levels[0].minPoints, path: [0, 'minPoints'] })
      for (let i = 1; i < levels.length; i++) {
        if (levels[i]!.minPoints <= levels[i - 1]!.minPoints) {
          ctx.issues.push({ code: 'custom', message: 'levels must be listed by strictly increasing minPoints', input: levels[i]!.minPoints, path: [i, 'minPoints'] })
        }
      }
    }),
  referral: z
    .strictObject({
      inviterPoints: points.default(50),
      inviteePoints: points.default(20),
      /** Invites an inviter is rewarded for per day; later ones still welcome the invitee. */
      maxRewardedPerDay: z.number().int().min(0).max(1000).default(10),
      /** getUnlimited's check_path: refuse pages not in the published version. Turn off before the first release. */
      checkPath: z.boolean().default(true),
    })
    .prefault({}),
  reminder: z
    .strictObject({
      /** Offer tomorrow's reminder after a check-in (when `checkin_reminder` has an id in app_config/templates). */
      offer: z.boolean().default(true),
      /** Deprecated and ignored: template ids live in app_config/templates (see docs/subscriptions.md). */
      templateId: z.string().trim().max(64).optional(),
    })
    .prefault({}),
})

export type IncentivesConfig = z.output<typeof configSchema>

/** The defaults: what an empty (or missing) config document means. */
export const DEFAULT_CONFIG: IncentivesConfig = configSchema.parse({})

export interface ConfigIssue {
  path: string
  message: string
}

/**
 * Checks a stored config document (its `_id` aside). An invalid one is not used at all, rather than
 * merged field by field: half of an admin's edit is worse than none, and the issues say what to fix.
 */
export function checkConfig(doc: Record<string, unknown> | null | undefined): { valid: boolean; issues: ConfigIssue[]; effective: IncentivesConfig } {
  if (!doc) return { valid: true, issues: [], effective: DEFAULT_CONFIG }
  const { _id: _ignored, ...fields } = doc
  const parsed = configSchema.safeParse(fields)
  if (parsed.success) return { valid: true, issues: [], effective: parsed.data }
  const issues = parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
  return { valid: false, issues, effective: DEFAULT_CONFIG }
}
