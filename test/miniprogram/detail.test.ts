/**
 * The guide detail page against a real local cloud loaded with tools/seed/guides.json: what the
 * reader sees, the view it counts, sharing, the way home, and each failure state.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { Result } from '../../cloudfunctions/_shared/contract'
import type { GuideBlock, GuideDoc } from '../../cloudfunctions/_shared/models'
import type { ContentOutputs } from '../../cloudfunctions/content/api'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { mountPage, type Mounted } from './harness/mount'
import { callFunction, deadUrl, hangingServer } from './harness/net'
import { nativeAttr, ownerData } from './harness/nodes'

const PAGE = 'packages/guide/detail/index'
const HOME = '/pages/home/index'
const READER = 'dev-detailreader'

/** A guide as tools/seed/guides.json holds it (dates as ISO strings, no view count). */
type SeedGuide = Omit<GuideDoc, 'publishedAt' | 'views'> & { publishedAt: string }

const seed = JSON.parse(readFileSync(path.resolve(__dirname, '../../tools/seed/guides.json'), 'utf8')) as { guides: SeedGuide[] }

/** "2026年9月17日" for the instant's calendar day in Asia/Shanghai, via ICU's time zone data. */
function shanghaiDay(iso: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(new Date(iso))
  const part = (type: string) => parts.find((p) => p.type === type)?.value
  return `${part('year')}年${part('month')}月${part('day')}日`
}

function utcDay(iso: string): string {
  const d = new Date(iso)
  return `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月${d.getUTCDate()}日`
}

// A guide with every kind of block, published early in the morning in Shanghai: its UTC day is
// the day before, so a day computed in the wrong time zone shows.
const guide = seed.guides.find(
  (g) => ['h', 'p', 'tip', 'steps'].every((kind) => g.body.some((block) => block.type === kind)) && shanghaiDay(g.publishedAt) !== utcDay(g.publishedAt),
)
if (!guide) throw new Error('the seed has no guide with every kind of block published before 08:00 in Shanghai')
const other = seed.guides.find((g) => g._id !== guide._id)!

// Longer than waitFor's 5 s, so a wait that fails reports the page text and `finally` blocks still run.
jest.setTimeout(180_000)

let cloud: CloudProcess
beforeAll(async () => {
  cloud = await startCloudProcess()
}, 90_000)
afterAll(() => cloud?.stop())

/** The guide's view count as the content function reports it in its list (which counts nothing). */
async function reportedViews(g: SeedGuide): Promise<number> {
  const result = (await callFunction(cloud.url, 'content', 'list', { category: g.category, limit: 30 }, READER)) as Result<ContentOutputs['list']>
  if (!result.ok) throw new Error(result.error.message)
  const item = result.data.items.find((i) => i.id === g._id)
  if (!item) throw new Error(`${g._id} is not in the list of ${g.category}`)
  return item.views
}

async function open(id: string, stackDepth: number): Promise<Mounted> {
  const m = await mountPage(PAGE, { cloudUrl: cloud.url, query: { id }, stackDepth })
  await m.waitFor(() => m.page.data.status === 'ready', `guide ${id}`)
  return m
}

function textOf(m: Mounted, className: string): string[] {
  return m.find(className).map((el) => el.textContent?.trim() ?? '')
}

/** The body blocks as rendered, in document order, read back into the seed's shape. */
function renderedBody(m: Mounted): { blocks: GuideBlock[]; stepNumbers: string[][] } {
  const kinds = ['h', 'p', 'tip', 'steps'] as const
  const kindOf = new Map<Element, (typeof kinds)[number]>(kinds.flatMap((kind) => m.find(`b-${kind}`).map((el) => [el, kind] as const)))
  const blocks: GuideBlock[] = []
  const stepNumbers: string[][] = []
  for (const el of m.comp.dom.querySelectorAll('*')) {
    const kind = kindOf.get(el)
    if (!kind) continue
    if (kind !== 'steps') {
      blocks.push({ type: kind, text: el.textContent?.trim() ?? '' })
      continue
    }
    const steps = [...el.children]
    const part = (step: Element, name: string) => [...step.children].find((c) => [...c.classList].some((cls) => cls.endsWith(`--${name}`)))?.textContent?.trim() ?? ''
    blocks.push({ type: 'steps', items: steps.map((step) => part(step, 'b-step__text')) })
    stepNumbers.push(steps.map((step) => part(step, 'b-step__n')))
  }
  return { blocks, stepNumbers }
}

function button(m: Mounted, label: string): Element {
  const el = m.find('t-button').find((b) => b.textContent?.trim() === label)
  if (!el) throw new Error(`no button "${label}"; page text: ${m.text()}`)
  return el
}

test('shows a skeleton, then the guide: title, meta, tags, summary and every block in order', async () => {
  const m = await mountPage(PAGE, { cloudUrl: cloud.url, query: { id: guide._id }, stackDepth: 2 })
  expect(m.page.data.status).toBe('loading')
  expect(m.find('skeleton__row').length).toBeGreaterThan(0)
  expect(m.text()).not.toContain(guide.title)

  await m.waitFor(() => m.page.data.status === 'ready', 'the guide')
  const views = await reportedViews(guide)
  expect(m.find('skeleton__row')).toHaveLength(0)
  expect(textOf(m, 'guide__title')).toEqual([guide.title])
  expect(textOf(m, 'guide__meta')).toEqual([`${guide.readMinutes} 分钟读完 · ${views} 阅读 · ${shanghaiDay(guide.publishedAt)}`])
  expect(textOf(m, 'tag__text')).toEqual(guide.tags)
  expect(textOf(m, 'guide__summary')).toEqual([guide.summary])

  const { blocks, stepNumbers } = renderedBody(m)
  expect(blocks).toEqual(guide.body)
  const stepLists = guide.body.filter((b): b is Extract<GuideBlock, { type: 'steps' }> => b.type === 'steps')
  expect(stepNumbers).toEqual(stepLists.map((b) => b.items.map((_, i) => String(i + 1))))
  expect(m.page.data.guide).toMatchObject({ id: guide._id, title: guide.title, body: guide.body, views })
  // The heading is on the page: the navigation bar keeps the app's name instead of repeating it, cut short.
  expect(m.fake.log.titles).toEqual([])
})

test('opening the page counts exactly one view', async () => {
  const before = await reportedViews(guide)
  const m = await open(guide._id, 2)
  // Time for a second, duplicate call to land if the page made one.
  await new Promise((resolve) => setTimeout(resolve, 150))
  expect(await reportedViews(guide)).toBe(before + 1)
  expect(m.fake.log.requests.filter((r) => r.url.endsWith('/functions/content'))).toHaveLength(1)
})

test('sharing: both share menus, the chat card and Moments point back at this guide, a share button', async () => {
  const m = await open(guide._id, 2)
  expect(m.fake.log.shareMenus).toHaveLength(1)
  const { menus } = m.fake.log.shareMenus[0] as { menus: string[] }
  expect([...menus].sort()).toEqual(['shareAppMessage', 'shareTimeline'])

  expect(m.page.onShareAppMessage()).toEqual({ title: guide.title, path: `/packages/guide/detail/index?id=${guide._id}` })
  const timeline = m.page.onShareTimeline() as { title: string; query: string }
  expect(timeline.title).toContain(guide.title)
  expect(timeline.query).toBe(`id=${guide._id}`)

  const share = button(m, '分享给朋友')
  expect(ownerData(share).openType).toBe('share')
  // What the platform reads: the native <button> inside the t-button.
  expect(nativeAttr(share, 'openType')).toBe('share')
})

test('opened directly (share card, search), it offers "更多实用指南", which goes home', async () => {
  const m = await open(other._id, 1)
  expect(textOf(m, 'guide__title')).toEqual([other.title])
  await m.tap(button(m, '更多实用指南'))
  expect(m.fake.log.reLaunch).toEqual([HOME])
})

test('opened from the list, it does not offer the way home', async () => {
  const m = await open(other._id, 2)
  expect(m.text()).toContain('分享给朋友')
  expect(m.text()).not.toContain('更多实用指南')
})

test('a guide that does not exist: the missing state, and "看看其他指南" goes home', async () => {
  const m = await mountPage(PAGE, { cloudUrl: cloud.url, query: { id: 'no-such-guide' }, stackDepth: 1 })
  await m.waitFor(() => m.page.data.status === 'missing', 'the missing state')
  expect(m.fake.log.requests).toHaveLength(1)
  expect(m.text()).toContain('这篇指南不存在或已下线')
  expect(m.fake.log.titles).toEqual([])
  await m.tap(button(m, '看看其他指南'))
  expect(m.fake.log.reLaunch).toEqual([HOME])
})

test.each([
  ['an existing id in capitals', guide._id.toUpperCase()],
  ['an operator', '{"$ne":null}'],
  ['no id', ''],
  ['a path', `../${guide._id}`],
])('%s is treated as missing without a request', async (_what, id) => {
  const m = await mountPage(PAGE, { cloudUrl: cloud.url, query: { id }, stackDepth: 1 })
  await m.waitFor(() => m.page.data.status === 'missing', 'the missing state')
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(m.fake.log.requests).toEqual([])
  expect(m.text()).toContain('这篇指南不存在或已下线')
  expect(m.text()).toContain('看看其他指南')
})

test('network failure: the network message, and a retry that works once the cloud is reachable', async () => {
  const m = await mountPage(PAGE, { cloudUrl: await deadUrl(), query: { id: guide._id }, stackDepth: 2 })
  await m.waitFor(() => m.page.data.status === 'error', 'the error state')
  expect(m.text()).toContain('网络不太给力，请检查网络后重试')
  expect(m.text()).not.toContain(guide.title)

  m.cloud.configureCloud({ localCloudUrl: cloud.url })
  await m.tap(button(m, '重新加载'))
  await m.waitFor(() => m.page.data.status === 'ready', 'the guide after the retry')
  expect(textOf(m, 'guide__title')).toEqual([guide.title])
  expect(m.fake.log.titles).toEqual([])
})

test('timeout: the timeout message, after a single attempt (a view-counting read is not repeated)', async () => {
  const server = await hangingServer()
  try {
    const m = await mountPage(PAGE, { cloudUrl: server.url, timeoutMs: 300, query: { id: guide._id }, stackDepth: 2 })
    await m.waitFor(() => m.page.data.status === 'error', 'the error state')
    expect(m.text()).toContain('请求超时了，请稍后重试')
    expect(m.fake.log.requests).toHaveLength(1)
    expect(m.text()).toContain('重新加载')
  } finally {
    await server.close()
  }
})
