/**
 * `<month-grid month today since checked made-up makeable makeup-enabled bind:month bind:pick>`: a
 * month of the check-in calendar and its legend. Checked days are filled, made-up days outlined and
 * marked 补, missed days grey (those that can still be made up are orange, marked 可补 and tappable:
 * `pick` with the day), today in the brand color and marked 今天. The legend draws its marks with
 * the days' own styles. The arrows ask for the month before or after (`month`), within the user's
 * months: from joining to today.
 */
import { addMonths, type Cell, monthTitle, monthWeeks, WEEKDAYS } from './calendar'

const LABELS: Record<Cell['state'], string> = { checked: '已签到', makeup: '已补签', missed: '未签到', today: '今天', idle: '' }

function describe(cell: Cell): string {
  if (!cell.day) return ''
  const [, m, d] = cell.day.split('-').map(Number)
  const label = cell.makeable ? '未签到，可补签' : LABELS[cell.state]
  return `${m}月${d}日${label ? ` ${label}` : ''}`
}

Component({
  properties: {
    month: { type: String, value: '' },
    today: { type: String, value: '' },
    since: { type: String, value: '' },
    checked: { type: Array, value: [] as string[] },
    madeUp: { type: Array, value: [] as string[] },
    makeable: { type: Array, value: [] as string[] },
    /** Make-ups are offered (the legend then explains 可补签). */
    makeupEnabled: { type: Boolean, value: false },
  },

  data: {
    weekdays: WEEKDAYS,
    title: '',
    weeks: [] as (Cell & { label: string })[][],
    canPrev: false,
    canNext: false,
  },

  observers: {
    'month, today, since, checked, madeUp, makeable'() {
      const month = this.data.month
      const today = this.data.today
      if (!month || !today) return
      const weeks = monthWeeks(month, {
        today,
        since: this.data.since || today,
        checked: this.data.checked as string[],
        madeUp: this.data.madeUp as string[],
        makeable: this.data.makeable as string[],
      })
      this.setData({
        title: monthTitle(month),
        weeks: weeks.map((week) => week.map((cell) => ({ ...cell, label: describe(cell) }))),
        canPrev: month > (this.data.since || today).slice(0, 7),
        canNext: month < today.slice(0, 7),
      })
    },
  },

  methods: {
    prev() {
      if (this.data.canPrev) this.triggerEvent('month', { month: addMonths(this.data.month, -1) })
    },
    next() {
      if (this.data.canNext) this.triggerEvent('month', { month: addMonths(this.data.month, 1) })
    },
    pick(e: WechatMiniprogram.BaseEvent<Record<string, never>, { day: string; makeable: boolean }>) {
      const { day, makeable } = e.currentTarget.dataset
      if (day && makeable) this.triggerEvent('pick', { day })
    },
  },
})
