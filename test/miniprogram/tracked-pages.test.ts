/**
 * The pages measured by the `trackedPage` behavior (miniprogram/core/tracked-page.ts): the real
 * home, guide, me and admin pages, rendered with the official compiler and TDesign, against a real local
 * cloud, on a device whose user agreed to the privacy terms. What the pages send is checked where
 * it ends up: in the cloud's `events`.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { type CloudProcess, startCloudProcess } from './harness/cloud'
import { attach, loadPage, type Mounted, MP_ROOT, mountPage } from './harness/mount'
import { adminRequest } from './harness/net'
import { type StoredEvent, storedEvents, trackBatches, until } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

type TrackerModule = typeof import('../../miniprogram/core/tracker')
type CloudModule = typeof import('../../miniprogram/core/cloud')

interface SeedGuide {
  _id: string
  category: string
  publishedAt: string
}
const seed = JSON.parse(readFileSync(path.resolve(__dirname, '../../tools/seed/guides.json'), 'utf8')) as { guides: SeedGuide[] }
const GUIDE = seed.guides[0]!

const HOME = 'pages/home/index'
const DETAIL = 'packages/guide/detail/index'
const ME = 'packages/me/index'
const ADMIN = 'packages/admin/index'

jest.setTimeout(180_000)

let cloud: CloudProcess
const mounted: { unmount(): void }[] = []
let tracker: TrackerModule | undefined
/** The device of the current test. */
let currentFake: FakeWx | undefined

beforeAll(async () => {
  cloud = await startCloudProcess()
}, 90_000)
afterEach(() => {
  tracker?.stopTracker()
  tracker = undefined
  for (const m of mounted.splice(0)) m.unmount()
})
afterAll(() => cloud?.stop())

/** A device as app.ts leaves it after an earlier launch: agreed to the privacy terms (or not), its id in storage. */
async function device(agreed = true): Promise<FakeWx> {
  jest.resetModules()
  const fake = createWx()
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const client = require('../../miniprogram/core/cloud') as CloudModule
  client.configureCloud({ mode: 'local', localCloudUrl: cloud.url, retryBaseMs: 1, timeoutMs: 30_000 })
  const earlier = require('../../miniprogram/core/tracker') as TrackerModule
  earlier.initTracker({ flushIntervalMs: 3_600_000 })
  if (agreed) {
    earlier.setConsent(true)
    await earlier.flush()
  }
  earlier.stopTracker()
  return fake
}

/**
 * Opens the first page of a launch (a fresh module registry, as a cold start), then starts the
 * tracker as app.ts's onLaunch does, in the registry the page uses.
 */
async function launch(pagePath: string, fake: FakeWx, query: Record<string, string> = {}, stackDepth = 1): Promise<Mounted> {
  const m = await mountPage(pagePath, { cloudUrl: cloud.url, fake, query, stackDepth })
  currentFake = fake
  mounted.push(m)
  tracker = require(path.join(MP_ROOT, 'core/tracker')) as TrackerModule
  tracker.initTracker({ flushAt: 1000, flushIntervalMs: 3_600_000 })
  return m
}

interface Page {
  comp: any
  page: Record<string, any> & { data: Record<string, any> }
  find(className: string): Element[]
}

/** Navigates to another page in the same launch (same modules: the tracker and the behavior's state carry over). */
function navigate(pagePath: string, query: Record<string, string> = {}): Page {
  setStack(pagePath)
  const simulate = require('miniprogram-simulate') as { render(id: string, props: unknown): any }
  const { id } = loadPage(path.join(MP_ROOT, pagePath))
  const comp = simulate.render(id, query)
  mounted.push({ unmount: attach(comp) })
  const page = comp.instance
  page.onLoad?.call(page, query)
  return { comp, page, find: (name) => findIn(comp.dom as HTMLElement, name) }
}

/** The page stack as getCurrentPages() reports it: `route` on top. */
function setStack(route: string, below = 1): void {
  ;(globalThis as Record<string, unknown>).getCurrentPages = () => [...Array.from({ length: below }, () => ({ route: HOME })), { route }]
}

function findIn(root: HTMLElement, className: string): Element[] {
  return [...root.querySelectorAll('*')].filter((el) => [...el.classList].some((c) => c === className || c.endsWith(`--${className}`)))
}

/** A tap as WeChat delivers it: bubbling through the component tree. */
async function tap(el: Element): Promise<void> {
  const exparser = require('miniprogram-exparser') as { Event: { dispatchEvent(n: unknown, e: unknown): void; create(n: string, d: unknown, o: unknown): unknown } }
  const node = (el as Element & { __wxElement?: unknown }).__wxElement
  if (!node) throw new Error('not a rendered mini-program node')
  exparser.Event.dispatchEvent(node, exparser.Event.create('tap', {}, { bubbles: true, composed: true, capturePhase: true, extraFields: { touches: {}, changedTouches: {} } }))
  await new Promise((resolve) => setTimeout(resolve, 0))
}

/** Sends what is queued, then the device's events as the cloud stored them, in the order the device sent them. */
async function sentEvents(anonymousId: string): Promise<StoredEvent[]> {
  await tracker!.flush()
  await until(() => tracker!.pending().length === 0, 'the events to be acknowledged')
  const docs = new Map((await storedEvents(cloud.url, { anonymousId })).map((d) => [d._id, d]))
  const sent = trackBatches(currentFake!).flat().map((e) => e.id)
  expect(sent.filter((id) => !docs.has(id))).toEqual([])
  return sent.map((id) => docs.get(id)!)
}

/** The page's own events (not the earlier launch's first_launch), as [name, page, props]. */
async function pageEvents(anonymousId: string, ...names: string[]): Promise<[string, string, Record<string, any>][]> {
  return (await sentEvents(anonymousId)).filter((e) => names.includes(e.name)).map((e) => [e.name, e.page, e.props])
}

test('showing a page sends page_view with its route, and the page shown before it as referrer', async () => {
  const home = await launch(HOME, await device())
  const anon = tracker!.anonymousId()
  setStack(HOME, 0)
  home.page.onShow()
  const detail = navigate(DETAIL, { id: GUIDE._id })
  detail.page.onShow()
  // Back: the home page shows again.
  setStack(HOME, 0)
  home.page.onShow()
  expect(await pageEvents(anon, 'page_view')).toEqual([
    ['page_view', HOME, {}],
    ['page_view', DETAIL, { referrer: HOME }],
    ['page_view', HOME, { referrer: DETAIL }],
  ])
})

test('opening a guide sends content_open with its id and category', async () => {
  const detail = await launch(DETAIL, await device(), { id: GUIDE._id })
  const anon = tracker!.anonymousId()
  detail.page.onShow()
  await detail.waitFor(() => detail.page.data.status === 'ready', 'the guide')
  expect(await pageEvents(anon, 'content_open', 'page_view')).toEqual([
    ['page_view', DETAIL, {}],
    ['content_open', DETAIL, { guideId: GUIDE._id, category: GUIDE.category }],
  ])
})

describe('sharing', () => {
  test('home, to a chat: `share` (message, the path) and the path carries sharer=<anonymous id>', async () => {
    const home = await launch(HOME, await device())
    const anon = tracker!.anonymousId()
    home.page.onShow()
    const share = home.page.onShareAppMessage({ from: 'menu' })
    expect(share).toEqual({ title: `实用指南｜${home.page.data.tagline}`, path: `/pages/home/index?sharer=${anon}` })
    expect(await pageEvents(anon, 'share')).toEqual([['share', HOME, { kind: 'message', target: '/pages/home/index' }]])
  })

  test('a guide, to a chat and to Moments: `share` with kind and target; the path and the query carry the sharer', async () => {
    const detail = await launch(DETAIL, await device(), { id: GUIDE._id })
    const anon = tracker!.anonymousId()
    detail.page.onShow()
    await detail.waitFor(() => detail.page.data.status === 'ready', 'the guide')
    const title = detail.page.data.guide.title as string
    expect(detail.page.onShareAppMessage({ from: 'button' })).toEqual({ title, path: `/packages/guide/detail/index?id=${GUIDE._id}&sharer=${anon}` })
    expect(detail.page.onShareTimeline()).toEqual({ title: `${title}｜实用指南`, query: `id=${GUIDE._id}&sharer=${anon}` })
    expect(await pageEvents(anon, 'share')).toEqual([
      ['share', DETAIL, { kind: 'message', target: `/packages/guide/detail/index?id=${GUIDE._id}` }],
      ['share', DETAIL, { kind: 'timeline', target: `/packages/guide/detail/index?id=${GUIDE._id}` }],
    ])
  })

  test('without consent the share path and query are unchanged, and nothing is sent', async () => {
    const fake = await device(false)
    const detail = await launch(DETAIL, fake, { id: GUIDE._id })
    detail.page.onShow()
    await detail.waitFor(() => detail.page.data.status === 'ready', 'the guide')
    expect(detail.page.onShareAppMessage({ from: 'menu' }).path).toBe(`/packages/guide/detail/index?id=${GUIDE._id}`)
    expect(detail.page.onShareTimeline().query).toBe(`id=${GUIDE._id}`)
    await tracker!.flush()
    expect(tracker!.pending()).toEqual([])
    expect(fake.log.requests.filter((r) => r.url.endsWith('/functions/track'))).toEqual([])
  })

  test('consent revoked during the launch: the share path no longer carries the anonymous id', async () => {
    const home = await launch(HOME, await device())
    tracker!.setConsent(false)
    expect(home.page.onShareAppMessage({ from: 'menu' }).path).toBe('/pages/home/index')
  })
})

describe('taps on data-track elements', () => {
  test('home: a card sends element_tap home_card, 我的 sends home_me; a tab change sends nothing', async () => {
    const home = await launch(HOME, await device())
    const anon = tracker!.anonymousId()
    setStack(HOME, 0)
    home.page.onShow()
    await home.waitFor(() => home.page.data.status === 'ready' && home.find('t-tabs__item').length > 1, 'the guides and tabs')
    await home.tap(home.find('card__title')[1]!)
    await home.tap(home.find('hero__me')[0]!)
    await home.tap(home.find('t-tabs__item')[1]!)
    await home.waitFor(() => home.page.data.active !== 'all', 'the tab change')
    expect(home.fake.log.navigateTo).toEqual([expect.stringMatching(/^\/packages\/guide\/detail\/index\?id=/), '/packages/me/index'])
    expect(await pageEvents(anon, 'element_tap')).toEqual([
      ['element_tap', HOME, { element: 'home_card' }],
      ['element_tap', HOME, { element: 'home_me' }],
    ])
  })

  test('me: the entry cell (a TDesign t-cell, its `click`) sends element_tap me_entry', async () => {
    const me = await launch(ME, await device())
    const anon = tracker!.anonymousId()
    me.page.onShow()
    await me.waitFor(() => me.page.data.status === 'ready', 'the profile')
    const entry = me.find('t-cell').find((el) => el.textContent?.includes('浏览全部指南'))!
    await me.tap(entry)
    expect(me.fake.log.reLaunch).toEqual(['/pages/home/index'])
    expect(await pageEvents(anon, 'element_tap')).toEqual([['element_tap', ME, { element: 'me_entry' }]])
  })

  test('the admin dashboard: its page_view, and a range preset sends element_tap admin_range_preset', async () => {
    const fake = await device()
    const openid = fake.storage.get('local-cloud:openid') as string
    const reply = await adminRequest(cloud.url, { action: 'database.insertDocument', collectionName: 'app_config', data: [JSON.stringify({ _id: 'admins', openids: [openid] })] })
    expect(reply.status).toBe(200)
    const admin = await launch(ADMIN, fake)
    const anon = tracker!.anonymousId()
    admin.page.onShow()
    await admin.waitFor(() => admin.page.data.status.overview === 'ready', 'the overview')
    const preset = admin.find('range__preset').find((el) => el.textContent?.trim() === '近7天')!
    await admin.tap(preset)
    expect(await pageEvents(anon, 'page_view', 'element_tap')).toEqual([
      ['page_view', ADMIN, {}],
      ['element_tap', ADMIN, { element: 'admin_range_preset' }],
    ])
  })

  test('a guide opened directly: 更多实用指南 sends element_tap guide_more', async () => {
    const detail = await launch(DETAIL, await device(), { id: GUIDE._id })
    const anon = tracker!.anonymousId()
    detail.page.onShow()
    await detail.waitFor(() => detail.page.data.status === 'ready', 'the guide')
    const more = detail.find('guide__home')[0]!
    await detail.tap(more.querySelector('button, wx-button') ?? more)
    expect(detail.fake.log.reLaunch).toEqual(['/pages/home/index'])
    expect(await pageEvents(anon, 'element_tap')).toEqual([['element_tap', DETAIL, { element: 'guide_more' }]])
  })

  test('an element with nothing else to do on tap (bind:tap="trackTap") sends its element_tap', async () => {
    const home = await launch(HOME, await device())
    const anon = tracker!.anonymousId()
    const { trackedPage } = require(path.join(MP_ROOT, 'core/tracked-page')) as typeof import('../../miniprogram/core/tracked-page')
    const simulate = require('miniprogram-simulate') as { load(d: unknown): string; render(id: string): any }
    const id = simulate.load({
      template: '<view class="banner" data-track="promo_banner" bind:tap="trackTap">春季活动</view>',
      behaviors: [trackedPage],
      methods: {},
    })
    const comp = simulate.render(id)
    mounted.push({ unmount: attach(comp) })
    setStack(HOME, 0)
    home.page.onShow()
    await tap(findIn(comp.dom, 'banner')[0]!)
    expect(await pageEvents(anon, 'element_tap')).toEqual([['element_tap', HOME, { element: 'promo_banner' }]])
  })
})
