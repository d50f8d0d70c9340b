/**
 * What the survey results page shows, from the `survey.stats` answer: pure, so it is tested
 * without rendering. NPS = share of promoters (9–10) minus share of detractors (0–6), −100 to 100.
 */
import type { DayStats, SurveyOutputs } from '../../../cloudfunctions/survey/api'

export const RANGE_DAYS = 30

export interface Bar {
  label: string
  count: number
  /** Height in % of the tallest bar. */
  height: number
}

export interface TotalView {
  segment: string
  nps: string
  answers: string
  bars: Bar[]
}

export interface DayRow {
  key: string
  day: string
  segment: string
  answers: number
  nps: string
  /** 推荐 / 中立 / 贬损 counts (NPS), or each choice's count. */
  split: string
}

const segmentLabel = (s: string) => s || '未知'
const npsText = (nps: number | null) => (nps === null ? '—' : `${nps > 0 ? '+' : ''}${nps}`)

function split(d: Omit<DayStats, 'day'>, choices: string[] | undefined): string {
  if (choices) return choices.map((c, i) => `${c} ${d.distribution[i] ?? 0}`).join(' · ')
  const sum = (from: number, to: number) => d.distribution.slice(from, to).reduce((s, n) => s + n, 0)
  return `推荐 ${sum(9, 11)} · 中立 ${sum(7, 9)} · 贬损 ${sum(0, 7)}`
}

export function resultsView(r: SurveyOutputs['stats'], segmented: boolean): { totals: TotalView[]; days: DayRow[] } {
  const choices = r.survey?.kind === 'choice' ? r.survey.choices : undefined
  const labels = choices ?? Array.from({ length: 11 }, (_, i) => String(i))
  const label = (s: string) => (segmented ? segmentLabel(s) : '全部')
  return {
    totals: r.totals
      .filter((t) => t.answers > 0 || !segmented)
      .map((t) => {
        const max = Math.max(1, ...t.distribution)
        return {
          segment: label(t.segment),
          nps: choices ? '' : npsText(t.nps),
          answers: `${t.answers} 人回答，${t.dismissals} 人关闭`,
          bars: t.distribution.map((count, i) => ({ label: labels[i] ?? String(i), count, height: Math.round((count / max) * 100) })),
        }
      }),
    days: [...r.days]
      .reverse()
      .filter((d) => d.answers > 0 || d.dismissals > 0)
      .map((d) => ({ key: `${d.day}:${d.segment}`, day: d.day.slice(5), segment: label(d.segment), answers: d.answers, nps: choices ? '' : npsText(d.nps), split: split(d, choices) })),
  }
}
