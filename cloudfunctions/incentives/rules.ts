/**
 * The incentive rules as small pure functions (rewards, streaks, levels, task progress, grants):
 * no database, no clock, so they read like the docs and are tested without a cloud. index.ts reads
 * the facts and writes the results.
 */
import type { PointsAccountDoc, PointsLedgerDoc, PointsReason } from '../_shared/models'
import { addDays, daysFrom } from '../_shared/time'
import type { Level, MakeupRules, NextLevel, TaskView } from './api'
import type { IncentivesConfig, TaskConfig } from './defaults'

/** The points a check-in earns on the `streak`-th day in a row. */
export function rewardFor(streak: number, rules: IncentivesConfig['checkin']): { base: number; bonus: number } {
  const days = Object.keys(rules.streakBonuses).map(Number)
  const longest = days.length > 0 ? Math.max(...days) : 0
  const day = rules.cycle && longest > 0 ? ((streak - 1) % longest) + 1 : streak
  return { base: rules.basePoints, bonus: rules.streakBonuses[String(day)] ?? 0 }
}

/** A user with no points yet (what a missing account document means). */
export function emptyAccount(openid: string, now: Date): PointsAccountDoc {
  return {
    _id: openid,
    openid,
    balance: 0,
    lifetime: 0,
    entries: 0,
    checkin: { lastDay: '', streak: 0, best: 0, lastReward: 0 },
    makeups: { month: '', count: 0 },
    invites: { rewarded: 0, day: '', today: 0 },
    updatedAt: now,
  }
}

/** Consecutive checked days ending today, or yesterday when today is not checked yet. */
export function currentStreak(account: PointsAccountDoc, today: string): number {
  const last = account.checkin.lastDay
  return last === today || last === addDays(today, -1) ? account.checkin.streak : 0
}

/** The streak a check-in today would make. */
export function streakIfCheckedIn(account: PointsAccountDoc, today: string): number {
  return account.checkin.lastDay === addDays(today, -1) ? account.checkin.streak + 1 : 1
}

export function makeupRules(account: PointsAccountDoc, today: string, config: IncentivesConfig['makeup']): MakeupRules {
  const used = account.makeups.month === today.slice(0, 7) ? account.makeups.count : 0
  return { enabled: config.enabled, cost: config.cost, daysBack: config.daysBack, remainingThisMonth: Math.max(0, config.maxPerMonth - used) }
}

/** Why a make-up of `day` is refused before anything is read, or null. */
export function makeupDayProblem(day: string, today: string, daysBack: number): string | null {
  const back = daysFrom(day, today)
  if (back === 0) return '今天还没过完，直接签到就好。'
  if (back < 0) return '不能为未来的日期补签。'
  if (back > daysBack) return `只能补签最近 ${daysBack} 天内漏掉的日子。`
  return null
}

export function levelOf(lifetime: number, levels: IncentivesConfig['levels']): { level: Level; next: NextLevel | null } {
  let index = 0
  levels.forEach((level, i) => {
    if (lifetime >= level.minPoints) index = i
  })
  const view = (i: number): Level => ({ index: i, name: levels[i]!.name, minPoints: levels[i]!.minPoints, perks: [...levels[i]!.perks] })
  const nextIndex = index + 1 < levels.length ? index + 1 : -1
  return {
    level: view(index),
    next: nextIndex < 0 ? null : { ...view(nextIndex), pointsToGo: levels[nextIndex]!.minPoints - lifetime },
  }
}

/** What task progress is computed from: one read of each source, whatever the number of tasks. */
export interface TaskFacts {
  profileComplete: boolean
  /** Events by name (onboarding_finish, share, invite_share, content_open). */
  eventCounts: Record<string, number>
  /** Distinct guides opened. */
  guidesRead: number
  rewardedInvites: number
  bestStreak: number
}

/** The events task progress reads, per kind. */
export const EVENTS_BY_KIND: Partial<Record<TaskConfig['kind'], string[]>> = {
  onboarding: ['onboarding_finish'],
  first_share: ['share', 'invite_share'],
  read: ['content_open'],
}

export function taskProgress(task: TaskConfig, facts: TaskFacts): { progress: number; target: number } {
  const target = 'target' in task ? task.target : 1
  const count = (names: string[]) => names.reduce((n, name) => n + (facts.eventCounts[name] ?? 0), 0)
  let value: number
  switch (task.kind) {
    case 'profile':
      value = facts.profileComplete ? 1 : 0
      break
    case 'onboarding':
    case 'first_share':
      value = count(EVENTS_BY_KIND[task.kind]!) > 0 ? 1 : 0
      break
    case 'read':
      value = facts.guidesRead
      break
    case 'invite':
      value = facts.rewardedInvites
      break
    case 'checkin_streak':
      value = facts.bestStreak
      break
  }
  return { progress: Math.min(value, target), target }
}

/** Tasks as listed: enabled ones, new-user tasks first, otherwise in config order. */
export function taskViews(tasks: TaskConfig[], facts: TaskFacts, claimed: ReadonlySet<string>): TaskView[] {
  const views = tasks
    .filter((task) => task.enabled)
    .map((task): TaskView => {
      const { progress, target } = taskProgress(task, facts)
      const completed = progress >= target
      const isClaimed = claimed.has(task.id)
      return {
        id: task.id,
        kind: task.kind,
        title: task.title,
        description: task.description,
        points: task.points,
        newUser: task.newUser,
        progress,
        target,
        completed,
        claimable: completed && !isClaimed,
        claimed: isClaimed,
      }
    })
  return [...views.filter((t) => t.newUser), ...views.filter((t) => !t.newUser)]
}

/** The natural key of each kind of grant: a second grant with the same key is refused by the database. */
export const grantKey = {
  checkin: (openid: string, day: string) => `checkin:${openid}:${day}`,
  makeup: (openid: string, day: string) => `makeup:${openid}:${day}`,
  task: (openid: string, taskId: string) => `task:${openid}:${taskId}`,
  referral: (inviter: string, invitee: string) => `referral:${inviter}:${invitee}`,
  welcome: (invitee: string) => `referral-welcome:${invitee}`,
}

export interface Grant {
  key: string
  reason: PointsReason
  /** Signed integer; 0 writes no entry. */
  amount: number
  ref: string
  title: string
  day: string
}

/**
 * Applies a grant to an account: the new account and its ledger entry. The balance moves by exactly
 * the entry's amount, which is how balance = sum(ledger) holds when both are written together.
 */
export function applyGrant(account: PointsAccountDoc, grant: Grant, now: Date): { account: PointsAccountDoc; entry: PointsLedgerDoc | null } {
  if (grant.amount === 0) return { account, entry: null }
  const next: PointsAccountDoc = {
    ...account,
    balance: account.balance + grant.amount,
    lifetime: account.lifetime + Math.max(0, grant.amount),
    entries: account.entries + 1,
    updatedAt: now,
  }
  const entry: PointsLedgerDoc = {
    _id: grant.key,
    openid: account.openid,
    seq: next.entries,
    reason: grant.reason,
    amount: grant.amount,
    ref: grant.ref,
    title: grant.title,
    day: grant.day,
    createdAt: now,
    balanceAfter: next.balance,
  }
  return { account: next, entry }
}

/** The next `count` check-ins' rewards if the streak holds, from the next day that can be checked. */
export function upcomingRewards(account: PointsAccountDoc, today: string, rules: IncentivesConfig['checkin'], count = 7): { day: string; streak: number; reward: number }[] {
  const checkedToday = account.checkin.lastDay === today
  const first = checkedToday ? addDays(today, 1) : today
  const firstStreak = checkedToday ? account.checkin.streak + 1 : streakIfCheckedIn(account, today)
  return Array.from({ length: count }, (_unused, i) => {
    const streak = firstStreak + i
    const { base, bonus } = rewardFor(streak, rules)
    return { day: addDays(first, i), streak, reward: base + bonus }
  })
}

/**
 * Checks the ledger's guarantees over a set of accounts and ledger entries: for every user,
 * balance = sum(amounts), lifetime = sum(positive amounts), entries numbered 1..n without gaps, and
 * each entry's balanceAfter the running sum in that order. Returns what is wrong ([] when sound).
 * Used by the tests and the benchmark after concurrent runs; cheap enough for an occasional audit.
 */
export function auditLedger(accounts: readonly PointsAccountDoc[], entries: readonly PointsLedgerDoc[]): string[] {
  const problems: string[] = []
  const byUser = new Map<string, PointsLedgerDoc[]>()
  for (const entry of entries) byUser.set(entry.openid, [...(byUser.get(entry.openid) ?? []), entry])
  const known = new Set(accounts.map((a) => a.openid))
  for (const openid of byUser.keys()) if (!known.has(openid)) problems.push(`${openid}: ledger entries without an account`)
  for (const account of accounts) {
    const mine = [...(byUser.get(account.openid) ?? [])].sort((a, b) => a.seq - b.seq)
    let running = 0
    let lifetime = 0
    mine.forEach((entry, i) => {
      running += entry.amount
      lifetime += Math.max(0, entry.amount)
      if (entry.seq !== i + 1) problems.push(`${account.openid}: entry ${entry._id} has seq ${entry.seq}, expected ${i + 1}`)
      if (entry.balanceAfter !== running) problems.push(`${account.openid}: entry ${entry._id} says balance ${entry.balanceAfter}, the running sum is ${running}`)
    })
    if (account.balance !== running) problems.push(`${account.openid}: balance ${account.balance} but the ledger sums to ${running}`)
    if (account.lifetime !== lifetime) problems.push(`${account.openid}: lifetime ${account.lifetime} but positive entries sum to ${lifetime}`)
    if (account.entries !== mine.length) problems.push(`${account.openid}: ${account.entries} entries counted, ${mine.length} in the ledger`)
  }
  return problems
}
