/**
 * What each tab of the dashboard shows, computed from the `analytics` function's answers: pure
 * functions, so the numbers on screen are tested without rendering.
 */
import type { AnalyticsOutputs, DayTotals, FunnelResult } from '../../../cloudfunctions/analytics/api'
import type { ExperimentResults, VerdictKind } from '../../../cloudfunctions/experiments/api'
import { formatCount, formatDuration, formatPercent } from '../../core/format'
import type { Series } from './components/line-chart/draw'

export const COLORS = { brand: '#0052d9', green: '#2ba471', orange: '#e37318', red: '#d54941' }

// ---- overview ---------------------------------------------------------------------------------

export interface Change {
  text: string
  trend: 'up' | 'down' | 'flat'
}

export interface MetricCard {
  key: 'uv' | 'pv' | 'newUsers' | 'd1Retention'
  title: string
  value: string
  yesterday: string
  weekAgo: string
  vsYesterday: Change | null
  vsWeekAgo: Change | null
}

/** Relative change from `base` to `now` (whole days both): "↑12.5%", "↓3.0%", "持平"; null when there is no base to compare with. */
export function change(now: number | null, base: number | null): Change | null {
  if (now === null || base === null || base === 0) return null
  const ratio = (now - base) / base
  const text = formatPercent(Math.abs(ratio))
  if (text === '0.0%') return { text: '持平', trend: 'flat' }
  return ratio > 0 ? { text: `↑${text}`, trend: 'up' } : { text: `↓${text}`, trend: 'down' }
}

const METRICS: { key: MetricCard['key']; title: string }[] = [
  { key: 'uv', title: '访问用户' },
  { key: 'pv', title: '浏览次数' },
  { key: 'newUsers', title: '新用户' },
  { key: 'd1Retention', title: '次日留存' },
]

/**
 * The four cards for a whole day (`o.today` is the day asked for: yesterday), against the day
 * before it and the same weekday a week earlier.
 */
export function overviewCards(o: AnalyticsOutputs['overview']): MetricCard[] {
  return METRICS.map(({ key, title }) => {
    const show = (day: DayTotals) => (key === 'd1Retention' ? formatPercent(day.d1Retention) : formatCount(day[key]))
    const raw = (day: DayTotals) => day[key]
    return {
      key,
      title,
      value: show(o.today),
      yesterday: show(o.yesterday),
      weekAgo: show(o.weekAgo),
      vsYesterday: change(raw(o.today), raw(o.yesterday)),
      vsWeekAgo: change(raw(o.today), raw(o.weekAgo)),
    }
  })
}

/** An instant's Asia/Shanghai wall clock: "14:05", or with the day "05-12 14:05". */
export function shanghaiClock(iso: string, withDay = false): string {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return '—'
  const t = new Date(ms + 8 * 3600_000).toISOString()
  return withDay ? `${t.slice(5, 10)} ${t.slice(11, 16)}` : t.slice(11, 16)
}

/**
 * Today so far, in one line: "今日截至 14:05：访问用户 32 · 浏览次数 89 · 新用户 12" from its hourly
 * rollup (Asia/Shanghai time), or that today has not been computed yet. Today is never compared
 * with whole days: the cards lead with yesterday.
 */
export function todayText(today: DayTotals | null): string {
  if (!today?.computedAt) return '今日数据还未统计（每小时更新）'
  return `今日截至 ${shanghaiClock(today.computedAt)}：访问用户 ${formatCount(today.uv)} · 浏览次数 ${formatCount(today.pv)} · 新用户 ${formatCount(today.newUsers)}`
}

/** "昨日 12月7日" from `2026-12-07`: the day the cards show. */
export function leadDayText(day: string): string {
  return `昨日 ${Number(day.slice(5, 7))}月${Number(day.slice(8, 10))}日`
}

export interface Chart {
  days: string[]
  series: Series[]
}

/**
 * The trend charts over whole days only: `today`, still under way, would dive to a fraction of a
 * day at the end of every line (and its D1 retention is not known before it ends).
 */
export function trendCharts(all: DayTotals[], today: string): { visits: Chart; newUsers: Chart; retention: Chart } {
  const days = all.filter((t) => t.day < today)
  const d = days.map((t) => t.day)
  return {
    visits: {
      days: d,
      series: [
        { name: '访问用户', color: COLORS.brand, values: days.map((t) => t.uv) },
        { name: '浏览次数', color: COLORS.orange, values: days.map((t) => t.pv) },
      ],
    },
    newUsers: { days: d, series: [{ name: '新用户', color: COLORS.green, values: days.map((t) => t.newUsers) }] },
    retention: { days: d, series: [{ name: '次日留存', color: COLORS.brand, values: days.map((t) => t.d1Retention) }] },
  }
}

// ---- retention heat map ---------------------------------------------------------------------

const LOW = [240, 244, 255] // #f0f4ff
const HIGH = [0, 82, 217] // #0052d9, the brand color

export interface HeatCell {
  /** The day offset (a stable key). */
  n: number
  text: string
  style: string
}

/**
 * A heat map cell's colors: from pale (0) to the brand color (`max`, the table's highest rate, so
 * typical retention of 10–40% still spans the scale), white text on the darker half. A day that
 * has not come yet is blank.
 */
export function heatColor(rate: number | null, max: number): { background: string; color: string } {
  if (rate === null) return { background: 'transparent', color: 'rgba(0, 0, 0, 0.26)' }
  const t = max > 0 ? Math.min(1, Math.max(0, rate / max)) : 0
  const [r, g, b] = LOW.map((low, i) => Math.round(low + (HIGH[i]! - low) * t))
  return { background: `rgb(${r}, ${g}, ${b})`, color: t > 0.5 ? '#ffffff' : 'rgba(0, 0, 0, 0.9)' }
}

export interface CohortRow {
  day: string
  size: string
  cells: HeatCell[]
}

export function retentionTable(r: AnalyticsOutputs['retention']): { offsets: string[]; rows: CohortRow[] } {
  const max = Math.max(0, ...r.cohorts.flatMap((c) => c.rates.filter((x): x is number => x !== null)))
  return {
    offsets: r.offsets.map((n) => (n === 1 ? '次日' : `${n}日`)),
    // Newest cohort first: the one being watched.
    rows: [...r.cohorts].reverse().map((c) => ({
      day: c.day.slice(5),
      size: formatCount(c.size),
      cells: c.rates.map((rate, j) => {
        const { background, color } = heatColor(c.size > 0 ? rate : null, max)
        return { n: r.offsets[j] ?? j, text: c.size > 0 && rate !== null ? formatPercent(rate) : '', style: `background: ${background}; color: ${color}` }
      }),
    })),
  }
}

// ---- funnels -------------------------------------------------------------------------------

export interface FunnelStepView {
  key: string
  label: string
  users: string
  /** Bar width, % of the widest (the first step's users). */
  width: number
  conversion: string
  overall: string
  median: string
}

export interface FunnelView {
  id: string
  name: string
  note: string
  entered: string
  steps: FunnelStepView[]
}

export function funnelViews(funnels: FunnelResult[]): FunnelView[] {
  return funnels.map((f) => {
    const widest = Math.max(0, ...f.steps.map((s) => s.users))
    const first = f.steps[0]?.users ?? 0
    const last = f.steps[f.steps.length - 1]
    return {
      id: f.id,
      name: f.name,
      note: `${f.windowDays} 天内完成 · 整体转化 ${first > 0 && last ? formatPercent(last.overall) : '—'}`,
      entered: formatCount(first),
      steps: f.steps.map((s, i) => ({
        key: String(i),
        label: s.label,
        users: formatCount(s.users),
        width: widest > 0 ? Math.round((s.users / widest) * 1000) / 10 : 0,
        conversion: i === 0 ? '' : `转化 ${formatPercent(s.conversion)}`,
        overall: formatPercent(s.overall),
        median: s.medianMs === null ? '' : `中位用时 ${formatDuration(s.medianMs)}`,
      })),
    }
  })
}

// ---- channels ------------------------------------------------------------------------------

/** WeChat scenes a new user commonly arrives from, by WeChat's own names (the rest: 场景 and the number). */
const SCENES: Record<string, string> = {
  '1001': '发现页小程序入口',
  '1005': '微信首页搜索',
  '1006': '发现页小程序搜索',
  '1007': '单聊分享卡片',
  '1008': '群聊分享卡片',
  '1011': '扫二维码',
  '1012': '长按识别二维码',
  '1014': '订阅消息',
  '1020': '公众号主页',
  '1035': '公众号菜单',
  '1036': 'App 分享卡片',
  '1037': '其他小程序',
  '1043': '公众号模板消息',
  '1045': '朋友圈广告',
  '1047': '扫小程序码',
  '1048': '长按识别小程序码',
  '1053': '搜一搜',
  '1058': '公众号文章',
  '1065': 'URL Scheme',
  '1067': '公众号文章广告',
  '1074': '公众号会话卡片',
  '1089': '聊天列表下拉',
  '1145': '发现页搜一搜',
  '1154': '朋友圈单页',
  '1167': '网页打开',
}

/**
 * Sources a link's utm_source or a channel code commonly names (lower case, as typed in links):
 * the table says them in Chinese like everything else; a source not listed shows as it was typed.
 */
const SOURCES: Record<string, string> = {
  poster: '海报',
  official_account: '公众号',
  moments_ad: '朋友圈广告',
  wechat_ad: '微信广告',
  ad: '广告',
  invite: '好友邀请',
  qrcode: '二维码',
  offline: '线下物料',
  email: '邮件',
  sms: '短信',
  weibo: '微博',
  xiaohongshu: '小红书',
  douyin: '抖音',
  bilibili: 'B站',
  zhihu: '知乎',
}

/** The function's channel key as a name: a channel code's or utm source, `share`, `scene_1047`, `unknown`. */
export function channelLabel(channel: string): string {
  if (channel === 'share') return '好友分享'
  if (channel === 'unknown') return '未知'
  const scene = /^scene_(\d+)$/.exec(channel)
  if (scene) return SCENES[scene[1]!] ?? `场景 ${scene[1]}`
  return SOURCES[channel.toLowerCase()] ?? channel
}

export function channelRows(c: AnalyticsOutputs['channels']): { channel: string; newUsers: string; d1: string; d7: string }[] {
  return c.rows.map((r) => ({ channel: channelLabel(r.channel), newUsers: formatCount(r.newUsers), d1: formatPercent(r.d1), d7: formatPercent(r.d7) }))
}

// ---- errors --------------------------------------------------------------------------------

const ERROR_NAMES: Record<string, string> = {
  js_error: '脚本错误',
  promise_rejection: '未处理的 Promise 拒绝',
  page_not_found: '页面不存在',
  cloud_call_failed: '云函数调用失败',
}

export function errorsView(e: AnalyticsOutputs['errors']) {
  const total = (d: AnalyticsOutputs['errors']['days'][number]) => d.js_error + d.promise_rejection + d.page_not_found + d.cloud_call_failed
  const errors = e.days.reduce((n, d) => n + total(d), 0)
  const sessions = e.days.reduce((n, d) => n + d.sessions, 0)
  const affected = e.days.reduce((n, d) => n + d.sessionsWithError, 0)
  return {
    summary: [
      { label: '错误总数', value: formatCount(errors) },
      { label: '出错会话', value: formatCount(affected) },
      { label: '出错会话占比', value: formatPercent(sessions > 0 ? affected / sessions : null) },
    ],
    chart: {
      days: e.days.map((d) => d.day),
      series: [
        { name: '错误数', color: COLORS.red, values: e.days.map(total) },
        { name: '出错会话', color: COLORS.orange, values: e.days.map((d) => d.sessionsWithError) },
      ],
    } as Chart,
    top: e.top.map((t, i) => ({ key: `${i}`, kind: ERROR_NAMES[t.name] ?? t.name, message: t.message, count: formatCount(t.count) })),
  }
}

// ---- experiments ---------------------------------------------------------------------------

const STATUS: Record<ExperimentResults['status'], string> = { draft: '草稿', running: '进行中', stopped: '已停止' }

/** "+12.3%" / "−3.1%", with a real minus sign as in the verdict line. */
export function signedPercent(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—'
  const text = (Math.abs(x) * 100).toFixed(1)
  return Number(text) === 0 ? '0.0%' : `${x < 0 ? '−' : '+'}${text}%`
}

/**
 * A probability as the 实验 tab shows it. Floating point gives exactly 1 (or 0) for a lopsided
 * result, and rounding gives 100% from 0.9996: neither is a certainty, so both ends are capped
 * (">99.9%", "<0.1%"). Used by the verdict line (cloudfunctions/experiments/stats.ts imports it)
 * and the tab, so they always agree.
 */
export const formatChance = (p: number | null): string =>
  p === null || !Number.isFinite(p) ? '—' : p > 0.999 ? '>99.9%' : p < 0.001 ? '<0.1%' : `${Math[p < 0.5 ? 'ceil' : 'floor'](p * 100)}%` // whole percent, toward 50%

const interval = (ci: [number, number] | null, format: (x: number) => string) => (ci ? `${format(ci[0])} ~ ${format(ci[1])}` : '')

export interface VariantRow {
  key: string
  name: string
  users: string
  conversions: string
  rate: string
  rateCi: string
}

/** One line of a variant's comparison with the control: a label, a value, and its interval or note. */
export interface ComparisonLine {
  label: string
  value: string
  sub: string
}

export interface ComparisonView {
  key: string
  title: string
  lines: ComparisonLine[]
}

const line = (label: string, value: string, sub = ''): ComparisonLine => ({ label, value, sub })
/** "+1.2" percentage points of a difference of rates. */
const points = (x: number) => signedPercent(x).replace('%', '')

const CUPED = 'CUPED 调整后'

function comparisonLines(c: ExperimentResults['comparisons'][number]): ComparisonLine[] {
  const { cuped, sequentialCi } = c
  const reduction = cuped?.varianceReduction ?? 0
  return [
    line('相对提升', signedPercent(c.uplift), interval(c.upliftCi, signedPercent)),
    cuped ? line(CUPED, signedPercent(cuped.uplift), interval(cuped.upliftCi, signedPercent) + (reduction > 0 ? `，方差减少 ${Math.round(reduction * 100)}%` : '')) : line(CUPED, '未调整'),
    line('胜过对照的概率', formatChance(c.chanceToBeat)),
    // Next to the fixed-horizon interval of the same (CUPED when applied) difference: the price of looking every day.
    line('随时有效区间', sequentialCi ? `${interval(sequentialCi, points)} 个百分点` : '—', sequentialCi ? `固定样本 ${interval((cuped || c).diffCi, points)}` : ''),
  ]
}

export interface ExperimentView {
  key: string
  name: string
  status: ExperimentResults['status']
  statusText: string
  verdict: { kind: VerdictKind; text: string }
  /** Whether stopping now is safe, by the always-valid intervals. */
  stopping: { safe: boolean; text: string }
  /** The goal and the exposure period. */
  meta: string
  /** The sample-ratio-mismatch warning, or ''. */
  srm: string
  /** Users left out of the counts, or ''. */
  excluded: string
  computed: string
  rows: VariantRow[]
  /** One per variant after the control. */
  comparisons: ComparisonView[]
}

export function experimentViews(items: ExperimentResults[]): ExperimentView[] {
  return items.map((e) => {
    const byVariant = new Map(e.comparisons.map((c) => [c.variant, c]))
    const left = [e.multipleExposures > 0 ? `${e.multipleExposures} 人看到过多个版本` : '', e.overridden > 0 ? `${e.overridden} 人在指定版本名单中` : ''].filter(Boolean)
    // What the split should have been against what it is: the numbers that point at the cause.
    const srm = e.srm?.flagged
      ? `分组比例异常（卡方检验 p = ${e.srm.pValue.toPrecision(2)}）：按配置各组应约 ${e.srm.expected.map((n) => formatCount(Math.round(n))).join(' / ')} 人，实际 ${e.variants.map((v) => formatCount(v.users)).join(' / ')} 人。请检查分组和曝光上报，修复前结果不可信。`
      : ''
    return {
      key: e.key,
      name: e.name,
      status: e.status,
      statusText: STATUS[e.status] ?? e.status,
      verdict: { kind: e.verdict.kind, text: e.verdict.text },
      stopping: e.stopping,
      meta: `目标：曝光后 ${e.goal.withinDays} 天内 ${e.goal.event} · ` + (e.from ? `统计 ${shanghaiClock(e.from, true)} 至 ${shanghaiClock(e.to, true)}` : '还没有曝光'),
      srm,
      excluded: left.length > 0 ? `另有 ${left.join('、')}，未计入` : '',
      computed: `结果计算于 ${shanghaiClock(e.computedAt, true)}（每小时更新）`,
      rows: e.variants.map((v, i) => ({
        key: v.key,
        // The control's own name may already say so.
        name: i === 0 && v.name !== '对照' ? `${v.name}（对照）` : v.name,
        users: formatCount(v.users),
        conversions: formatCount(v.conversions),
        rate: formatPercent(v.rate),
        rateCi: interval(v.rateCi, formatPercent),
      })),
      comparisons: e.variants.slice(1).flatMap((v) => {
        const c = byVariant.get(v.key)
        return c ? [{ key: v.key, title: `${v.name} 对比对照`, lines: comparisonLines(c) }] : []
      }),
    }
  })
}

/** The 告警通知 line: whether alerts can reach this admin (the subscribe button's state), and how often more. */
export function alertsText(state?: { shown: boolean; quota: number }): string {
  if (!state) return '错误率或慢调用率超过阈值时，用订阅消息通知你'
  if (!state.shown) return '还没有配置告警模板：在 app_config/templates 填写 ops_alert 的模板 ID 后即可订阅'
  if (state.quota === 0) return '错误率或慢调用率超过阈值时通知你，每订阅一次可收到一次告警'
  return `还能收到 ${state.quota} 次告警，再次订阅可增加次数`
}
