/**
 * The wired experiment end to end: the home page's value proposition (`home_value_copy`, the
 * default config) measured by a guide opened (`content_open`). Each launch runs the real app.ts
 * (tracker, monitor, login, experiments) and renders the real pages with the official compiler and
 * TDesign against a real local cloud: a user assigned (by assignVariant, computed here) to a
 * variant sees its copy, the exposure goes through the real tracker and `track` function, the guide
 * they open is the conversion, the `experiments` rollup counts it, and the admin dashboard's 实验
 * tab shows it. Also: a first launch waiting at most ~1 s for its copy, forced variants, the read
 * count flag, and the tab's empty, error, no-access, verdict and SRM states.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { ExperimentConfig, ExperimentResults } from '../../cloudfunctions/experiments/api'
import { assignVariant } from '../../miniprogram/core/bucketing'
import { formatPercent } from '../../miniprogram/core/format'
import { uuidv7 } from '../../miniprogram/core/uuid'
import { formatChance, signedPercent } from '../../miniprogram/packages/admin/view'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { type Mounted, MP_ROOT, mountPage } from './harness/mount'
import { addAdmin, configFor, experimentDoc, openidsIn, save } from './harness/experiments'
import { adminRequest, callFunction, deadUrl } from './harness/net'
import { startProxy, storedEvents, until } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(180_000)

type TrackerModule = typeof import('../../miniprogram/core/tracker')

const HOME_PAGE = 'pages/home/index'
const DETAIL_PAGE = 'packages/guide/detail/index'
const ADMIN_PAGE = 'packages/admin/index'
const OPENID_KEY = 'local-cloud:openid'
const EXPERIMENT = 'home_value_copy'
const ADMIN = 'dev-e2eadmin0001'
const CONTROL_COPY = '每天 3 分钟，学一个马上用得上的生活技巧'
const B_COPY = '3 分钟一篇，今天就能用上的生活技巧'

const seed = JSON.parse(readFileSync(path.resolve(__dirname, '../../tools/seed/guides.json'), 'utf8')) as { guides: { _id: string; title: string }[] }

let cloud: CloudProcess
let experiment: ExperimentConfig
const mounted: Mounted[] = []
const trackers: TrackerModule[] = []

beforeAll(async () => {
  cloud = await startCloudProcess()
  await addAdmin(cloud.url, ADMIN)
  experiment = (await configFor(cloud.url, ADMIN)).experiments.find((e) => e.key === EXPERIMENT)!
  expect(experiment.variants).toEqual([
    { key: 'control', weight: 0.5, value: CONTROL_COPY },
    { key: 'b', weight: 0.5, value: B_COPY },
  ])
}, 90_000)
afterEach(() => {
  for (const t of trackers.splice(0)) t.stopTracker()
  for (const m of mounted.splice(0)) m.unmount()
})
afterAll(() => cloud?.stop())

// ---- devices and launches -----------------------------------------------------------------------

/** Development openids the home experiment assigns to `variant`. */
const assignedTo = (variant: string, count: number, salt: string) => openidsIn(experiment, variant, count, salt)

/** A phone whose user agreed to the privacy terms earlier, signed in as `openid`. */
function device(openid: string): FakeWx {
  const fake = createWx()
  fake.storage.set(OPENID_KEY, openid)
  fake.storage.set('tracker:consent', true)
  return fake
}

interface Launch {
  m: Mounted
  tracker: TrackerModule
}

/**
 * A cold start on `fake` that opens `page`: the real app.ts's onLaunch and onShow run (with the
 * launch query) in the page's module registry before the page loads, as on a device.
 */
async function launch(page: string, fake: FakeWx, options: { launchQuery?: Record<string, string>; pageQuery?: Record<string, string>; url?: string } = {}): Promise<Launch> {
  const launchOptions = { path: page, scene: 1001, query: options.launchQuery ?? options.pageQuery ?? {}, referrerInfo: {} }
  fake.launchOptions = launchOptions
  let tracker: TrackerModule | undefined
  const m = await mountPage(page, {
    cloudUrl: options.url ?? cloud.url,
    fake,
    query: options.pageQuery,
    stackDepth: 1,
    beforeLoad: () => {
      let app: { onLaunch(o: unknown): void; onShow(o: unknown): void } | undefined
      ;(globalThis as Record<string, unknown>).App = (definition: typeof app) => {
        app = definition
      }
      require(path.join(MP_ROOT, 'app'))
      app!.onLaunch(launchOptions)
      app!.onShow(launchOptions)
      tracker = require(path.join(MP_ROOT, 'core/tracker')) as TrackerModule
    },
  })
  mounted.push(m)
  trackers.push(tracker!)
  return { m, tracker: tracker! }
}

/** Ends a launch as a kill would: nothing more is sent from it. */
function end(l: Launch): void {
  l.tracker.stopTracker()
  l.m.unmount()
}

/** Sends everything the launch has queued (until the cloud acknowledged it all). */
async function sendAll(l: Launch): Promise<void> {
  await until(() => {
    void l.tracker.flush()
    return l.tracker.pending().length === 0
  }, 'the queue to drain')
}

/** The events of `name` the device's launches stored in the cloud, as [openid, props]. */
async function stored(l: Launch, name: string): Promise<[string | undefined, Record<string, unknown>][]> {
  await sendAll(l)
  return (await storedEvents(cloud.url, { anonymousId: l.tracker.anonymousId(), name })).map((e) => [e.openid, e.props])
}

const queuedExposures = (l: Launch) => l.tracker.pending().filter((e) => e.name === 'experiment_viewed').map((e) => e.props)
const tagline = (m: Mounted) => m.find('hero__tagline')[0]?.textContent?.trim() ?? ''
const experimentCalls = (fake: FakeWx) => fake.log.requests.filter((r) => r.url.endsWith('/functions/experiments'))

async function homeReady(m: Mounted): Promise<void> {
  await m.waitFor(() => m.page.data.status === 'ready', 'the guides')
}

// ---- the admin's 实验 tab -----------------------------------------------------------------------

const hasClass = (el: Element, name: string) => [...el.classList].some((c) => c === name || c.endsWith(`--${name}`))
const inside = (el: Element, name: string) => [...el.querySelectorAll('*')].filter((e) => hasClass(e, name))
const textOf = (el: Element | undefined) => el?.textContent?.replace(/\s+/g, ' ').trim() ?? ''

interface Panel {
  name: string
  status: string
  verdict: string
  verdictKind: string
  srm: string
  notes: string[]
  /** The line saying whether it is safe to stop. */
  stopping: string
  /** Per variant: name, users, conversions, rate + interval. */
  rows: string[][]
  /** Per variant after the control: its title, then each line as "label value interval". */
  comparisons: string[][]
}

/** A table cell's text, its interval line (a nested view) set apart by a space. */
function cellText(cell: Element): string {
  const all = textOf(cell)
  const sub = textOf(inside(cell, 'table__sub')[0])
  return sub ? `${all.slice(0, all.length - sub.length).trim()} ${sub}` : all
}

function panels(m: Mounted): Panel[] {
  return m.find('experiment').map((el) => {
    const verdict = inside(el, 'verdict')[0]!
    return {
      name: textOf(inside(el, 'panel__title')[0]),
      status: textOf(inside(el, 'experiment__status')[0]),
      verdict: textOf(verdict),
      verdictKind: [...verdict.classList].map((c) => /verdict--([a-z_]+)$/.exec(c)?.[1]).find(Boolean) ?? '',
      srm: textOf(inside(el, 'srm-warning')[0]),
      notes: inside(el, 'note').map(textOf),
      stopping: textOf([...el.querySelectorAll('*')].find((e) => [...e.classList].some((c) => /stopping--(safe|wait)$/.test(c)))),
      rows: inside(el, 'variant').map((row) => inside(row, 'table__cell').map(cellText)),
      comparisons: inside(el, 'comparison').map((cmp) => [
        textOf(inside(cmp, 'comparison__title')[0]),
        ...inside(cmp, 'table__row').slice(1).map((line) => inside(line, 'table__cell').map(cellText).join(' ')),
      ]),
    }
  })
}

async function openDashboard(options: { tab?: boolean; url?: string; openid?: string } = {}): Promise<Mounted> {
  const m = await mountPage(ADMIN_PAGE, {
    cloudUrl: options.url ?? cloud.url,
    fake: device(options.openid ?? ADMIN),
    query: options.tab === false ? {} : { tab: 'experiments' },
  })
  mounted.push(m)
  return m
}

async function experimentsTab(m: Mounted): Promise<void> {
  await m.waitFor(() => m.page.data.tab === 'experiments' && m.page.data.status.experiments === 'ready', 'the 实验 tab')
}

async function results(key: string): Promise<ExperimentResults> {
  const reply = await callFunction(cloud.url, 'experiments', 'results', { key }, ADMIN)
  if (!reply.ok) throw new Error(JSON.stringify(reply.error))
  return (reply.data.items as ExperimentResults[])[0]!
}

/** The row the page should show for `variant`, from the function's stored results. */
function expectedRow(r: ExperimentResults, variant: string, users: number, conversions: number): string[] {
  const i = r.variants.findIndex((v) => v.key === variant)
  const v = r.variants[i]!
  expect([v.users, v.conversions]).toEqual([users, conversions])
  const ci = (pair: [number, number] | null, f: (x: number) => string) => (pair ? ` ${f(pair[0])} ~ ${f(pair[1])}` : '')
  return [v.name, String(users), String(conversions), `${formatPercent(v.rate)}${ci(v.rateCi, formatPercent)}`]
}

/** The comparison block the page should show for `variant` against the control, from the stored results. */
function expectedComparison(r: ExperimentResults, variant: string): string[] {
  const v = r.variants.find((x) => x.key === variant)!
  const c = r.comparisons.find((x) => x.variant === variant)!
  const ci = (pair: [number, number] | null, f: (x: number) => string) => (pair ? ` ${f(pair[0])} ~ ${f(pair[1])}` : '')
  const pts = (x: number) => `${x < 0 ? '−' : '+'}${(Math.abs(x) * 100).toFixed(1)}`
  const reduction = c.cuped?.varianceReduction
  return [
    `${v.name} 对比对照`,
    `相对提升 ${signedPercent(c.uplift)}${ci(c.upliftCi, signedPercent)}`,
    c.cuped
      ? `CUPED 调整后 ${signedPercent(c.cuped.uplift)}${ci(c.cuped.upliftCi, signedPercent)}${reduction && reduction > 0 ? `，方差减少 ${Math.round(reduction * 100)}%` : ''}`
      : 'CUPED 调整后 未调整',
    `胜过对照的概率 ${formatChance(c.chanceToBeat)}`,
    c.sequentialCi ? `随时有效区间 ${pts(c.sequentialCi[0])} ~ ${pts(c.sequentialCi[1])} 个百分点 固定样本 ${pts((c.cuped?.diffCi ?? c.diffCi!)[0])} ~ ${pts((c.cuped?.diffCi ?? c.diffCi!)[1])}` : '随时有效区间 —',
  ]
}

// ---- the tab before any results -----------------------------------------------------------------

describe('the 实验 tab', () => {
  test('before any rollup: the empty state; 重新计算 computes the running experiment at once', async () => {
    const m = await openDashboard({ tab: false })
    await m.waitFor(() => m.page.data.status.overview === 'ready', 'the overview')
    const tab = m.find('t-tabs__item').find((el) => textOf(el) === '实验')
    expect(tab).toBeDefined()
    await m.tap(tab!)
    await experimentsTab(m)
    expect(m.find('range')).toHaveLength(0) // results are not by date range
    expect(m.text()).toContain('还没有实验结果')
    expect(m.text()).toContain('点「重新计算」立即统计')

    const button = m.find('t-button').find((el) => textOf(el) === '重新计算')!
    await m.tap(inside(button, 't-button__content')[0] ?? button)
    await m.waitFor(() => m.fake.log.toasts.length > 0, 'the toast')
    expect(m.fake.log.toasts).toEqual([{ title: '已重新计算', icon: 'success' }])
    const actions = m.fake.log.requests.filter((r) => r.url.endsWith('/functions/experiments')).map((r) => (r.data as { action: string }).action)
    expect(actions).toEqual(['results', 'rollup', 'results'])
    const [panel] = panels(m)
    expect(panel).toMatchObject({ name: '首页价值主张文案', status: '进行中', verdictKind: 'not_enough_data', srm: '' })
    expect(panel!.verdict).toBe((await results(EXPERIMENT)).verdict.text)
    expect(panel!.notes[0]).toBe('目标：曝光后 7 天内 content_open · 还没有曝光')
    expect(panel!.notes.at(-1)).toMatch(/^结果计算于 \d{2}-\d{2} \d{2}:\d{2}（每小时更新）$/)
    expect(panel!.rows.map((r) => r.slice(0, 4))).toEqual([
      ['对照', '0', '0', '—'],
      ['B', '0', '0', '—'],
    ])
    expect(m.page.data.recomputing).toBe(false)
  })

  test('not an admin: the tab is for admins, and the user ID to send to one', async () => {
    const m = await openDashboard({ openid: 'dev-notanadmin01' })
    await m.waitFor(() => m.page.data.access === 'denied', 'no access')
    expect(m.text()).toContain('数据看板只对管理员开放')
    await m.waitFor(() => m.text().includes('dev-notanadmin01'), 'the OpenID')
    expect(m.find('experiment')).toHaveLength(0)
  })

  test('offline: the error and 重新加载, which loads the results once the network is back', async () => {
    const m = await openDashboard({ url: await deadUrl() })
    await m.waitFor(() => m.page.data.status.experiments === 'error', 'the error')
    expect(m.text()).toContain('网络不太给力')
    m.cloud.configureCloud({ localCloudUrl: cloud.url })
    const retry = m.find('t-button').find((el) => textOf(el) === '重新加载')!
    await m.tap(inside(retry, 't-button__content')[0] ?? retry)
    await experimentsTab(m)
    expect(panels(m).map((p) => p.name)).toEqual(['首页价值主张文案'])
  })
})

// ---- the home page ------------------------------------------------------------------------------

describe('the home page', () => {
  test('first launch: the copy waits at most ~1 s for the launch\'s reply (config and guides in one call), then shows the control, unlogged', async () => {
    const proxy = await startProxy(cloud.url, (p) => (p.endsWith('/functions/user') ? 'hold' : 'pass'))
    try {
      const [openid] = assignedTo('b', 1, 'cold')
      const launched = performance.now() // before onLoad, which starts the wait
      const l = await launch(HOME_PAGE, device(openid!), { url: proxy.url })
      expect(tagline(l.m)).toBe('')
      expect(l.m.find('hero__tagline')).toHaveLength(1) // the line keeps its place while it waits
      // One call brings the config and the guides: asked for at once, and nothing else before it answers.
      await until(() => proxy.hits.some((h) => h.body?.action === 'bootstrap'), "the launch's call")
      await l.m.waitFor(() => tagline(l.m) !== '', 'the tagline')
      // Not before the wait's timer (~1 s); and not because of the call, which the proxy still holds.
      expect(performance.now() - launched).toBeGreaterThanOrEqual(990)
      expect(proxy.hits.filter((h) => h.path.endsWith('/functions/user') && h.done)).toEqual([])
      expect(tagline(l.m)).toBe(CONTROL_COPY)
      expect(l.m.page.data.status).toBe('loading')
      expect(proxy.hits.map((h) => h.body?.action).filter((a) => a !== 'bootstrap')).toEqual([])

      // The reply arrives late: the list shows, the copy on screen does not switch, and nothing is logged for this view.
      await until(() => proxy.hits.some((h) => h.body?.action === 'bootstrap' && h.reply !== undefined), 'the held reply')
      proxy.release()
      await homeReady(l.m)
      await until(() => l.m.fake.storage.has('cache:experiments'), 'the late config')
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(tagline(l.m)).toBe(CONTROL_COPY)
      expect(queuedExposures(l)).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  test('forced by the launch query (exp=home_value_copy:b): a control user sees B, and no exposure is logged', async () => {
    const [openid] = assignedTo('control', 1, 'qry')
    const l = await launch(HOME_PAGE, device(openid!), { launchQuery: { exp: 'home_value_copy:b' } })
    await l.m.waitFor(() => tagline(l.m) !== '', 'the tagline')
    expect(tagline(l.m)).toBe(B_COPY)
    await homeReady(l.m)
    expect(await stored(l, 'experiment_viewed')).toEqual([])
    expect(l.m.page.onShareAppMessage().title).toBe(`实用指南｜${B_COPY}`)
  })

  test('the flag home_show_read_count: the cards show "N 阅读" until an admin turns it off', async () => {
    const shown = await launch(HOME_PAGE, device('dev-readflag0001'))
    await homeReady(shown.m)
    await shown.m.waitFor(() => tagline(shown.m) !== '', 'the tagline')
    const stats = () => [...shown.m.find('card__stat')].map(textOf)
    expect(stats().length).toBeGreaterThan(0)
    expect(stats().every((s) => /^[\d.万]+ 阅读$/.test(s))).toBe(true)
    end(shown)

    const readCount = (defaultValue: boolean) => save(cloud.url, ADMIN, { _id: 'home_show_read_count', kind: 'flag', type: 'boolean', defaultValue })
    await readCount(false)
    try {
      const hidden = await launch(HOME_PAGE, device('dev-readflag0002'))
      await homeReady(hidden.m)
      await hidden.m.waitFor(() => tagline(hidden.m) !== '', 'the tagline')
      expect(hidden.m.find('card').length).toBeGreaterThan(0)
      expect(hidden.m.find('card__stat')).toHaveLength(0)
      expect(hidden.m.text()).not.toContain('阅读')
    } finally {
      await readCount(true)
    }
  })
})

// ---- assignment → exposure → conversion → result -------------------------------------------------

describe('end to end', () => {
  /**
   * A user's first launch (the copy they are assigned, the exposure stored), a warm relaunch (the
   * copy at once from storage, no request, no second exposure) and, if `converts`, a guide opened
   * from the home page. Returns the stored [openid, props] of their exposures and conversions.
   */
  async function journey(openid: string, converts: boolean) {
    const fake = device(openid)
    const first = await launch(HOME_PAGE, fake)
    await first.m.waitFor(() => tagline(first.m) !== '', 'the tagline')
    const variant = assignVariant(experiment, openid).variant
    expect(tagline(first.m)).toBe(variant === 'b' ? B_COPY : CONTROL_COPY)
    await homeReady(first.m)
    expect(await stored(first, 'experiment_viewed')).toEqual([[openid, { experiment: EXPERIMENT, variant }]])
    end(first)

    const calls = experimentCalls(fake).length
    const again = await launch(HOME_PAGE, fake)
    // Rendered in onLoad itself, from storage: no waiting, no request.
    expect(again.m.page.data.tagline).toBe(variant === 'b' ? B_COPY : CONTROL_COPY)
    await homeReady(again.m)
    expect(experimentCalls(fake)).toHaveLength(calls)
    expect(queuedExposures(again)).toEqual([])
    if (converts) {
      const title = inside(again.m.find('card')[0]!, 'card__title')[0]!
      await again.m.tap(title)
      const url = again.m.fake.log.navigateTo.at(-1)!
      const id = /[?&]id=([^&]+)/.exec(url)![1]!
      expect(seed.guides.map((g) => g._id)).toContain(id)
      end(again)

      const detail = await launch(DETAIL_PAGE, fake, { pageQuery: { id } })
      await detail.m.waitFor(() => detail.m.page.data.status === 'ready', 'the guide')
      expect(await stored(detail, 'content_open')).toEqual([[openid, expect.objectContaining({ guideId: id })]])
      expect(await stored(detail, 'experiment_viewed')).toHaveLength(1)
    } else {
      expect(await stored(again, 'experiment_viewed')).toHaveLength(1)
    }
    return variant
  }

  test('a user assigned to B sees its copy, opens a guide, and the 实验 tab counts them as a conversion in B', async () => {
    const [openid] = assignedTo('b', 1, 'e2eb')
    expect(await journey(openid!, true)).toBe('b')

    const rollup = await callFunction(cloud.url, 'experiments', 'rollup', { key: EXPERIMENT }, ADMIN)
    expect(rollup.ok).toBe(true)
    expect(rollup.data.runs).toEqual([expect.objectContaining({ key: EXPERIMENT, users: 1, error: null })])
    const r = await results(EXPERIMENT)
    const m = await openDashboard()
    await experimentsTab(m)
    const [panel] = panels(m)
    expect(panel!.rows).toEqual([expectedRow(r, 'control', 0, 0), expectedRow(r, 'b', 1, 1)])
    expect(panel!.rows[1]!).toEqual(['B', '1', '1', `100.0% ${formatPercent(r.variants[1]!.rateCi![0])} ~ 100.0%`])
    // No control users: nothing to compare yet.
    expect(panel!.comparisons).toEqual([expectedComparison(r, 'b')])
    expect(panel!.comparisons[0]!.slice(1)).toEqual(['相对提升 —', 'CUPED 调整后 未调整', '胜过对照的概率 —', '随时有效区间 —'])
    expect(panel!.stopping).toBe('还不能停止：数据还不够')
    expect(panel!.verdict).toBe(r.verdict.text)
    expect(panel!.notes[0]).toMatch(/^目标：曝光后 7 天内 content_open · 统计 \d{2}-\d{2} \d{2}:\d{2} 至 \d{2}-\d{2} \d{2}:\d{2}$/)
  })

  test('control users: one opens a guide, one does not; 重新计算 on the open tab shows them next to B', async () => {
    const [converter, browser] = assignedTo('control', 2, 'e2ec')
    expect(await journey(converter!, true)).toBe('control')
    expect(await journey(browser!, false)).toBe('control')

    const m = await openDashboard()
    await experimentsTab(m)
    const before = panels(m)[0]!.rows.map((row) => row.slice(1, 3))
    expect(before).toEqual([
      ['0', '0'],
      ['1', '1'],
    ])
    const button = m.find('t-button').find((el) => textOf(el) === '重新计算')!
    await m.tap(inside(button, 't-button__content')[0] ?? button)
    await m.waitFor(() => m.fake.log.toasts.length > 0, 'the toast')
    expect(m.fake.log.toasts).toEqual([{ title: '已重新计算', icon: 'success' }])
    const r = await results(EXPERIMENT)
    const [panel] = panels(m)
    expect(panel!.rows).toEqual([expectedRow(r, 'control', 2, 1), expectedRow(r, 'b', 1, 1)])
    expect(panel!.rows[0]!).toEqual(['对照', '2', '1', `50.0% ${formatPercent(r.variants[0]!.rateCi![0])} ~ ${formatPercent(r.variants[0]!.rateCi![1])}`])
    expect(panel!.comparisons).toEqual([expectedComparison(r, 'b')])
    expect(panel!.comparisons[0]![1]).toBe(`相对提升 ${signedPercent(r.comparisons[0]!.uplift)} ${signedPercent(r.comparisons[0]!.upliftCi![0])} ~ ${signedPercent(r.comparisons[0]!.upliftCi![1])}`)
    expect(panel!.verdictKind).toBe('not_enough_data')
    expect(panel!.verdict).toBe(r.verdict.text)
  })
})

// ---- verdicts ------------------------------------------------------------------------------------

describe('verdicts', () => {
  /** Exposures (and conversions) of many users, written straight into `events` as `track` stores them. */
  async function traffic(key: string, groups: { variant: string; users: number; conversions: number }[]): Promise<void> {
    const at = Date.now()
    const date = (ms: number) => ({ $date: new Date(ms).toISOString() })
    const day = new Date(at + 8 * 3600_000).toISOString().slice(0, 10)
    const docs: unknown[] = []
    for (const g of groups) {
      for (let i = 0; i < g.users; i++) {
        const openid = `o-${key}-${g.variant}-${i}`
        const base = { day, receivedAt: date(at), openid, anonymousId: uuidv7(), sessionId: uuidv7(), page: HOME_PAGE }
        docs.push({ _id: uuidv7(), name: 'experiment_viewed', ts: date(at), props: { experiment: key, variant: g.variant }, ...base })
        if (i < g.conversions) docs.push({ _id: uuidv7(), name: 'content_open', ts: date(at + 60_000), props: { guideId: 'sleep-better', category: 'health' }, ...base })
      }
    }
    for (let i = 0; i < docs.length; i += 200) {
      const reply = await adminRequest(cloud.url, { action: 'database.insertDocument', collectionName: 'events', data: docs.slice(i, i + 200).map((d) => JSON.stringify(d)) })
      expect(reply.body.data.insertedIds).toHaveLength(Math.min(200, docs.length - i))
    }
  }

  async function start(key: string, name: string): Promise<void> {
    await save(cloud.url, ADMIN, experimentDoc(key, name))
    // Events after the start time the save recorded.
    await new Promise((resolve) => setTimeout(resolve, 5))
  }

  test('a clear winner and a broken split: the verdict line styled by kind, and the SRM warning', async () => {
    await start('clear_winner', '清晰的赢家')
    await start('broken_split', '分组出错')
    await traffic('clear_winner', [
      { variant: 'control', users: 150, conversions: 15 },
      { variant: 'b', users: 150, conversions: 45 },
    ])
    await traffic('broken_split', [
      { variant: 'control', users: 300, conversions: 30 },
      { variant: 'b', users: 100, conversions: 10 },
    ])
    const rollup = await callFunction(cloud.url, 'experiments', 'rollup', {}, ADMIN)
    expect(rollup.ok).toBe(true)

    const m = await openDashboard()
    await experimentsTab(m)
    const byName = new Map(panels(m).map((p) => [p.name, p]))
    expect([...byName.keys()].sort()).toEqual(['分组出错', '清晰的赢家', '首页价值主张文案'].sort())

    const winner = byName.get('清晰的赢家')!
    const w = await results('clear_winner')
    expect(w.verdict.kind).toBe('better')
    expect(winner.verdictKind).toBe('better')
    expect(winner.verdict).toBe(w.verdict.text)
    expect(winner.srm).toBe('')
    expect(winner.rows).toEqual([expectedRow(w, 'control', 150, 15), expectedRow(w, 'b', 150, 45)])
    expect(winner.comparisons).toEqual([expectedComparison(w, 'b')])
    // 10% against 30% of 150: a chance to beat that floating point rounds to 1, shown capped.
    expect(w.comparisons[0]!.chanceToBeat).toBeGreaterThan(0.999)
    expect(winner.comparisons[0]![3]).toBe('胜过对照的概率 >99.9%')
    expect(winner.verdict).toMatch(/^B 更好：胜过对照的概率 >99\.9%/)
    // Clear enough for the always-valid interval at 300 users too: safe to stop.
    expect(w.stopping.safe).toBe(true)
    expect(winner.stopping).toBe(w.stopping.text)

    const broken = byName.get('分组出错')!
    const b = await results('broken_split')
    expect(b.srm?.flagged).toBe(true)
    expect(broken.verdictKind).toBe('srm')
    expect(broken.verdict).toBe(b.verdict.text)
    expect(b.srm!.expected).toEqual([200, 200])
    expect(broken.srm).toBe(`分组比例异常（卡方检验 p = ${b.srm!.pValue.toPrecision(2)}）：按配置各组应约 200 / 200 人，实际 300 / 100 人。请检查分组和曝光上报，修复前结果不可信。`)
    expect(broken.rows.map((r) => r.slice(0, 3))).toEqual([
      ['对照', '300', '30'],
      ['B', '100', '10'],
    ])
  })
})
