/**
 * The dashboard's pure parts: the line chart's drawing (on a context that records every call, so
 * the geometry is asserted: where points, gridlines and labels land), the heat map's colors, the
 * view models of each tab, the date range rules and the number formats.
 */
import type { AnalyticsOutputs, DayTotals } from '../../cloudfunctions/analytics/api'
import { formatDuration, formatPercent } from '../../miniprogram/core/format'
import { type ChartData, draw, labelledDays, type Layout, niceScale } from '../../miniprogram/packages/admin/components/line-chart/draw'
import { addDays, daysIn, lastDays, MAX_RANGE_DAYS, presetOf, rangeProblem, shanghaiToday } from '../../miniprogram/packages/admin/range'
import { type Op, Recorder } from './harness/canvas'
import { change, channelLabel, channelRows, errorsView, funnelViews, heatColor, leadDayText, overviewCards, retentionTable, todayText, trendCharts } from '../../miniprogram/packages/admin/view'

const SIZE = { width: 300, height: 180, dpr: 2 }
const BLUE = '#0052d9'
const ORANGE = '#e37318'
const days = (n: number, last = '2026-11-24') => Array.from({ length: n }, (_, i) => addDays(last, i - (n - 1)))

function render(data: ChartData, size = SIZE): { ctx: Recorder; layout: Layout } {
  const ctx = new Recorder()
  const layout = draw(ctx, data, size)
  return { ctx, layout }
}

describe('line chart', () => {
  test('scales to the device pixel ratio and starts from a clear canvas', () => {
    const { ctx } = render({ days: days(3), series: [{ name: 'a', color: BLUE, values: [1, 2, 3] }] }, { width: 320, height: 200, dpr: 3 })
    expect(ctx.ops[0]).toEqual({ op: 'setTransform', args: [3, 0, 0, 3, 0, 0] })
    expect(ctx.ops[1]).toEqual({ op: 'clearRect', args: [0, 0, 320, 200] })
  })

  test('the highest value touches the top of the plot, zero the bottom, days are evenly spaced edge to edge', () => {
    const values = [0, 50, 100, 25, 75]
    const { ctx, layout } = render({ days: days(5), series: [{ name: 'UV', color: BLUE, values }] })
    const { plot } = layout
    // The plot sits inside the canvas, with room on the left for the widest value label ("100" is 18 px).
    expect(plot.left).toBeGreaterThan(18)
    expect(plot.right).toBeLessThan(300)
    expect(plot.top).toBeGreaterThan(0)
    expect(plot.bottom).toBeLessThan(180 - 11)

    const [line, ...others] = ctx.lines(BLUE)
    expect(others).toEqual([])
    expect(line).toHaveLength(5)
    const xs = line!.map(([x]) => x)
    const ys = line!.map(([, y]) => y)
    expect(xs[0]).toBe(plot.left)
    expect(xs[4]).toBe(plot.right)
    const step = (plot.right - plot.left) / 4
    xs.forEach((x, i) => expect(x).toBeCloseTo(plot.left + i * step, 9))
    expect(ys[2]).toBe(plot.top) // 100, the highest
    expect(Math.min(...ys)).toBe(plot.top)
    expect(ys[0]).toBe(plot.bottom) // 0
    expect(ys[1]).toBeCloseTo((plot.top + plot.bottom) / 2, 9) // 50
    expect(ys[3]).toBeCloseTo(plot.bottom - (plot.bottom - plot.top) / 4, 9) // 25
    // A dot on each point.
    expect(ctx.arcs(BLUE).map((a) => [a.x, a.y])).toEqual(line)
  })

  test('gridlines at round values with their labels left of the plot; each day labelled MM-DD under its point', () => {
    const { ctx, layout } = render({ days: days(5), series: [{ name: 'UV', color: BLUE, values: [0, 50, 100, 25, 75] }] })
    const { plot } = layout
    expect(layout.ticks).toEqual([0, 25, 50, 75, 100])
    for (const tick of layout.ticks) {
      const label = ctx.text(String(tick))
      expect(label.align).toBe('right')
      expect(label.x).toBeLessThan(plot.left)
      expect(label.y).toBeCloseTo(plot.bottom - ((plot.bottom - plot.top) * tick) / 100, 9)
    }
    const grid = ctx.lines('#ececec')
    expect(grid).toHaveLength(5)
    for (const segment of grid) expect(segment.map(([x]) => x)).toEqual([plot.left, plot.right])
    // The top gridline runs through the highest point.
    expect(grid.map((segment) => segment[0]![1])).toContain(plot.top)
    days(5).forEach((day, i) => {
      const label = ctx.text(day.slice(5))
      expect(label.x).toBeCloseTo(layout.xs[i]!, 9)
      expect(label.y).toBeGreaterThan(plot.bottom)
      expect(label.align).toBe('center')
    })
    expect(ctx.text('11-20')).toBeDefined()
  })

  test('a maximum that is not round: the scale rounds up and the point lands in proportion', () => {
    const { ctx, layout } = render({ days: days(3), series: [{ name: 'PV', color: BLUE, values: [10, 37, 22] }] })
    expect(layout.yMax).toBe(40)
    expect(layout.ticks).toEqual([0, 10, 20, 30, 40])
    const { plot } = layout
    const [line] = ctx.lines(BLUE)
    expect(line![1]![1]).toBeCloseTo(plot.bottom - ((plot.bottom - plot.top) * 37) / 40, 9)
    expect(line![0]![1]).toBeCloseTo(plot.bottom - (plot.bottom - plot.top) / 4, 9)
    // The highest value is written just above its point.
    const top = ctx.text('37')
    expect(top.x).toBeCloseTo(line![1]![0], 9)
    expect(top.y).toBeLessThan(line![1]![1])
    expect(top.baseline).toBe('bottom')
  })

  test('two series share one scale and get a legend in their colors', () => {
    const { ctx, layout } = render({
      days: days(4),
      series: [
        { name: '访问用户', color: BLUE, values: [10, 20, 30, 50] },
        { name: '浏览次数', color: ORANGE, values: [40, 80, 120, 200] },
      ],
    })
    expect(layout.yMax).toBe(200)
    const [uv] = ctx.lines(BLUE)
    const [pv] = ctx.lines(ORANGE)
    expect(pv![3]![1]).toBe(layout.plot.top)
    expect(uv![3]![1]).toBeCloseTo(layout.plot.bottom - (layout.plot.bottom - layout.plot.top) / 4, 9)
    // Legend above the plot, each name after a swatch of its color.
    const legendUv = ctx.text('访问用户')
    const legendPv = ctx.text('浏览次数')
    expect(legendUv.y).toBeLessThan(layout.plot.top)
    expect(legendPv.x).toBeGreaterThan(legendUv.x + 4 * 6)
    const swatches = ctx.ops.filter((o): o is Extract<Op, { op: 'fillRect' }> => o.op === 'fillRect')
    expect(swatches.map((s) => s.style)).toEqual([BLUE, ORANGE])
    expect(swatches[0]!.x).toBeLessThan(legendUv.x)
    expect(swatches[1]!.x).toBeLessThan(legendPv.x)
    expect(swatches[1]!.x).toBeGreaterThan(legendUv.x)
  })

  test('one series has no legend', () => {
    const { ctx } = render({ days: days(3), series: [{ name: '新用户', color: BLUE, values: [1, 2, 3] }] })
    expect(ctx.texts().map((t) => t.text)).not.toContain('新用户')
    expect(ctx.ops.some((o) => o.op === 'fillRect')).toBe(false)
  })

  test('large numbers read as 万', () => {
    const { ctx, layout } = render({ days: days(3), series: [{ name: 'PV', color: BLUE, values: [9000, 12000, 4000] }] })
    expect(layout.ticks).toEqual([0, 5000, 10000, 15000])
    expect(ctx.texts().filter((t) => t.align === 'right').map((t) => t.text)).toEqual(['0', '5000', '1万', '1.5万'])
    expect(ctx.text('1.2万').y).toBeLessThan(ctx.lines(BLUE)[0]![1]![1])
    // The plot leaves room for the widest label ("1.5万", 4 characters).
    expect(layout.plot.left).toBeGreaterThan(4 * 6)
  })

  test('one day: a single dot in the middle, no line', () => {
    const { ctx, layout } = render({ days: ['2026-11-24'], series: [{ name: 'UV', color: BLUE, values: [42] }] })
    const { plot } = layout
    expect(ctx.ops.filter((o) => o.op === 'lineTo' && o.style === BLUE)).toEqual([])
    const dots = ctx.arcs(BLUE)
    expect(dots).toHaveLength(1)
    expect(dots[0]!.x).toBeCloseTo((plot.left + plot.right) / 2, 9)
    expect(dots[0]!.r).toBeGreaterThan(3)
    expect(ctx.text('11-24').x).toBeCloseTo(dots[0]!.x, 9)
  })

  test('all zeros: a flat line on the axis, a unit scale, nothing NaN', () => {
    const { ctx, layout } = render({ days: days(3), series: [{ name: 'UV', color: BLUE, values: [0, 0, 0] }] })
    expect(layout.ticks).toEqual([0, 1, 2, 3, 4])
    const [line] = ctx.lines(BLUE)
    expect(line!.map(([, y]) => y)).toEqual([layout.plot.bottom, layout.plot.bottom, layout.plot.bottom])
    expect(ctx.numbers().every(Number.isFinite)).toBe(true)
    // No "highest value" label for zero (nor for a value a gridline shows).
    expect(ctx.texts().filter((t) => t.baseline === 'bottom')).toEqual([])
  })

  test('no data: the frame and 暂无数据, no line', () => {
    for (const data of [
      { days: [], series: [{ name: 'UV', color: BLUE, values: [] }] },
      { days: days(3), series: [{ name: 'UV', color: BLUE, values: [null, null, null] }] },
      { days: days(3), series: [] },
    ]) {
      const { ctx, layout } = render(data)
      expect(layout.empty).toBe(true)
      expect(ctx.text('暂无数据').x).toBeCloseTo((layout.plot.left + layout.plot.right) / 2, 9)
      expect(ctx.lines(BLUE)).toEqual([])
      expect(ctx.arcs(BLUE)).toEqual([])
      expect(ctx.numbers().every(Number.isFinite)).toBe(true)
    }
  })

  test('a missing value leaves a gap in the line', () => {
    const { ctx, layout } = render({ days: days(4), series: [{ name: 'D1', color: BLUE, values: [5, null, 7, 8] }] })
    const lines = ctx.lines(BLUE)
    expect(lines.map((l) => l.length)).toEqual([1, 2])
    expect(lines[1]![0]![0]).toBeCloseTo(layout.xs[2]!, 9)
  })

  test('90 days: at most 6 day labels, the latest always; no dots', () => {
    const { ctx, layout } = render({ days: days(90), series: [{ name: 'UV', color: BLUE, values: days(90).map((_, i) => i) }] })
    const dayLabels = ctx.texts().filter((t) => /^\d{2}-\d{2}$/.test(t.text))
    expect(dayLabels.length).toBeLessThanOrEqual(6)
    expect(dayLabels.at(-1)).toMatchObject({ text: '11-24', x: layout.plot.right })
    expect(ctx.arcs(BLUE)).toEqual([])
    expect(ctx.lines(BLUE)[0]).toHaveLength(90)
  })

  test('percentages: a scale of shares, labelled in %', () => {
    const { ctx, layout } = render({ days: days(3), format: 'percent', series: [{ name: 'D1', color: BLUE, values: [0.1, 0.425, 0.3] }] })
    expect(layout.yMax).toBe(0.6)
    expect(ctx.texts().filter((t) => t.align === 'right').map((t) => t.text)).toEqual(['0%', '20%', '40%', '60%'])
    expect(ctx.text('42.5%')).toBeDefined()
  })

  test('niceScale and labelledDays', () => {
    expect(niceScale(100, true)).toEqual({ max: 100, step: 25 })
    expect(niceScale(9, true)).toEqual({ max: 9, step: 3 })
    expect(niceScale(1, true)).toEqual({ max: 1, step: 1 })
    expect(niceScale(0, true)).toEqual({ max: 4, step: 1 })
    expect(niceScale(0.6, false)).toEqual({ max: 0.6, step: 0.2 })
    expect(niceScale(123456, true)).toEqual({ max: 150000, step: 50000 })
    expect(labelledDays(5)).toEqual([0, 1, 2, 3, 4])
    expect(labelledDays(7)).toEqual([0, 2, 4, 6])
    expect(labelledDays(14)).toEqual([1, 4, 7, 10, 13])
    expect(labelledDays(0)).toEqual([])
  })
})

describe('heat map colors', () => {
  test('from pale at 0 to the brand color at the table maximum, white text on the dark half', () => {
    expect(heatColor(0, 0.5)).toEqual({ background: 'rgb(240, 244, 255)', color: 'rgba(0, 0, 0, 0.9)' })
    expect(heatColor(0.5, 0.5)).toEqual({ background: 'rgb(0, 82, 217)', color: '#ffffff' })
    expect(heatColor(0.25, 0.5).background).toBe('rgb(120, 163, 236)')
    expect(heatColor(0.9, 0.5)).toEqual(heatColor(0.5, 0.5))
    expect(heatColor(0.1, 0).background).toBe('rgb(240, 244, 255)')
    expect(heatColor(null, 0.5).background).toBe('transparent')
  })

  test('a higher rate is never lighter', () => {
    const brightness = (rate: number) => heatColor(rate, 0.4).background.match(/\d+/g)!.map(Number).reduce((a, b) => a + b, 0)
    for (let i = 1; i <= 40; i++) expect(brightness(i / 100)).toBeLessThanOrEqual(brightness((i - 1) / 100))
  })
})

function totals(day: string, over: Partial<DayTotals> = {}): DayTotals {
  return { day, uv: 0, pv: 0, newUsers: 0, sessions: 0, avgSessionMs: 0, d1Retention: null, errors: 0, computedAt: null, ...over }
}

describe('tab views', () => {
  test('overview cards: today, yesterday, a week before, and the change against each', () => {
    const cards = overviewCards({
      today: totals('2026-11-24', { uv: 12400, pv: 40000, newUsers: 30, d1Retention: 0.42, computedAt: '2026-11-24T06:05:00.000Z' }),
      yesterday: totals('2026-11-23', { uv: 10000, pv: 40000, newUsers: 40, d1Retention: 0.4 }),
      weekAgo: totals('2026-11-17', { uv: 0, pv: 50000, newUsers: 0, d1Retention: null }),
    })
    expect(cards.map((c) => [c.title, c.value, c.yesterday, c.weekAgo, c.vsYesterday?.text ?? null, c.vsWeekAgo?.text ?? null])).toEqual([
      ['访问用户', '1.2万', '1万', '0', '↑24.0%', null],
      ['浏览次数', '4万', '4万', '5万', '持平', '↓20.0%'],
      ['新用户', '30', '40', '0', '↓25.0%', null],
      ['次日留存', '42.0%', '40.0%', '—', '↑5.0%', null],
    ])
    expect(change(5, 4)).toEqual({ text: '↑25.0%', trend: 'up' })
    expect(change(3, 4)).toEqual({ text: '↓25.0%', trend: 'down' })
    // Today so far is a line of its own, in Shanghai time, never compared with whole days.
    expect(todayText(totals('2026-11-24', { uv: 32, pv: 12345, newUsers: 12, computedAt: '2026-11-24T06:05:00.000Z' }))).toBe('今日截至 14:05：访问用户 32 · 浏览次数 1.2万 · 新用户 12')
    expect(todayText(totals('2026-11-24'))).toBe('今日数据还未统计（每小时更新）')
    expect(todayText(null)).toBe('今日数据还未统计（每小时更新）')
    expect(leadDayText('2026-11-07')).toBe('昨日 11月7日')
  })

  test('trend charts: whole days only (today, under way, is left out), UV and PV together, new users, D1 retention as shares', () => {
    const today = totals('2026-11-25', { uv: 1, pv: 1, newUsers: 0, d1Retention: 0 })
    const charts = trendCharts([totals('2026-11-23', { uv: 3, pv: 9, newUsers: 1, d1Retention: null }), totals('2026-11-24', { uv: 4, pv: 7, newUsers: 2, d1Retention: 0.5 }), today], '2026-11-25')
    expect(charts.visits.days).toEqual(['2026-11-23', '2026-11-24'])
    expect(charts.visits.series.map((s) => [s.name, s.values])).toEqual([
      ['访问用户', [3, 4]],
      ['浏览次数', [9, 7]],
    ])
    expect(charts.newUsers.series[0]!.values).toEqual([1, 2])
    expect(charts.retention.series[0]!.values).toEqual([null, 0.5])
  })

  test('retention table: newest cohort first, rates as % colored against the table maximum, blanks for days to come', () => {
    const table = retentionTable({
      offsets: [1, 2, 7],
      cohorts: [
        { day: '2026-11-20', size: 4, rates: [0.5, 0.25, null] },
        { day: '2026-11-21', size: 0, rates: [null, null, null] },
        { day: '2026-11-22', size: 2, rates: [0, null, null] },
      ],
    })
    expect(table.offsets).toEqual(['次日', '2日', '7日'])
    expect(table.rows.map((r) => [r.day, r.size, r.cells.map((c) => c.text)])).toEqual([
      ['11-22', '2', ['0.0%', '', '']],
      ['11-21', '0', ['', '', '']],
      ['11-20', '4', ['50.0%', '25.0%', '']],
    ])
    expect(table.rows[2]!.cells[0]!.style).toBe('background: rgb(0, 82, 217); color: #ffffff')
    expect(table.rows[2]!.cells[1]!.style).toBe(`background: ${heatColor(0.25, 0.5).background}; color: rgba(0, 0, 0, 0.9)`)
    expect(table.rows[0]!.cells[0]!.style).toBe('background: rgb(240, 244, 255); color: rgba(0, 0, 0, 0.9)')
    expect(table.rows[0]!.cells[1]!.style).toContain('transparent')
  })

  test('funnel bars: widths in proportion to users, conversion from the step before, median time', () => {
    const [view] = funnelViews([
      {
        id: 'content',
        name: '内容转化',
        windowDays: 7,
        steps: [
          { label: '浏览首页', users: 200, conversion: 1, overall: 1, medianMs: null },
          { label: '进入详情', users: 120, conversion: 0.6, overall: 0.6, medianMs: 192_000 },
          { label: '读完指南', users: 30, conversion: 0.25, overall: 0.15, medianMs: 45_000 },
          { label: '分享', users: 0, conversion: 0, overall: 0, medianMs: null },
        ],
      },
    ])
    expect(view!.steps.map((s) => [s.label, s.users, s.width, s.conversion, s.median])).toEqual([
      ['浏览首页', '200', 100, '', ''],
      ['进入详情', '120', 60, '转化 60.0%', '中位用时 3.2分钟'],
      ['读完指南', '30', 15, '转化 25.0%', '中位用时 45秒'],
      ['分享', '0', 0, '转化 0.0%', ''],
    ])
    expect(view!.note).toBe('7 天内完成 · 整体转化 0.0%')
    const [nobody] = funnelViews([{ id: 'x', name: 'x', windowDays: 3, steps: [{ label: 'a', users: 0, conversion: null, overall: null, medianMs: null }, { label: 'b', users: 0, conversion: null, overall: null, medianMs: null }] }])
    expect(nobody!.steps.map((s) => s.width)).toEqual([0, 0])
    expect(nobody!.note).toBe('3 天内完成 · 整体转化 —')
  })

  test('channels: names for the function\'s channel keys, retention as % or — until known', () => {
    expect(channelLabel('share')).toBe('好友分享')
    // One language in the table: WeChat's scene names, the usual sources in Chinese; what nobody listed stays as typed.
    expect(channelLabel('scene_1047')).toBe('扫小程序码')
    expect(channelLabel('scene_1006')).toBe('发现页小程序搜索')
    expect(channelLabel('scene_1234')).toBe('场景 1234')
    expect(channelLabel('unknown')).toBe('未知')
    expect(channelLabel('poster')).toBe('海报')
    expect(channelLabel('official_account')).toBe('公众号')
    expect(channelLabel('moments_ad')).toBe('朋友圈广告')
    expect(channelLabel('my_newsletter')).toBe('my_newsletter')
    expect(channelRows({ rows: [{ channel: 'poster', newUsers: 12000, d1: 0.3333, d7: null }] })).toEqual([{ channel: '海报', newUsers: '1.2万', d1: '33.3%', d7: '—' }])
  })

  test('errors: totals over the range, a chart of errors and affected sessions, the top messages', () => {
    const day = (d: string, e: number, affected: number, sessions: number) => ({ day: d, js_error: e, promise_rejection: 1, page_not_found: 0, cloud_call_failed: 0, sessionsWithError: affected, sessions })
    const view = errorsView({
      days: [day('2026-11-23', 2, 2, 10), day('2026-11-24', 0, 1, 30)],
      top: [{ name: 'js_error', message: 'TypeError: x is undefined', count: 2 }],
    })
    expect(view.summary).toEqual([
      { label: '错误总数', value: '4' },
      { label: '出错会话', value: '3' },
      { label: '出错会话占比', value: '7.5%' },
    ])
    expect(view.chart.series.map((s) => s.values)).toEqual([
      [3, 1],
      [2, 1],
    ])
    expect(view.top).toEqual([{ key: '0', kind: '脚本错误', message: 'TypeError: x is undefined', count: '2' }])
  })
})

describe('date range', () => {
  test('today is the Shanghai calendar day, whatever the device time zone', () => {
    expect(shanghaiToday(Date.parse('2026-11-24T15:59:59Z'))).toBe('2026-11-24')
    expect(shanghaiToday(Date.parse('2026-11-24T16:00:00Z'))).toBe('2026-11-25')
  })

  test('presets are the last N days, today included', () => {
    expect(lastDays(14, '2026-11-24')).toEqual({ from: '2026-11-11', to: '2026-11-24' })
    expect(presetOf({ from: '2026-11-11', to: '2026-11-24' }, '2026-11-24')).toBe(14)
    expect(presetOf({ from: '2026-11-11', to: '2026-11-23' }, '2026-11-24')).toBeNull()
    expect(daysIn({ from: '2026-11-11', to: '2026-11-24' })).toBe(14)
    expect(daysIn({ from: '2025-12-30', to: '2026-01-02' })).toBe(4)
    expect(daysIn({ from: '2026-11-24', to: '2026-11-24' })).toBe(1)
  })

  test('the function\'s rules, in words: order, at most 90 days, real days', () => {
    expect(MAX_RANGE_DAYS).toBe(90)
    expect(rangeProblem({ from: '2026-08-27', to: '2026-11-24' })).toBeNull() // 90 days
    expect(rangeProblem({ from: '2026-08-26', to: '2026-11-24' })).toBe('一次最多查看 90 天，请缩短时间范围')
    expect(rangeProblem({ from: '2026-11-25', to: '2026-11-24' })).toBe('开始日期不能晚于结束日期')
    expect(rangeProblem({ from: '2026-11-24', to: '2026-11-24' })).toBeNull()
    expect(rangeProblem({ from: '2026-02-30', to: '2026-03-02' })).toBe('日期格式不对，请重新选择')
    expect(rangeProblem({ from: '2026-11-01', to: '2026-13-01' })).toBe('日期格式不对，请重新选择')
    expect(rangeProblem({ from: '11-01', to: '2026-11-24' })).toBe('日期格式不对，请重新选择')
  })
})

describe('formats', () => {
  test.each([
    [0.4253, '42.5%'],
    [0, '0.0%'],
    [1, '100.0%'],
    [null, '—'],
  ])('formatPercent(%p) is %s', (rate, text) => {
    expect(formatPercent(rate)).toBe(text)
  })

  test.each([
    [400, '0.4秒'],
    [4200, '4.2秒'],
    [45_000, '45秒'],
    [59_700, '1分钟'],
    [192_000, '3.2分钟'],
    [3_597_000, '1小时'],
    [5_400_000, '1.5小时'],
    [2 * 86_400_000, '2天'],
  ])('formatDuration(%d) is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })
})

// Keep the AnalyticsOutputs import honest: the views accept the function's own answer types.
export const _typed: (o: AnalyticsOutputs['funnels']) => unknown = (o) => funnelViews(o.funnels)
