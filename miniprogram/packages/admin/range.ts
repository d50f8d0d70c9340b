/**
 * The dashboard's date range: calendar days in Asia/Shanghai (as the `analytics` function counts
 * them), the default (the last 14 days), quick choices, and the same limits the function enforces,
 * checked here first so a bad choice is explained at once, in Chinese, without a call.
 */
import type { MAX_RANGE_DAYS as SERVER_MAX_RANGE_DAYS } from '../../../cloudfunctions/analytics/api'

/** Typed as the function's own constant: if the function's limit changes, this stops compiling. */
export const MAX_RANGE_DAYS: typeof SERVER_MAX_RANGE_DAYS = 90
export const DEFAULT_DAYS = 14
export const PRESET_DAYS = [7, 14, 30, 90] as const

export interface DayRange {
  from: string
  to: string
}

const DAY = /^\d{4}-\d{2}-\d{2}$/

/** Today in Asia/Shanghai (UTC+8 all year), whatever the device's time zone. */
export function shanghaiToday(now = Date.now()): string {
  return new Date(now + 8 * 3600_000).toISOString().slice(0, 10)
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)
}

/** Days from `from` to `to`, both included (0 or less when `from` is after `to`). */
export function daysIn(range: DayRange): number {
  return Math.round((Date.parse(`${range.to}T00:00:00Z`) - Date.parse(`${range.from}T00:00:00Z`)) / 86_400_000) + 1
}

/** The last `days` days, today included. */
export function lastDays(days: number, today: string): DayRange {
  return { from: addDays(today, -(days - 1)), to: today }
}

/** A `YYYY-MM-DD` that exists (2026-02-30 and 2026-13-01 do not). */
function isDay(value: string): boolean {
  if (!DAY.test(value)) return false
  const date = new Date(`${value}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value
}

/** Why the function would refuse this range (in the words the page shows), or null when it is fine. */
export function rangeProblem(range: DayRange): string | null {
  if (!isDay(range.from) || !isDay(range.to)) return '日期格式不对，请重新选择'
  const days = daysIn(range)
  if (days < 1) return '开始日期不能晚于结束日期'
  if (days > MAX_RANGE_DAYS) return `一次最多查看 ${MAX_RANGE_DAYS} 天，请缩短时间范围`
  return null
}

/** The preset the range is, if any (the last N days up to today). */
export function presetOf(range: DayRange, today: string): number | null {
  return PRESET_DAYS.find((days) => range.to === today && range.from === addDays(today, -(days - 1))) ?? null
}
