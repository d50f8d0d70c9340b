/**
 * The check-in calendar's month, as pure functions: the weeks of a `YYYY-MM` month (Sunday first,
 * as WeChat and TDesign's calendar show them) and what each day is for this user. Days are
 * Asia/Shanghai calendar days `YYYY-MM-DD`, as the `incentives` function reports them.
 */

export type DayState =
  /** Checked in that day. */
  | 'checked'
  /** Made up later, for points. */
  | 'makeup'
  /** Past, not checked in (`makeable` says whether it can still be made up). */
  | 'missed'
  /** Today, not checked in yet. */
  | 'today'
  /** Not yet, or before the user joined: nothing to show. */
  | 'idle'

export interface Cell {
  key: string
  /** '' for the blanks before the 1st and after the last day. */
  day: string
  date: number
  state: DayState
  isToday: boolean
  makeable: boolean
}

export interface MonthMarks {
  /** Today (the cloud's day). */
  today: string
  /** The first day the user could check in (the day they joined); days before it are idle. */
  since: string
  checked: readonly string[]
  madeUp: readonly string[]
  /** Missed days that can still be made up. */
  makeable: readonly string[]
}

export const WEEKDAYS = ['日', '一', '二', '三', '四', '五', '六']

/** This month in Asia/Shanghai (UTC+8 all year), whatever the device's time zone. */
export function shanghaiMonth(now = Date.now()): string {
  return new Date(now + 8 * 3600_000).toISOString().slice(0, 7)
}

/** `2026-11` + 1 → `2026-12`; + 2 → `2027-01`. */
export function addMonths(month: string, n: number): string {
  const [y, m] = month.split('-').map(Number) as [number, number]
  const index = y * 12 + (m - 1) + n
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`
}

/** "2026年11月". */
export function monthTitle(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number]
  return `${y}年${m}月`
}

function stateOf(day: string, marks: MonthMarks, sets: { checked: Set<string>; madeUp: Set<string> }): DayState {
  if (sets.madeUp.has(day)) return 'makeup'
  if (sets.checked.has(day)) return 'checked'
  if (day === marks.today) return 'today'
  if (day > marks.today || day < marks.since) return 'idle'
  return 'missed'
}

/** The month as weeks of seven cells, blanks around it. */
export function monthWeeks(month: string, marks: MonthMarks): Cell[][] {
  const [y, m] = month.split('-').map(Number) as [number, number]
  const first = new Date(Date.UTC(y, m - 1, 1)).getUTCDay()
  const length = new Date(Date.UTC(y, m, 0)).getUTCDate()
  const sets = { checked: new Set(marks.checked), madeUp: new Set(marks.madeUp) }
  const makeable = new Set(marks.makeable)
  const cells: Cell[] = []
  for (let i = 0; i < first; i++) cells.push({ key: `b${i}`, day: '', date: 0, state: 'idle', isToday: false, makeable: false })
  for (let date = 1; date <= length; date++) {
    const day = `${month}-${String(date).padStart(2, '0')}`
    const state = stateOf(day, marks, sets)
    cells.push({ key: day, day, date, state, isToday: day === marks.today, makeable: state === 'missed' && makeable.has(day) })
  }
  while (cells.length % 7) cells.push({ key: `a${cells.length}`, day: '', date: 0, state: 'idle', isToday: false, makeable: false })
  const weeks: Cell[][] = []
  for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7))
  return weeks
}

/**
 * The missed days to offer for a make-up: as many as the month still allows, the most recent
 * first (making up the latest missed day is what joins the current streak to the one before),
 * so every day marked 可补 can really be made up. Returned in calendar order.
 */
export function makeableDays(candidates: readonly string[], remaining: number): string[] {
  if (remaining <= 0) return []
  return [...candidates].sort().slice(-remaining)
}
