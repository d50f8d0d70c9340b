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
