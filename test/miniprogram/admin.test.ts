/**
 * The admin dashboard end to end: a real local cloud running the real `track` and `analytics`
 * functions. Traffic is sent through `track` (past days, one openid per user), the test's openid is
 * made an admin in `app_config`, the days are rolled up by `analytics.rollup`, and the page is
 * rendered with the real compiler and TDesign. What it shows is checked against counts made here
 * from the traffic itself (users, page views, new users, classic retention) and against the
 * function's own answers. Also: tabs, the date range, pull-to-refresh, no access for everyone
 * else, and the Me page's entry.
 */
import { randomBytes } from 'node:crypto'
import type { Result } from '../../cloudfunctions/_shared/contract'
import type { AnalyticsOutputs } from '../../cloudfunctions/analytics/api'
import type { EventName, EventProps } from '../../cloudfunctions/track/plan'
import { formatCount, formatPercent } from '../../miniprogram/core/format'
import { uuidv7 } from '../../miniprogram/core/uuid'
import { addDays, shanghaiToday } from '../../miniprogram/packages/admin/range'
import { heatColor } from '../../miniprogram/packages/admin/view'
import { type Canvases, recordCanvases } from './harness/canvas'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { type Mounted, mountPage } from './harness/mount'
import { adminRequest, callFunction, deadUrl } from './harness/net'
import { incentivesCloud } from './harness/incentives'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(180_000)

const PAGE = 'packages/admin/index'
const ME = 'packages/me/index'
const OPENID_KEY = 'local-cloud:openid'
/** The development openid a device in local mode has (dev- and 12 characters). */
const ADMIN = 'dev-admin0000001'
const BLUE = '#0052d9'
const OPS_TEMPLATE = 'TPL_OPS_ALERT'

// ---- traffic ---------------------------------------------------------------------------------

const T = shanghaiToday()
const day = (offset: number) => addDays(T, offset)
const HOME = 'pages/home/index'
const DETAIL = 'packages/guide/detail/index'

interface Visit {
  /** Days from today (0 = today, -1 = yesterday...). */
  on: number
  pages?: string[]
  /** Events after the page views: [name, props, page]. */
  then?: [EventName, Record<string, unknown>, string][]
}

interface SeedUser {
  openid: string
  touch: { scene: number; utm_source?: string }
  visits: Visit[]
}

const ERROR_MESSAGE = 'TypeError: boom is undefined'

/**
 * Who came when. Cohort a (9 days ago): 2 from a poster, 2 from a mini-program code; a1 and a2 back
 * the next day, a1 also on days 2 and 7. Cohort b (8 days ago): b1 back the next day. w1 arrived 7
 * days ago, y1 yesterday (back today), t1–t3 today.
 */
const USERS: SeedUser[] = [
  {
    openid: 'o-a1',
    touch: { scene: 1001, utm_source: 'poster' },
    visits: [
      {
        on: -9,
        pages: [HOME, DETAIL],
        then: [
          ['content_open', { guideId: 'sleep-better', category: 'health' }, DETAIL],
          ['share', { kind: 'message', target: `/${DETAIL}` }, DETAIL],
        ],
      },
      { on: -8 },
      { on: -7 },
      { on: -2, then: [['js_error', { message: ERROR_MESSAGE }, HOME]] },
      { on: 0 },
    ],
  },
  { openid: 'o-a2', touch: { scene: 1001, utm_source: 'poster' }, visits: [{ on: -9, pages: [HOME, DETAIL] }, { on: -8 }] },
  {
    openid: 'o-a3',
    touch: { scene: 1047 },
    visits: [{ on: -9 }, { on: -1, then: [['cloud_call_failed', { fn: 'content', action: 'list', code: 'TIMEOUT', durationMs: 8000 }, HOME]] }],
  },
  { openid: 'o-a4', touch: { scene: 1047 }, visits: [{ on: -9 }] },
  { openid: 'o-b1', touch: { scene: 1001 }, visits: [{ on: -8, pages: [HOME, HOME] }, { on: -7, then: [['js_error', { message: ERROR_MESSAGE }, HOME]] }] },
  { openid: 'o-b2', touch: { scene: 1001 }, visits: [{ on: -8 }] },
  { openid: 'o-w1', touch: { scene: 1007 }, visits: [{ on: -7, pages: [HOME, DETAIL, HOME] }] },
  { openid: 'o-y1', touch: { scene: 1001 }, visits: [{ on: -1 }, { on: 0, pages: [HOME, DETAIL] }] },
  { openid: 'o-t1', touch: { scene: 1001 }, visits: [{ on: 0 }] },
  { openid: 'o-t2', touch: { scene: 1001 }, visits: [{ on: 0 }] },
  { openid: 'o-t3', touch: { scene: 1001 }, visits: [{ on: 0 }] },
]

/** An instant on `offset` days from today, `minute` into it (today: scaled into the part already past). */
function at(offset: number, minute: number): number {
  const start = Date.parse(`${day(offset)}T00:00:00+08:00`)
  const span = offset === 0 ? Date.now() - start - 1000 : 86_400_000
  return start + Math.floor((span * minute) / 1440)
}

interface Sent {
  id: string
  name: EventName
  ts: number
  anonymousId: string
  sessionId: string
  page: string
  props: Record<string, unknown>
}

function eventsOf(user: SeedUser): Sent[] {
  const anonymousId = uuidv7(at(user.visits[0]!.on, 0))
  const events: Sent[] = []
  user.visits.forEach((visit, v) => {
    let minute = 60 + v * 5 // a different time of day for each visit keeps sessions apart
    const ts = () => at(visit.on, minute++)
    const sessionId = uuidv7(at(visit.on, minute))
    const add = <N extends EventName>(name: N, props: EventProps<N>, page: string) =>
      events.push({ id: uuidv7(ts()), name, ts: at(visit.on, minute - 1), anonymousId, sessionId, page, props: props as Record<string, unknown> })
    add('app_launch', { path: HOME, ...user.touch }, '')
    add('app_show', { path: HOME, ...user.touch }, '')
    for (const page of visit.pages ?? [HOME]) add('page_view', {}, page)
    for (const [name, props, page] of visit.then ?? []) add(name, props as never, page)
    add('app_hide', { durationMs: 60_000 }, visit.pages?.at(-1) ?? HOME)
  })
  return events
}

/** What the traffic says, counted here: users active, page views and new users of a day. */
function expected(offset: number) {
  const active = USERS.filter((u) => u.visits.some((v) => v.on === offset))
  return {
    uv: active.length,
    pv: USERS.reduce((n, u) => n + u.visits.filter((v) => v.on === offset).reduce((k, v) => k + (v.pages ?? [HOME]).length, 0), 0),
    newUsers: USERS.filter((u) => u.visits[0]!.on === offset).length,
  }
}

/** Classic retention: of the users new on `cohort`, the share active exactly `n` days later. */
function retention(cohort: number, n: number): number | null {
  const users = USERS.filter((u) => u.visits[0]!.on === cohort)
  // Today is still under way: its rate is not known until it ends.
  if (users.length === 0 || cohort + n >= 0) return null
  return users.filter((u) => u.visits.some((v) => v.on === cohort + n)).length / users.length
}

async function track(openid: string, events: Sent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 50) {
    const result = await callFunction(cloud.url, 'track', 'ingest', { events: events.slice(i, i + 50) }, openid)
    if (!result.ok || result.data.rejected.length > 0) throw new Error(`track refused: ${JSON.stringify(result)}`)
  }
}

async function analytics<A extends keyof AnalyticsOutputs>(action: A, data: unknown, openid = ADMIN): Promise<Result<AnalyticsOutputs[A]>> {
  return (await callFunction(cloud.url, 'analytics', action, data, openid)) as Result<AnalyticsOutputs[A]>
}

async function answer<A extends keyof AnalyticsOutputs>(action: A, data: unknown): Promise<AnalyticsOutputs[A]> {
  const result = await analytics(action, data)
  if (!result.ok) throw new Error(`${action}: ${result.error.code} ${result.error.message}`)
  return result.data
}

async function rollup(): Promise<void> {
  await answer('rollup', { from: day(-29), to: T })
}

let cloud: CloudProcess
const { insert, docs } = incentivesCloud(() => cloud.url)
beforeAll(async () => {
  cloud = await startCloudProcess()
  const reply = await adminRequest(cloud.url, {
    action: 'database.insertDocument',
    collectionName: 'app_config',
    data: [JSON.stringify({ _id: 'admins', openids: [ADMIN] })],
  })
  expect(reply.body.data.insertedIds).toEqual(['admins'])
  // The alert template (notify's registry key ops_alert), configured before any function reads it.
  await insert('app_config', { _id: 'templates', ids: { ops_alert: OPS_TEMPLATE } })
  for (const user of USERS) await track(user.openid, eventsOf(user))
  await rollup()
}, 90_000)

const mounted: Mounted[] = []
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount()
})
afterAll(() => cloud?.stop())

// ---- the page -------------------------------------------------------------------------------

function device(openid: string): FakeWx {
  const fake = createWx()
  fake.storage.set(OPENID_KEY, openid)
  return fake
}

const newOpenid = () => `dev-${randomBytes(6).toString('hex')}`

interface Dashboard {
  m: Mounted
  canvases: Canvases
}

async function open(options: { openid?: string; fake?: FakeWx; query?: Record<string, string>; cloudUrl?: string } = {}): Promise<Dashboard> {
  const m = await mountPage(PAGE, { cloudUrl: options.cloudUrl ?? cloud.url, fake: options.fake ?? device(options.openid ?? ADMIN), query: options.query })
  // Before any answer arrives: the charts query their canvas once they render, after the data.
  const canvases = recordCanvases()
  mounted.push(m)
  return { m, canvases }
}

async function ready({ m }: Dashboard, tab = 'overview'): Promise<void> {
  await m.waitFor(() => m.page.data.tab === tab && m.page.data.status[tab] === 'ready', `the ${tab} tab`)
}

const hasClass = (el: Element, name: string) => [...el.classList].some((c) => c === name || c.endsWith(`--${name}`))
const inside = (el: Element, name: string) => [...el.querySelectorAll('*')].filter((e) => hasClass(e, name))
const textOf = (el: Element | undefined) => el?.textContent?.replace(/\s+/g, ' ').trim() ?? ''
const texts = (m: Mounted, name: string) => m.find(name).map(textOf)

/** Calls of the `analytics` function the page made: [action, data]. */
const calls = (m: Mounted) =>
  m.fake.log.requests
    .filter((r) => r.url.endsWith('/functions/analytics'))
    .map((r) => {
      const body = r.data as { action: string; data: unknown }
      return [body.action, body.data] as [string, unknown]
    })

async function tapTab(d: Dashboard, label: string, tab: string): Promise<void> {
  const item = d.m.find('t-tabs__item').find((el) => textOf(el) === label)
  if (!item) throw new Error(`no tab ${label}: ${texts(d.m, 't-tabs__item').join(', ')}`)
  await d.m.tap(item)
  await ready(d, tab)
}

function chart(d: Dashboard, name: string) {
  const host = d.m.find(`chart--${name}`)[0]
  if (!host) throw new Error(`no chart ${name}`)
  const canvas = d.canvases.of(host)
  if (!canvas) throw new Error(`chart ${name} has not drawn`)
  return canvas
}

async function drawn(d: Dashboard, name: string): Promise<ReturnType<typeof chart>> {
  await d.m.waitFor(() => d.m.find(`chart--${name}`).some((host) => (d.canvases.of(host)?.ctx.ops.length ?? 0) > 0), `the ${name} chart`)
  return chart(d, name)
}

const range14 = { from: day(-13), to: T }

describe('an admin', () => {
  test('overview: skeleton, then yesterday (a whole day) against the day before and the same weekday a week earlier; today so far on a line of its own', async () => {
    const d = await open()
    expect(d.m.page.data.status.overview).toBe('loading')
    expect(d.m.find('skeleton__row').length).toBeGreaterThan(0)
    await ready(d)
    expect(d.m.find('skeleton__row')).toHaveLength(0)
    // (A call repeated is a retry on a loaded machine, not a second question.)
    expect([...new Set(calls(d.m).map((c) => JSON.stringify(c)))].sort()).toEqual([JSON.stringify(['overview', { day: day(-1) }]), JSON.stringify(['trend', range14])])

    const today = expected(0)
    const lead = expected(-1)
    const before = expected(-2)
    const weekBefore = expected(-8)
    expect(today).toEqual({ uv: 5, pv: 6, newUsers: 3 })
    const cards = d.m.find('metric').map((el) => ({
      title: textOf(inside(el, 'metric__title')[0]),
      value: textOf(inside(el, 'metric__value')[0]),
      rows: inside(el, 'metric__row').map((row) => ['metric__label', 'metric__base', 'delta'].flatMap((name) => inside(row, name).map(textOf)).join(' ')),
    }))
    expect(cards.map((c) => [c.title, c.value])).toEqual([
      ['访问用户', String(lead.uv)],
      ['浏览次数', String(lead.pv)],
      ['新用户', String(lead.newUsers)],
      ['次日留存', formatPercent(retention(-2, 1))],
    ])
    const vs = (now: number, base: number) => (base === 0 ? '' : now === base ? ' 持平' : ` ${now > base ? '↑' : '↓'}${formatPercent(Math.abs(now - base) / base)}`)
    expect(cards[0]!.rows).toEqual([`前一天 ${before.uv}${vs(lead.uv, before.uv)}`, `上周同日 ${weekBefore.uv}${vs(lead.uv, weekBefore.uv)}`])
    expect(cards[1]!.rows).toEqual([`前一天 ${before.pv}${vs(lead.pv, before.pv)}`, `上周同日 ${weekBefore.pv}${vs(lead.pv, weekBefore.pv)}`])
    expect(cards[2]!.rows).toEqual([`前一天 ${before.newUsers}${vs(lead.newUsers, before.newUsers)}`, `上周同日 ${weekBefore.newUsers}${vs(lead.newUsers, weekBefore.newUsers)}`])
    const rate = (r: number | null) => formatPercent(r)
    const vsRate = (now: number | null, base: number | null) => (now === null || base === null ? '' : vs(now, base))
    expect(cards[3]!.rows).toEqual([`前一天 ${rate(retention(-3, 1))}${vsRate(retention(-2, 1), retention(-3, 1))}`, `上周同日 ${rate(retention(-9, 1))}${vsRate(retention(-2, 1), retention(-9, 1))}`])
    expect(d.m.text()).toContain(`昨日 ${Number(day(-1).slice(5, 7))}月${Number(day(-1).slice(8))}日`)
    // Today so far: never compared with whole days.
    expect(texts(d.m, 'today')).toEqual([expect.stringMatching(new RegExp(`^今日截至 \\d{2}:\\d{2}：访问用户 ${today.uv} · 浏览次数 ${today.pv} · 新用户 ${today.newUsers}$`))])

    // The same numbers the function answers.
    const overview = await answer('overview', { day: day(-1) })
    expect(overview.today).toMatchObject({ day: day(-1), ...lead })
    expect(overview.yesterday).toMatchObject(before)
    expect(overview.weekAgo).toMatchObject(weekBefore)
  })

  test('trend charts: drawn on a canvas 2D, one point per whole day of the range (today, under way, left out), scaled for the screen', async () => {
    const d = await open()
    await ready(d)
    const trend = await answer('trend', range14)
    expect(trend.days.map((t) => t.day)).toEqual(Array.from({ length: 14 }, (_, i) => day(i - 13)))
    expect(trend.days.map((t) => t.uv)).toEqual(Array.from({ length: 14 }, (_, i) => expected(i - 13).uv))
    const whole = trend.days.filter((t) => t.day < T)
    expect(d.m.page.data.charts.visits.days).toEqual(whole.map((t) => t.day))
    expect(d.m.page.data.charts.visits.series[0].values).toEqual(whole.map((t) => t.uv))
    expect(d.m.page.data.charts.newUsers.series[0].values).toEqual(whole.map((t) => t.newUsers))

    const visits = await drawn(d, 'visits')
    // 343 × 180 CSS pixels at the fake device's pixel ratio of 2.
    expect([visits.width, visits.height]).toEqual([686, 360])
    expect(visits.ctx.ops[0]).toEqual({ op: 'setTransform', args: [2, 0, 0, 2, 0, 0] })
    const [uvLine] = visits.ctx.lines(BLUE)
    expect(uvLine).toHaveLength(13)
    // Heights follow the counts: more users, higher point (smaller y); equal counts, equal heights.
    const uvs = whole.map((t) => t.uv)
    for (let i = 0; i < 13; i++) {
      for (let j = 0; j < 13; j++) {
        if (uvs[i]! > uvs[j]!) expect(uvLine![i]![1]).toBeLessThan(uvLine![j]![1])
        if (uvs[i] === uvs[j]) expect(uvLine![i]![1]).toBeCloseTo(uvLine![j]![1], 9)
      }
    }
    const labels = visits.ctx.texts().map((t) => t.text)
    expect(labels).toEqual(expect.arrayContaining(['访问用户', '浏览次数', day(-1).slice(5)]))
    expect(labels).not.toContain(T.slice(5))

    const newUsers = await drawn(d, 'new')
    expect(newUsers.ctx.texts().map((t) => t.text)).toContain(day(-1).slice(5))
    const retentionChart = await drawn(d, 'retention')
    expect(retentionChart.ctx.texts().some((t) => t.text.endsWith('%'))).toBe(true)
  })

  test('留存: the cohorts as a heat map, newest first, colored by rate', async () => {
    const d = await open()
    await ready(d)
    await tapTab(d, '留存', 'retention')
    expect(calls(d.m).at(-1)).toEqual(['retention', range14])

    const head = d.m.find('heat__row--head')[0]!
    expect(inside(head, 'heat__cell').map(textOf)).toEqual(['日期', '新用户', '次日', '2日', '3日', '4日', '5日', '6日', '7日', '14日', '30日'])
    const rows = d.m.find('heat__row').filter((el) => !hasClass(el, 'heat__row--head'))
    expect(rows.map((r) => textOf(inside(r, 'heat__cell--day')[0]))).toEqual(Array.from({ length: 14 }, (_, i) => day(-i).slice(5)))

    const offsets = [1, 2, 3, 4, 5, 6, 7, 14, 30]
    const max = Math.max(...[-13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0].flatMap((c) => offsets.map((n) => retention(c, n) ?? 0)))
    // y1 came back today, which is not over: not a rate yet (the highest is cohort a's 50%).
    expect(max).toBe(0.5)
    expect(retention(-1, 1)).toBeNull()
    const row = (offset: number) => rows[-offset]!
    // Cohort a: 4 users; back on day 1: 2, day 2: 1, day 7: 1; days 14 and 30 are still to come.
    expect(textOf(inside(row(-9), 'heat__cell--size')[0])).toBe('4')
    expect(inside(row(-9), 'heat__rate').map(textOf)).toEqual(['50.0%', '25.0%', '0.0%', '0.0%', '0.0%', '0.0%', '25.0%', '', ''])
    expect(inside(row(-9), 'heat__rate').map(textOf)).toEqual(offsets.map((n) => (retention(-9, n) === null ? '' : formatPercent(retention(-9, n)))))
    const style = (el: Element) => el.getAttribute('style') ?? ''
    const cells = inside(row(-9), 'heat__rate')
    expect(style(cells[0]!)).toContain(heatColor(0.5, max).background)
    expect(style(cells[6]!)).toContain(heatColor(0.25, max).background)
    expect(style(cells[0]!)).toContain('#ffffff') // the highest rate: white on the darkest blue
    expect(textOf(inside(row(-1), 'heat__rate')[0])).toBe('')
    // A day nobody was new on: no rates.
    expect(textOf(inside(row(-5), 'heat__cell--size')[0])).toBe('0')
    expect(inside(row(-5), 'heat__rate').map(textOf).every((t) => t === '')).toBe(true)
    // Today's cohort: nothing to measure yet.
    expect(inside(row(0), 'heat__rate').map(textOf).every((t) => t === '')).toBe(true)
  })

  test('漏斗: bars as wide as their share of the first step, conversion and median time', async () => {
    const d = await open()
    await ready(d)
    await tapTab(d, '漏斗', 'funnels')
    const { funnels } = await answer('funnels', range14)
    expect(funnels.length).toBeGreaterThan(0)
    const shown = d.m.find('funnel')
    expect(shown.map((el) => textOf(inside(el, 'panel__title')[0]))).toEqual(funnels.map((f) => f.name))
    funnels.forEach((f, i) => {
      const steps = inside(shown[i]!, 'step')
      expect(steps.map((s) => textOf(inside(s, 'step__label')[0]))).toEqual(f.steps.map((s) => s.label))
      expect(steps.map((s) => textOf(inside(s, 'step__users')[0]))).toEqual(f.steps.map((s) => `${formatCount(s.users)} 人`))
      const first = f.steps[0]!.users
      expect(steps.map((s) => inside(s, 'step__bar')[0]!.getAttribute('style'))).toEqual(
        f.steps.map((s) => `width: ${first > 0 ? Math.round((s.users / first) * 1000) / 10 : 0}%`),
      )
      expect(steps.slice(1).map((s) => textOf(inside(s, 'step__conversion')[0]))).toEqual(f.steps.slice(1).map((s) => `转化 ${formatPercent(s.conversion)}`))
    })
    // The demo funnel (home, detail, opened, shared): 7 users viewed home in these days, and a1 went all the way.
    const content = funnels.find((f) => f.id === 'content')
    expect(content?.steps.map((s) => s.users).at(-1)).toBeGreaterThanOrEqual(1)
    expect(content!.steps[0]!.users).toBeGreaterThan(content!.steps[1]!.users)
    expect(d.m.text()).toMatch(/中位用时 \d+(\.\d)?(秒|分钟)/)
  })

  test('漏斗: a funnel configuration that does not validate is shown as such', async () => {
    const config = (action: 'insertDocument' | 'removeDocument') =>
      adminRequest(cloud.url, {
        action: `database.${action}`,
        collectionName: 'app_config',
        ...(action === 'insertDocument'
          ? { data: [JSON.stringify({ _id: 'funnels', funnels: [{ id: 'broken', name: '坏的', steps: [{ event: 'page_view', label: '只有一步' }] }] })] }
          : { query: JSON.stringify({ _id: 'funnels' }) }),
      })
    expect((await config('insertDocument')).status).toBe(200)
    try {
      const d = await open({ query: { tab: 'funnels' } })
      await d.m.waitFor(() => d.m.page.data.status.funnels === 'error', 'the funnel error')
      expect(d.m.text()).toContain('漏斗配置有误：')
      expect(d.m.text()).toContain('app_config/funnels')
    } finally {
      expect((await config('removeDocument')).body.data.deleted).toBe(1)
    }
  })

  test('渠道: new users by first-touch channel, with named WeChat scenes', async () => {
    const d = await open()
    await ready(d)
    await tapTab(d, '渠道', 'channels')
    const rows = d.m.find('channel').map((el) => inside(el, 'table__cell').map(textOf))
    const { rows: answered } = await answer('channels', range14)
    expect(rows.map((r) => r.slice(0, 2))).toEqual([
      ['发现页小程序入口', '6'],
      ['海报', '2'],
      ['扫小程序码', '2'],
      ['单聊分享卡片', '1'],
    ])
    expect(rows).toEqual(answered.map((r) => [r.channel, String(r.newUsers), formatPercent(r.d1), formatPercent(r.d7)]).map(([c, ...rest]) => [
      { scene_1001: '发现页小程序入口', poster: '海报', scene_1047: '扫小程序码', scene_1007: '单聊分享卡片' }[c!] ?? c!,
      ...rest,
    ]))
    // Both poster users came back the next day; one of the code's users on no day after.
    expect(rows[1]![2]).toBe('100.0%')
    expect(rows[2]![2]).toBe('0.0%')
  })

  test('错误: totals, a chart and the most frequent messages', async () => {
    const d = await open()
    await ready(d)
    await tapTab(d, '错误', 'errors')
    expect(d.m.find('metric').map((el) => [textOf(inside(el, 'metric__title')[0]), textOf(inside(el, 'metric__value')[0])])).toEqual([
      ['错误总数', '3'],
      ['出错会话', '3'],
      ['出错会话占比', expect.stringMatching(/%$/)],
    ])
    const issues = d.m.find('issue').map((el) => [textOf(inside(el, 'issue__kind')[0]), textOf(inside(el, 'issue__message')[0]), textOf(inside(el, 'issue__count')[0])])
    expect(issues).toEqual([
      ['脚本错误', ERROR_MESSAGE, '2 次'],
      ['云函数调用失败', expect.stringContaining('content'), '1 次'],
    ])
    const errors = await drawn(d, 'errors')
    expect(errors.ctx.texts().map((t) => t.text)).toEqual(expect.arrayContaining(['错误数', '出错会话']))
  })

  test('tabs keep what they loaded: going back to one does not call again', async () => {
    const d = await open()
    await ready(d)
    await tapTab(d, '渠道', 'channels')
    await tapTab(d, '概览', 'overview')
    await tapTab(d, '渠道', 'channels')
    expect(calls(d.m).map(([action]) => action).sort()).toEqual(['channels', 'overview', 'trend'])
    expect(d.m.find('metric')).toHaveLength(0) // only the active tab is rendered
  })

  test('date range: presets and pickers query the new range; a range the function would refuse is explained and not sent', async () => {
    const d = await open()
    await ready(d)
    expect(texts(d.m, 'range__day')).toEqual([range14.from, T])
    expect(texts(d.m, 'range__count')).toEqual(['共 14 天'])
    expect(d.m.find('range__preset--active').map(textOf)).toEqual(['近14天'])

    const preset = d.m.find('range__preset').find((el) => textOf(el) === '近7天')!
    await d.m.tap(preset)
    await d.m.waitFor(() => d.m.page.data.status.overview === 'ready' && calls(d.m).some(([a, data]) => a === 'trend' && (data as { from: string }).from === day(-6)), 'the 7-day trend')
    expect(calls(d.m).at(-1)).toEqual(['trend', { from: day(-6), to: T }])
    expect(d.m.page.data.charts.visits.days).toEqual(Array.from({ length: 6 }, (_, i) => day(i - 6)))
    expect(texts(d.m, 'range__day')).toEqual([day(-6), T])
    expect(texts(d.m, 'range__count')).toEqual(['共 7 天'])
    expect(d.m.find('range__preset--active').map(textOf)).toEqual(['近7天'])
    // Seven days, the last of them today: six whole days drawn.
    await d.m.waitFor(() => (chart(d, 'visits').ctx.lines(BLUE)[0]?.length ?? 0) === 6, 'the chart redrawn with 6 whole days')

    // A start date picked with the native date picker.
    const [fromPicker, toPicker] = d.m.find('range__picker')
    const pick = async (picker: Element, value: string) => {
      const ex = require('miniprogram-exparser') as { Event: { dispatchEvent(n: unknown, e: unknown): void; create(n: string, d: unknown, o: unknown): unknown } }
      ex.Event.dispatchEvent((picker as Element & { __wxElement: unknown }).__wxElement, ex.Event.create('change', { value }, {}))
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    await pick(fromPicker!, day(-20))
    await d.m.waitFor(() => d.m.page.data.status.overview === 'ready' && d.m.page.data.range.from === day(-20), 'the 21-day range')
    expect(calls(d.m).at(-1)).toEqual(['trend', { from: day(-20), to: T }])
    expect(d.m.find('range__preset--active')).toHaveLength(0)
    expect(texts(d.m, 'range__count')).toEqual(['共 21 天'])

    // Another tab loads for the current range.
    await tapTab(d, '留存', 'retention')
    expect(calls(d.m).at(-1)).toEqual(['retention', { from: day(-20), to: T }])
    expect(d.m.find('heat__row')).toHaveLength(1 + 21)

    const sent = calls(d.m).length
    await pick(fromPicker!, day(-100))
    expect(texts(d.m, 'range__error')).toEqual(['一次最多查看 90 天，请缩短时间范围'])
    await pick(toPicker!, day(-30))
    expect(texts(d.m, 'range__error')).toEqual(['开始日期不能晚于结束日期'])
    expect(calls(d.m)).toHaveLength(sent)
    expect(d.m.page.data.range).toEqual({ from: day(-20), to: T })

    // And the function agrees with both refusals.
    expect(await analytics('trend', { from: day(-100), to: T })).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await analytics('trend', { from: day(-20), to: day(-30) })).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })

    // A good choice clears the message.
    await pick(toPicker!, day(-1))
    await d.m.waitFor(() => d.m.page.data.status.retention === 'ready' && d.m.page.data.range.to === day(-1), 'the range to yesterday')
    expect(d.m.find('range__error')).toHaveLength(0)
    expect(calls(d.m).at(-1)).toEqual(['retention', { from: day(-20), to: day(-1) }])
  })

  test('a link can open a tab and a range; a bad one is explained and the default range shown', async () => {
    const d = await open({ query: { tab: 'channels', from: day(-6), to: T } })
    await ready(d, 'channels')
    expect(calls(d.m)).toEqual([['channels', { from: day(-6), to: T }]])

    const bad = await open({ query: { from: day(-120), to: T } })
    await ready(bad)
    expect(texts(bad.m, 'range__error')).toEqual(['一次最多查看 90 天，请缩短时间范围'])
    expect(calls(bad.m)).toContainEqual(['trend', range14])
  })

  test('the cloud cannot be reached: the message and a retry that works', async () => {
    const d = await open({ cloudUrl: await deadUrl() })
    await d.m.waitFor(() => d.m.page.data.status.overview === 'error', 'the error state')
    expect(d.m.text()).toContain('网络不太给力，请检查网络后重试')
    d.m.cloud.configureCloud({ localCloudUrl: cloud.url })
    const retry = d.m.find('t-button').find((el) => textOf(el) === '重新加载')!
    await d.m.tap(retry)
    await ready(d)
    expect(d.m.find('metric')).toHaveLength(4)
  })
})

describe('everyone else', () => {
  test('no access: the function refuses, and the page says so and how to get access', async () => {
    const openid = newOpenid()
    expect(await analytics('overview', {}, openid)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(await analytics('trend', range14, openid)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(await analytics('access', {}, openid)).toEqual({ ok: true, data: { admin: false } })

    const d = await open({ openid })
    await d.m.waitFor(() => d.m.page.data.access === 'denied', 'the no-access state')
    // Said once, in words for users: no developer terms, the navigation bar keeps the page's name.
    expect(d.m.text()).toContain('数据看板只对管理员开放')
    expect(d.m.text()).not.toMatch(/无权访问|ADMIN_OPENIDS|app_config|OpenID/)
    expect(d.m.find('t-tabs__item')).toHaveLength(0)
    expect(d.m.find('metric')).toHaveLength(0)
    expect(d.m.fake.log.titles).toEqual([])
    // The ID an admin would add, from the login.
    await d.m.waitFor(() => d.m.text().includes(openid), 'the openid')
    expect(texts(d.m, 'state__openid')).toEqual([`你的用户 ID：${openid}`])
  })

  test('made an admin meanwhile: pulling down shows the dashboard', async () => {
    const openid = newOpenid()
    const d = await open({ openid })
    await d.m.waitFor(() => d.m.page.data.access === 'denied', 'the no-access state')

    const admins = (openids: string[]) =>
      adminRequest(cloud.url, {
        action: 'database.modifyDocument',
        collectionName: 'app_config',
        query: JSON.stringify({ _id: 'admins' }),
        data: JSON.stringify({ $set: { openids } }),
      })
    expect((await admins([ADMIN, openid])).body.data.updated).toBe(1)
    try {
      d.m.page.onPullDownRefresh()
      await ready(d)
      expect(d.m.page.data.access).toBe('granted')
      expect(d.m.find('metric')).toHaveLength(4)
      expect(d.m.text()).not.toContain('只对管理员开放')
      expect(d.m.fake.log.titles).toEqual([])
      expect(d.m.fake.log.stopPullDownRefresh).toBe(1)
    } finally {
      await admins([ADMIN])
    }
  })
})

describe('the Me page entry', () => {
  const entryTitles = (m: Mounted) => m.find('t-cell').map((el) => textOf(inside(el, 't-cell__title')[0] ?? el))

  test('an admin gets 数据看板, which opens the dashboard', async () => {
    const m = await mountPage(ME, { cloudUrl: cloud.url, fake: device(ADMIN) })
    mounted.push(m)
    await m.waitFor(() => m.page.data.status === 'ready' && m.text().includes('数据看板'), 'the dashboard entry')
    const entry = m.find('t-cell').find((el) => textOf(el).includes('数据看板'))!
    await m.tap(entry)
    expect(m.fake.log.navigateTo).toEqual(['/packages/admin/index'])
    expect(m.fake.log.requests.filter((r) => (r.data as { action?: string }).action === 'access')).toHaveLength(1)
  })

  test('everyone else does not, and the profile does not wait for the check', async () => {
    const m = await mountPage(ME, { cloudUrl: cloud.url, fake: device(newOpenid()) })
    mounted.push(m)
    await m.waitFor(() => m.page.data.status === 'ready', 'the profile')
    await m.waitFor(() => m.fake.storage.has('cache:admin-access'), 'the access check')
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(entryTitles(m).join()).not.toContain('数据看板')
    expect(m.text()).toContain('浏览全部指南')
    expect(m.text()).not.toContain('数据看板')
  })
})

describe('refreshing', () => {
  test('a repeat visit shows the stored answers at once; pulling down asks the function again and shows new traffic', async () => {
    const first = await open()
    await ready(first)
    const before = expected(0)
    // Today so far (new traffic today shows there; the cards are yesterday's).
    const shown = (d: Dashboard) => texts(d.m, 'today')[0]?.replace(/^今日截至 \d{2}:\d{2}：/, '')
    const line = (uv: number, pv: number, newUsers: number) => `访问用户 ${uv} · 浏览次数 ${pv} · 新用户 ${newUsers}`
    // New users also count sign-ins without events (the tests above signed some in today: they
    // count from the next rollup on).
    const beforeNew = (await answer('overview', { day: T })).today.newUsers
    expect(shown(first)).toBe(line(before.uv, before.pv, beforeNew))

    const again = await open({ fake: first.m.fake })
    await ready(again)
    const requests = again.m.fake.log.requests.length
    expect(shown(again)).toEqual(shown(first))

    // Two more users today, rolled up.
    const late: SeedUser[] = [
      { openid: 'o-late1', touch: { scene: 1001 }, visits: [{ on: 0 }] },
      { openid: 'o-late2', touch: { scene: 1001 }, visits: [{ on: 0 }] },
    ]
    for (const user of late) await track(user.openid, eventsOf(user))
    USERS.push(...late)
    await rollup()

    // Within the freshness window, storage answers: no request, the old numbers.
    const third = await open({ fake: first.m.fake })
    await ready(third)
    expect(third.m.fake.log.requests.length).toBe(requests)
    expect(shown(third)).toEqual(shown(first))

    third.m.page.onPullDownRefresh()
    await third.m.waitFor(() => third.m.fake.log.stopPullDownRefresh === 1, 'the refresh to end')
    expect(third.m.fake.log.requests.slice(requests).map((r) => (r.data as { action: string }).action).sort()).toEqual(['overview', 'trend'])
    const afterNew = (await answer('overview', { day: T })).today.newUsers
    expect(afterNew).toBeGreaterThanOrEqual(beforeNew + 2)
    expect(shown(third)).toBe(line(before.uv + 2, before.pv + 2, afterNew))
    expect(third.m.find('skeleton__row')).toHaveLength(0) // refreshed in place
  })
})

describe('告警通知', () => {
  /** An admin's device whose subscription dialog accepts, counting how often it was asked. */
  function accepting(): { fake: FakeWx; asked: string[][] } {
    const fake = device(ADMIN)
    const asked: string[][] = []
    fake.wx.requestSubscribeMessage = (o: any) => {
      asked.push(o.tmplIds)
      setTimeout(() => o.success({ errMsg: 'requestSubscribeMessage:ok', [OPS_TEMPLATE]: 'accept' }), 0)
    }
    return { fake, asked }
  }
  const alertsText = (m: Mounted) => textOf(m.find('alerts__text')[0])
  const quota = async () => (await docs('subscriptions', { _id: `${ADMIN}:ops_alert` }))[0]?.quota as number | undefined

  test('an admin subscribes on 错误 as often as they like (one alert per accept); an incident spends one and the message opens 错误', async () => {
    const { fake, asked } = accepting()
    const d = await open({ fake })
    await ready(d)
    await tapTab(d, '错误', 'errors')
    await d.m.waitFor(() => alertsText(d.m) === '错误率或慢调用率超过阈值时通知你，每订阅一次可收到一次告警', 'the alert state')
    const subscribe = () => d.m.find('t-button').find((b) => textOf(b) === '订阅告警')!
    await d.m.tap(subscribe())
    await d.m.waitFor(() => alertsText(d.m) === '还能收到 1 次告警，再次订阅可增加次数', 'one alert')
    expect(d.m.fake.log.toasts.map((t) => t.title)).toEqual(['已订阅，出现告警时通知你'])
    // Asked again although one is left: alerts stack.
    await d.m.tap(subscribe())
    await d.m.waitFor(() => alertsText(d.m) === '还能收到 2 次告警，再次订阅可增加次数', 'two alerts')
    expect(asked).toEqual([[OPS_TEMPLATE], [OPS_TEMPLATE]])
    expect(await quota()).toBe(2)

    // A bad 5 minutes long ago (out of every dashboard range): 20 sessions, 4 with a script error.
    const from = Date.parse(`${addDays(T, -400)}T10:00:00+08:00`)
    const events = Array.from({ length: 20 }, (_, i) => {
      const receivedAt = { $date: new Date(from + 1000 + i * 5000).toISOString() }
      const name = i < 4 ? 'js_error' : 'page_view'
      return { _id: uuidv7(from + i), name, ts: receivedAt, day: addDays(T, -400), receivedAt, openid: `o-old-${i}`, anonymousId: uuidv7(), sessionId: uuidv7(), page: HOME, props: i < 4 ? { message: ERROR_MESSAGE } : {} }
    })
    for (const event of events) await insert('events', event)
    const run = await callFunction(cloud.url, 'monitor', 'run', { at: new Date(from + 5 * 60_000).toISOString() }, ADMIN)
    expect(run.data.transitions).toEqual([expect.objectContaining({ kind: 'error_rate', state: 'opened', value: 0.2, notified: 1, unsubscribed: 0 })])
    const sent = await docs('_outbox', { touser: ADMIN })
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ templateId: OPS_TEMPLATE, data: { thing1: { value: '错误率20.0%超阈值' }, character_string3: { value: '4/20' } } })
    expect(await quota()).toBe(1)

    // The message opens the dashboard on 错误, where one alert is left.
    const page = sent[0]!.page as string
    expect(page).toMatch(/^packages\/admin\/index\?tab=errors&msg=/)
    const opened = await open({ query: { tab: 'errors', msg: decodeURIComponent(page.split('msg=')[1]!) } })
    await ready(opened, 'errors')
    await opened.m.waitFor(() => alertsText(opened.m) === '还能收到 1 次告警，再次订阅可增加次数', 'the alert left')
  })
})
