/**
 * Calendar days in Asia/Shanghai, the time zone every metric and daily limit uses. Cloud functions
 * run in UTC, so "today" must never come from local-time Date methods.
 */
const dayFormat = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
})

/** "2026-11-24 10:05" in Asia/Shanghai (no DST: a fixed +8 h), the format of a subscription message's `time` field. */
export function shanghaiTime(instant: Date): string {
  return new Date(instant.getTime() + 8 * 3600_000).toISOString().slice(0, 16).replace('T', ' ')
}

/** `YYYY-MM-DD` of the given instant in Asia/Shanghai. */
export function shanghaiDay(instant: Date): string {
  return dayFormat.format(instant)
}

/** The calendar day `n` days after `day` (`YYYY-MM-DD`; n may be negative). Shanghai has no DST: plain UTC arithmetic on the date is exact. */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)
}

/** How many days `to` is after `from` (negative when before). */
export function daysFrom(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000)
}

/** Every day from `from` to `to`, both included. */
export function dayRange(from: string, to: string): string[] {
  const days: string[] = []
  for (let day = from; day <= to; day = addDays(day, 1)) days.push(day)
  return days
}

/** The instant a Shanghai calendar day starts. */
export function dayStart(day: string): Date {
  return new Date(Date.parse(`${day}T00:00:00+08:00`))
}
