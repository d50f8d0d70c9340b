/** Display formats shared by pages (zh-CN). */

/** 987 → "987", 12345 → "1.2万". */
export function formatCount(n: number): string {
  if (n < 10000) return String(n)
  const wan = Math.floor(n / 1000) / 10
  return `${wan % 1 === 0 ? wan.toFixed(0) : wan.toFixed(1)}万`
}

/** A calendar day `2026-11-24` (as the functions report days) as "2026年11月24日". */
export function formatCalendarDay(day: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  return match ? `${match[1]}年${Number(match[2])}月${Number(match[3])}日` : ''
}

/** An ISO instant as its Asia/Shanghai calendar day, "2026年11月24日" (fixed +8 h offset, no DST). */
export function formatDay(iso: string): string {
  const d = new Date(Date.parse(iso) + 8 * 3600_000)
  if (Number.isNaN(d.getTime())) return ''
  return `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月${d.getUTCDate()}日`
}

/** A share as a percentage with one decimal: 0.4253 → "42.5%"; null (nothing to divide by) → "—". */
export function formatPercent(rate: number | null): string {
  return rate === null || !Number.isFinite(rate) ? '—' : `${(rate * 100).toFixed(1)}%`
}

const round1 = (n: number) => Math.round(n * 10) / 10

/** A duration, in the largest unit that keeps it readable: 4200 → "4.2秒", 192000 → "3.2分钟", 5400000 → "1.5小时". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000
  // Compare rounded values, so 59.97 s reads "1分钟" rather than "60秒".
  if (round1(s) < 10) return `${round1(s)}秒`
  if (Math.round(s) < 60) return `${Math.round(s)}秒`
  if (round1(s / 60) < 60) return `${round1(s / 60)}分钟`
  if (round1(s / 3600) < 24) return `${round1(s / 3600)}小时`
  return `${round1(s / 86400)}天`
}
