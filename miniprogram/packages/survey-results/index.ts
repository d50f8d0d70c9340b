/**
 * Survey results for admins (from 我的 → 调研结果): per survey, the NPS (or the choices' counts)
 * of the last 30 days with the answer distribution, and per day; by channel or by the variant of
 * an experiment. Reads `survey.stats`, which groups the answers in the database; who is an admin
 * is the function's decision.
 */
import type { SurveyOutputs } from '../../../cloudfunctions/survey/api'
import { CloudError, call, describeError } from '../../core/cloud'
import { trackedPage } from '../../core/tracked-page'
import { type DayRow, RANGE_DAYS, resultsView, type TotalView } from './view'

const day = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10) // Asia/Shanghai

Component({
  behaviors: [trackedPage],

  data: {
    status: 'loading' as 'loading' | 'ready' | 'empty' | 'error' | 'forbidden',
    errorText: '',
    question: '',
    isNps: true,
    surveys: [] as { id: string; question: string }[],
    surveyId: '',
    /** '' (all), 'channel', or an experiment key. */
    segment: '',
    segments: [{ id: '', label: '全部' }] as { id: string; label: string }[],
    /** The range shown: the last RANGE_DAYS days, Asia/Shanghai. */
    from: '',
    to: '',
    totals: [] as TotalView[],
    days: [] as DayRow[],
  },

  methods: {
    onLoad() {
      this.load()
    },

    onPullDownRefresh() {
      this.load().finally(() => wx.stopPullDownRefresh())
    },

    async load() {
      const { surveyId, segment } = this.data
      const now = Date.now()
      const range = { from: day(now - (RANGE_DAYS - 1) * 86_400_000), to: day(now) }
      this.setData(range)
      try {
        const r: SurveyOutputs['stats'] = await call(
          'survey',
          'stats',
          {
            ...(surveyId ? { surveyId } : {}),
            ...range,
            ...(segment === 'channel' ? { segment: 'channel' as const } : segment ? { segment: { experiment: segment } } : {}),
          },
          { retries: 2 },
        )
        const view = resultsView(r, segment !== '')
        this.setData({
          status: r.survey ? (view.totals.some((t) => t.bars.some((b) => b.count > 0)) ? 'ready' : 'empty') : 'empty',
          question: r.survey?.question ?? '',
          isNps: r.survey?.kind !== 'choice',
          surveys: r.surveys,
          surveyId: r.survey?.id ?? '',
          segments: [{ id: '', label: '全部' }, { id: 'channel', label: '按渠道' }, ...r.experiments.map((k) => ({ id: k, label: `按 ${k}` }))],
          ...view,
        })
      } catch (err) {
        if (err instanceof CloudError && err.code === 'FORBIDDEN') this.setData({ status: 'forbidden' })
        else this.setData({ status: 'error', errorText: describeError(err) })
      }
    },

    pickSurvey(e: WechatMiniprogram.TouchEvent) {
      this.setData({ surveyId: String(e.currentTarget.dataset.id), status: 'loading' })
      this.load()
    },

    pickSegment(e: WechatMiniprogram.TouchEvent) {
      this.setData({ segment: String(e.currentTarget.dataset.id), status: 'loading' })
      this.load()
    },
  },
})
