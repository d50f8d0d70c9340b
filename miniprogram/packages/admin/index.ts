/**
 * The admin dashboard: today against yesterday and a week before, trends, retention cohorts as a
 * heat map, funnels, channels and errors, all from the `analytics` function's rollups, and the
 * experiments' results from the `experiments` function's (with a way to recompute them). Admins only:
 * the function refuses everyone else (FORBIDDEN), and the page then says so and how to get access.
 * Each tab loads when first shown, from storage on a repeat visit; pull down to refresh.
 */
import type { AnalyticsOutputs } from '../../../cloudfunctions/analytics/api'
import type { ExperimentResults } from '../../../cloudfunctions/experiments/api'
import type { SubscribeStatus } from '../../components/subscribe-button/index'
import { CloudError, describeError } from '../../core/cloud'
import { currentUser } from '../../core/session'
import { trackedPage } from '../../core/tracked-page'
import { experimentResults, query, recomputeExperiments } from './data'
import { type DayRange, DEFAULT_DAYS, PRESET_DAYS, addDays, daysIn, lastDays, presetOf, rangeProblem, shanghaiToday } from './range'
import { alertsText, channelRows, errorsView, experimentViews, funnelViews, leadDayText, overviewCards, retentionTable, todayText, trendCharts } from './view'

type Tab = 'overview' | 'retention' | 'funnels' | 'channels' | 'errors' | 'experiments'
type Status = 'loading' | 'ready' | 'error'

const TABS: { value: Tab; label: string }[] = [
  { value: 'overview', label: '概览' },
  { value: 'retention', label: '留存' },
  { value: 'funnels', label: '漏斗' },
  { value: 'channels', label: '渠道' },
  { value: 'errors', label: '错误' },
  { value: 'experiments', label: '实验' },
]
const isTab = (value: unknown): value is Tab => TABS.some((t) => t.value === value)

/** How far back the date pickers go. */
const PICKER_DAYS = 366

const loading = (): Record<Tab, Status> => ({ overview: 'loading', retention: 'loading', funnels: 'loading', channels: 'loading', errors: 'loading', experiments: 'loading' })

function rangeData(range: DayRange, today: string) {
  // Everything the range bar shows follows from the range and today.
  return {
    range,
    today,
    rangeDays: daysIn(range),
    preset: presetOf(range, today),
    pickerStart: addDays(today, -(PICKER_DAYS - 1)),
  }
}

const defaultRange = (today: string) => rangeData(lastDays(DEFAULT_DAYS, today), today)

Component({
  behaviors: [trackedPage],
  options: { pureDataPattern: /^_/ },

  data: {
    /** unknown until the first answer; denied after a FORBIDDEN. */
    access: 'unknown' as 'unknown' | 'granted' | 'denied',
    openid: '',
    tabs: TABS,
    tab: 'overview' as Tab,
    presets: PRESET_DAYS.map((days) => ({ days })),
    ...defaultRange(shanghaiToday()),
    rangeError: '',
    status: loading(),
    errorText: '',
    skeleton: [{ width: '40%' }, { width: '100%', height: '240rpx' }, { width: '70%' }],
    updated: '',
    leadDay: '',
    cards: [] as ReturnType<typeof overviewCards>,
    charts: null as ReturnType<typeof trendCharts> | null,
    retention: null as ReturnType<typeof retentionTable> | null,
    funnels: [] as ReturnType<typeof funnelViews>,
    channels: [] as ReturnType<typeof channelRows>,
    errors: null as ReturnType<typeof errorsView> | null,
    experiments: [] as ReturnType<typeof experimentViews>,
    recomputing: false,
    alertsText: alertsText(),
    /** The range each tab's content was loaded for (pure data: never rendered). */
    _shown: {} as Partial<Record<Tab, string>>,
  },

  methods: {
    onLoad(options: Record<string, string | undefined>) {
      const today = shanghaiToday()
      const patch: Record<string, unknown> = defaultRange(today)
      // A link may open a given tab and range (e.g. from an alert): checked like a picked range.
      if (isTab(options.tab)) patch.tab = options.tab
      if (options.from && options.to) {
        const linked = { from: options.from, to: options.to }
        const problem = rangeProblem(linked)
        if (problem) patch.rangeError = problem
        else Object.assign(patch, rangeData(linked, today))
      }
      this.setData(patch)
      this.loadTab(this.data.tab, false)
    },

    onPullDownRefresh() {
      // Access may have been granted meanwhile: ask again.
      if (this.data.access === 'denied') this.setData({ access: 'unknown', status: loading() })
      // After midnight, "the last 14 days" has moved on.
      const today = shanghaiToday()
      const preset = this.data.preset
      if (today !== this.data.today && preset !== null) this.setData({ ...rangeData(lastDays(preset, today), today), _shown: {} })
      this.loadTab(this.data.tab, true).finally(() => wx.stopPullDownRefresh())
    },

    onTabChange(e: WechatMiniprogram.CustomEvent<{ value: Tab }>) {
      const tab = e.detail.value
      if (!isTab(tab) || tab === this.data.tab) return
      this.setData({ tab })
      if (this.data._shown[tab] !== this.rangeKey()) this.loadTab(tab, false)
    },

    choosePreset(e: WechatMiniprogram.BaseEvent<Record<string, never>, { days: number }>) {
      this.applyRange(lastDays(Number(e.currentTarget.dataset.days), shanghaiToday()))
    },

    onFromChange(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.applyRange({ from: e.detail.value, to: this.data.range.to })
    },

    onToChange(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.applyRange({ from: this.data.range.from, to: e.detail.value })
    },

    /** A new range: checked first (the function would refuse it anyway), then every tab is out of date. */
    applyRange(range: DayRange) {
      const problem = rangeProblem(range)
      if (problem) {
        this.setData({ rangeError: problem })
        return
      }
      const today = shanghaiToday()
      this.setData({ ...rangeData(range, today), rangeError: '', _shown: {} })
      this.loadTab(this.data.tab, false)
    },

    rangeKey(): string {
      return `${this.data.range.from}:${this.data.range.to}`
    },

    retry() {
      this.loadTab(this.data.tab, true)
    },

    /** Loads a tab for the current range; `force` skips storage (pull-to-refresh, retry). */
    async loadTab(tab: Tab, force: boolean) {
      const range = this.data.range
      const key = this.rangeKey()
      const current = () => this.rangeKey() === key && this.data.access !== 'denied'
      // A refresh keeps the content on screen; a new range or a first visit shows the skeleton.
      const refreshing = this.data._shown[tab] === key && this.data.status[tab] === 'ready'
      if (!refreshing) this.setData({ [`status.${tab}`]: 'loading' })
      const show = (patch: Record<string, unknown>) => {
        if (current()) this.setData({ ...patch, access: 'granted', [`status.${tab}`]: 'ready', [`_shown.${tab}`]: key })
      }
      try {
        await this.fetchTab(tab, range, force, show)
      } catch (err) {
        if (!current()) return
        if (err instanceof CloudError && err.code === 'FORBIDDEN') {
          this.deny()
          return
        }
        // A funnel configuration (app_config/funnels) that does not validate: say what is wrong with it.
        const text = err instanceof CloudError && err.code === 'CONFLICT' && tab === 'funnels' ? `漏斗配置有误：${err.message}` : describeError(err)
        if (refreshing) wx.showToast({ title: text, icon: 'none' })
        else this.setData({ [`status.${tab}`]: 'error', errorText: text })
      }
    },

    /** Fetches a tab's data and hands what to render to `show` (again if a stale copy is refreshed). */
    async fetchTab(tab: Tab, range: DayRange, force: boolean, show: (patch: Record<string, unknown>) => void) {
      switch (tab) {
        case 'overview': {
          let overview: AnalyticsOutputs['overview'] | null = null
          let trend: AnalyticsOutputs['trend'] | null = null
          // The cards lead with yesterday, a whole day; today so far is a line of its own (from the trend).
          const today = this.data.today
          const yesterday = addDays(today, -1)
          const render = () => {
            if (!overview || !trend) return
            const now = trend.days.find((d) => d.day === today) ?? null
            show({ cards: overviewCards(overview), leadDay: leadDayText(yesterday), updated: todayText(now), charts: trendCharts(trend.days, today) })
          }
          const [o, t] = await Promise.all([
            query('overview', { day: yesterday }, force, (fresh) => {
              overview = fresh
              render()
            }),
            query('trend', range, force, (fresh) => {
              trend = fresh
              render()
            }),
          ])
          // A background refresh of one may have landed while the other loaded: keep the fresher.
          overview ??= o
          trend ??= t
          render()
          return
        }
        case 'retention': {
          const render = (r: AnalyticsOutputs['retention']) => show({ retention: retentionTable(r) })
          render(await query('retention', range, force, render))
          return
        }
        case 'funnels': {
          const render = (r: AnalyticsOutputs['funnels']) => show({ funnels: funnelViews(r.funnels) })
          render(await query('funnels', range, force, render))
          return
        }
        case 'channels': {
          const render = (r: AnalyticsOutputs['channels']) => show({ channels: channelRows(r) })
          render(await query('channels', range, force, render))
          return
        }
        case 'errors': {
          const render = (r: AnalyticsOutputs['errors']) => show({ errors: errorsView(r) })
          render(await query('errors', range, force, render))
          return
        }
        case 'experiments': {
          // Not by date range: each experiment's results cover its whole run.
          const render = (items: ExperimentResults[]) => show({ experiments: experimentViews(items) })
          render(await experimentResults(force, render))
          return
        }
      }
    },

    /** 重新计算: the rollup runs now instead of at the next hour, then the results are read again. */
    async recompute() {
      if (this.data.recomputing) return
      this.setData({ recomputing: true })
      try {
        const runs = await recomputeExperiments()
        const skipped = runs.filter((run) => run.error !== null).length
        await this.loadTab('experiments', true)
        // A skipped run is an invalid stored config or the time budget running out: the function's log says which.
        wx.showToast(skipped > 0 ? { title: `${skipped} 个实验未计算（配置有误或超时）`, icon: 'none' } : { title: '已重新计算', icon: 'success' })
      } catch (err) {
        if (err instanceof CloudError && err.code === 'FORBIDDEN') this.deny()
        else wx.showToast({ title: describeError(err), icon: 'none' })
      } finally {
        this.setData({ recomputing: false })
      }
    },

    /** The alert subscription's state (configured, sends left), from the subscribe button. */
    onAlerts(e: WechatMiniprogram.CustomEvent<{ shown: boolean; quota: number }>) {
      this.setData({ alertsText: alertsText(e.detail) })
    },

    onAlertsAnswer(e: WechatMiniprogram.CustomEvent<{ status: SubscribeStatus }>) {
      const text: Partial<Record<SubscribeStatus, string>> = {
        accepted: '已订阅，出现告警时通知你',
        switched_off: '你关闭了订阅消息，可在右上角 ··· > 设置中打开',
        failed: '暂时订阅不了，请稍后再试',
      }
      const title = text[e.detail.status]
      if (title) wx.showToast({ title, icon: 'none' })
    },

    /** Not an admin: say so, and show the OpenID an admin would add (from the shared login); how to add one is in the docs, not on screen. */
    deny() {
      this.setData({ access: 'denied' })
      currentUser().then(
        (user) => this.setData({ openid: user.openid }),
        () => undefined, // the explanation stands without it
      )
    },
  },
})
