/** What the check-in page says about the streak and the next bonus, from the calendar's `upcoming` days. */
import type { Calendar } from '../../../../cloudfunctions/incentives/api'

/**
 * "再签 3 天，连续第 7 天可得 35 积分": the next day of `upcoming` that earns more than a plain
 * day (a streak bonus), counted in check-ins from the next one; '' when no bonus is within reach.
 */
export function nextBonusText(upcoming: Calendar['upcoming']): string {
  if (upcoming.length === 0) return ''
  const plain = Math.min(...upcoming.map((u) => u.reward))
  const at = upcoming.findIndex((u) => u.reward > plain)
  if (at < 0) return ''
  const next = upcoming[at]!
  return at === 0 ? `下次签到是连续第 ${next.streak} 天，可得 ${next.reward} 积分` : `再签 ${at + 1} 天，连续第 ${next.streak} 天可得 ${next.reward} 积分`
}

/** "11月3日" from `2026-11-03`. */
export function shortDay(day: string): string {
  const [, m, d] = day.split('-').map(Number)
  return `${m}月${d}日`
}
