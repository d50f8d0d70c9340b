/**
 * The home page end to end: rendered with the real compiler and TDesign, talking over HTTP to a
 * real local cloud that runs the real `content` function on the demo data. Expected content is
 * derived from tools/seed/guides.json (order, titles, tags) and from the function itself (views).
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import path from 'node:path'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { type Mounted, mountPage, type MountOptions } from './harness/mount'
import { adminRequest, callFunction, deadUrl, hangingServer } from './harness/net'
import { ownerData } from './harness/nodes'
import { createWx } from './harness/wx'

interface SeedGuide {
  _id: string
  title: string
  category: string
  tags: string[]
  readMinutes: number
  publishedAt: string
}
interface SeedCategory {
  _id: string
  name: string
  order: number
}

const seed = JSON.parse(readFileSync(path.resolve(__dirname, '../../tools/seed/guides.json'), 'utf8')) as {
  categories: SeedCategory[]
  guides: SeedGuide[]
}

/** Newest `publishedAt` first, ties by `_id` descending. */
function expectedGuides(category?: string): SeedGuide[] {
  return seed.guides
    .filter((g) => category === undefined || g.category === category)
    .sort((a, b) => Date.parse(b.publishedAt) - Date.parse(a.publishedAt) || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0))
}

const READER = 'test-reader'
const PAGE_KEY = 'cache:guides:all'
const CATEGORIES_KEY = 'cache:categories'
const OPENID_KEY = 'local-cloud:openid'

let cloud: CloudProcess
/** Categories a test added to the shared cloud (so later tab expectations stay right). */
const addedCategories: SeedCategory[] = []
// Longer than jest's 5 s, as the other page tests: a mount and its first cloud calls take longer than
// that on a loaded 2-core machine, and a wait that fails reports the page text and runs the cleanup.
jest.setTimeout(180_000)

const mounted: Mounted[] = []

beforeAll(async () => {
  cloud = await startCloudProcess()
}, 90_000)
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount()
})
afterAll(() => cloud?.stop())

async function mount(options: Partial<MountOptions> = {}): Promise<Mounted> {
  const m = await mountPage('pages/home/index', { cloudUrl: cloud.url, ...options })
  mounted.push(m)
  return m
}

/** Views as the function reports them now (they change: detail counts one, tests bump them). */
async function viewsById(): Promise<Map<string, number>> {
  const result = await callFunction(cloud.url, 'content', 'list', { limit: 30 }, READER)
  expect(result.ok).toBe(true)
  expect(result.data.nextCursor).toBeNull()
  return new Map((result.data.items as { id: string; views: number }[]).map((g) => [g.id, g.views]))
}

interface ShownCard {
  id: string | null
  title: string
  tags: string[]
  stat: string
}

function expectedCards(guides: SeedGuide[], views: Map<string, number>): ShownCard[] {
  return guides.map((g) => {
    const count = views.get(g._id)
    if (count === undefined || count >= 10000) throw new Error(`unexpected views for ${g._id}: ${String(count)}`)
    // Every seed guide is a one-minute read: the card shows what tells guides apart, the tags and the read count.
    return { id: g._id, title: g.title, tags: g.tags, stat: `${count} 阅读` }
  })
}

const hasClass = (el: Element, name: string) => [...el.classList].some((c) => c === name || c.endsWith(`--${name}`))
const inside = (el: Element, name: string) => [...el.querySelectorAll('*')].filter((e) => hasClass(e, name))
const textOf = (el: Element | undefined) => el?.textContent?.replace(/\s+/g, ' ').trim() ?? ''

function shownCards(m: Mounted): ShownCard[] {
  return m
    .find('card')
    .filter((el) => !hasClass(el, 'card--skeleton'))
    .map((el) => ({
      id: el.getAttribute('data-id'),
      title: textOf(inside(el, 'card__title')[0]),
      tags: inside(el, 'card__tag').map(textOf),
      stat: textOf(inside(el, 'card__stat')[0]),
    }))
}

const tabNames = (m: Mounted) => m.find('t-tabs__item').map(textOf)
const listRequests = (m: Mounted, url = cloud.url) =>
  m.fake.log.requests.filter((r) => r.url === `${url}/functions/content` && (r.data as { action?: string }).action === 'list')
const categoryRequests = (m: Mounted, url = cloud.url) =>
  m.fake.log.requests.filter((r) => r.url === `${url}/functions/content` && (r.data as { action?: string }).action === 'categories')

async function firstVisit(): Promise<Mounted> {
  const m = await mount()
  await m.waitFor(() => m.page.data.status === 'ready' && tabNames(m).length > 1, 'first page and tabs')
  return m
}

/** A proxy to `target` that holds every request until released: what the page shows meanwhile is observable. */
async function gate(target: string): Promise<{ url: string; held(): number; answered(): number; release(): void; close(): Promise<void> }> {
  let open = false
  let answered = 0
  const waiting: (() => void)[] = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    res.on('finish', () => answered++)
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const forward = () => {
        const upstream = http.request(`${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers)
          reply.pipe(res)
        })
        upstream.on('error', () => res.destroy())
        upstream.end(Buffer.concat(chunks))
      }
      if (open) forward()
      else waiting.push(forward)
    })
  })
  server.on('connection', (socket) => sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    held: () => waiting.length,
    answered: () => answered,
    release() {
      open = true
      for (const forward of waiting.splice(0)) forward()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('first visit', () => {
  test('shows the skeleton while the first page loads, then the tagline and the 10 newest guides with tags and views', async () => {
    const held = await gate(cloud.url)
    try {
      const m = await mount({ cloudUrl: held.url })
      await m.waitFor(() => held.held() === 2, 'the categories and list requests to arrive')
      expect(m.page.data.status).toBe('loading')
      expect(m.find('card--skeleton')).toHaveLength(4)
      expect(m.find('skeleton__row').length).toBeGreaterThan(0)
      expect(shownCards(m)).toEqual([])

      held.release()
      await m.waitFor(() => m.page.data.status === 'ready', 'first page')
      const views = await viewsById()
      expect(m.text()).toContain('每天 3 分钟，学一个马上用得上的生活技巧')
      expect(m.find('card--skeleton')).toHaveLength(0)
      expect(shownCards(m)).toEqual(expectedCards(expectedGuides().slice(0, 10), views))
      expect(m.text()).not.toContain('没有更多了')
    } finally {
      await held.close()
    }
  })

  test('the tab bar: a lone 全部 at the start while the categories load, then evenly spread tabs whose underline is placed again over them', async () => {
    const held = await gate(cloud.url)
    try {
      const m = await mount({ cloudUrl: held.url })
      await m.waitFor(() => held.held() === 2, 'the categories and list requests to arrive')
      const bar = () => ownerData(m.find('t-tabs__item')[0]!)
      expect(tabNames(m)).toEqual(['全部'])
      expect(bar().spaceEvenly).toBe(false)
      // t-tabs places its underline when it attaches and when a tab goes away, not when one is added.
      const tabs = m.page.selectComponent('#tabs') as { setTrack(): unknown }
      const placedOver: number[] = []
      const setTrack = tabs.setTrack
      tabs.setTrack = function (this: unknown) {
        placedOver.push(m.find('t-tabs__item').length)
        return setTrack.call(this)
      }
      held.release()
      const all = 1 + seed.categories.length + addedCategories.length
      await m.waitFor(() => tabNames(m).length === all && placedOver.includes(all), 'the underline placed over every tab')
      expect(bar().spaceEvenly).toBe(true)
    } finally {
      await held.close()
    }
  })

  test('category tabs: 全部 then the categories in their order; a tab shows only its guides', async () => {
    const m = await firstVisit()
    const categories = [...seed.categories, ...addedCategories].sort((a, b) => a.order - b.order)
    expect(tabNames(m)).toEqual(['全部', ...categories.map((c) => c.name)])
    expect(hasClass(m.find('t-tabs__item')[0]!, 't-tabs__item--active')).toBe(true)

    const index = categories.findIndex((c) => c._id === 'health') + 1
    await m.tap(m.find('t-tabs__item')[index]!)
    await m.waitFor(() => m.page.data.active === 'health' && m.page.data.status === 'ready', 'the 健康 tab')
    expect(hasClass(m.find('t-tabs__item')[index]!, 't-tabs__item--active')).toBe(true)
    expect(shownCards(m)).toEqual(expectedCards(expectedGuides('health'), await viewsById()))
    expect(listRequests(m).at(-1)?.data).toEqual({ action: 'list', data: { limit: 10, category: 'health' } })
    expect(m.text()).toContain('没有更多了')

    await m.tap(m.find('t-tabs__item')[0]!)
    await m.waitFor(() => m.page.data.active === 'all' && m.page.data.status === 'ready', 'back to 全部')
    expect(shownCards(m).map((c) => c.id)).toEqual(expectedGuides().slice(0, 10).map((g) => g._id))
  })

  test('the page calls the real content function through the gateway, with an openid, and shows what it returns', async () => {
    const m = await firstVisit()
    const [request] = listRequests(m)
    expect(listRequests(m)).toHaveLength(1)
    expect(request!.url).toBe(`${cloud.url}/functions/content`)
    expect(request!.data).toEqual({ action: 'list', data: { limit: 10 } })
    const openid = request!.header['x-wx-openid']
    expect(openid).toMatch(/^dev-[a-z0-9]{12}$/)
    expect(m.fake.storage.get(OPENID_KEY)).toBe(openid)
    expect(categoryRequests(m)[0]!.header['x-wx-openid']).toBe(openid)

    const result = await callFunction(cloud.url, 'content', 'list', { limit: 10 }, openid!)
    expect(result.ok).toBe(true)
    const shown = (m.page.data.items as Record<string, unknown>[]).map(({ viewsText: _, ...guide }) => guide)
    expect(shown).toEqual(result.data.items)
    expect(shownCards(m).map((c) => c.title)).toEqual((result.data.items as { title: string }[]).map((g) => g.title))
  })
})

describe('paging', () => {
  test('load more appends the next pages in order, without duplicates, until 没有更多了', async () => {
    const m = await firstVisit()
    const all = expectedGuides()
    const views = await viewsById()

    m.page.onReachBottom()
    m.page.onReachBottom() // a second scroll event while the page loads must not load it twice
    expect(m.find('t-loading').length).toBeGreaterThan(0)
    await m.waitFor(() => shownCards(m).length === 20 && m.page.data.more === 'idle', 'second page')
    expect(listRequests(m)).toHaveLength(2)
    expect(shownCards(m)).toEqual(expectedCards(all.slice(0, 20), views))
    expect(m.text()).not.toContain('没有更多了')

    m.page.onReachBottom()
    await m.waitFor(() => m.page.data.more === 'done', 'last page')
    const ids = shownCards(m).map((c) => c.id)
    expect(ids).toEqual(all.map((g) => g._id))
    expect(new Set(ids).size).toBe(seed.guides.length)
    expect(m.text()).toContain('没有更多了')

    m.page.onReachBottom()
    await sleep(50)
    expect(listRequests(m)).toHaveLength(3)
    expect(shownCards(m)).toHaveLength(seed.guides.length)
  })

  test('a refresh while the next page loads drops that page instead of leaving a gap', async () => {
    const m = await firstVisit()
    const all = expectedGuides().map((g) => g._id)
    m.page.onReachBottom()
    await m.waitFor(() => shownCards(m).length === 20 && m.page.data.more === 'idle', 'second page')
    const held = await gate(cloud.url)
    try {
      m.cloud.configureCloud({ localCloudUrl: held.url })
      m.page.onReachBottom()
      await m.waitFor(() => held.held() === 1, 'the third page request')
      m.cloud.configureCloud({ localCloudUrl: cloud.url })
      m.page.onPullDownRefresh()
      await m.waitFor(() => m.fake.log.stopPullDownRefresh === 1, 'refresh')
      expect(shownCards(m).map((c) => c.id)).toEqual(all.slice(0, 10))

      held.release()
      await m.waitFor(() => held.answered() === 1, 'the late third page')
      await sleep(50)
      expect(shownCards(m).map((c) => c.id)).toEqual(all.slice(0, 10))
      expect(m.text()).not.toContain('没有更多了')

      m.page.onReachBottom()
      await m.waitFor(() => shownCards(m).length === 20 && m.page.data.more === 'idle', 'second page again')
      m.page.onReachBottom()
      await m.waitFor(() => m.page.data.more === 'done', 'last page')
      expect(shownCards(m).map((c) => c.id)).toEqual(all)
    } finally {
      await held.close()
    }
  })

  test('a load-more failure shows 加载失败，点此重试 and tapping it loads the page', async () => {
    const m = await firstVisit()
    m.cloud.configureCloud({ localCloudUrl: await deadUrl() })
    m.page.onReachBottom()
    await m.waitFor(() => m.page.data.more === 'error', 'load-more failure')
    expect(m.text()).toContain('加载失败，点此重试')
    expect(shownCards(m)).toHaveLength(10)

    m.cloud.configureCloud({ localCloudUrl: cloud.url })
    await m.tap(m.find('more__retry')[0]!)
    await m.waitFor(() => shownCards(m).length === 20, 'second page after retry')
    expect(shownCards(m)).toEqual(expectedCards(expectedGuides().slice(0, 20), await viewsById()))
    expect(m.text()).not.toContain('加载失败')
  })
})

describe('refresh and navigation', () => {
  test('pull-to-refresh fetches again (past a fresh cache), keeps the list meanwhile and stops the spinner', async () => {
    const m = await firstVisit()
    const top = expectedGuides()[0]!._id
    const before = await viewsById()
    const counted = await callFunction(cloud.url, 'content', 'detail', { id: top }, READER)
    expect(counted.data.views).toBe(before.get(top)! + 1)
    const lists = listRequests(m).length
    const categories = categoryRequests(m).length

    m.page.onPullDownRefresh()
    expect(m.page.data.status).toBe('ready')
    expect(shownCards(m)).toHaveLength(10)
    await m.waitFor(() => m.fake.log.stopPullDownRefresh === 1, 'stopPullDownRefresh')
    expect(listRequests(m)).toHaveLength(lists + 1)
    expect(categoryRequests(m)).toHaveLength(categories + 1)
    expect(shownCards(m)).toEqual(expectedCards(expectedGuides().slice(0, 10), await viewsById()))
    expect(shownCards(m)[0]!.stat).toContain(`${before.get(top)! + 1} 阅读`)
  })

  test('pull-to-refresh while offline keeps the list, says why and still stops the spinner', async () => {
    const m = await firstVisit()
    m.cloud.configureCloud({ localCloudUrl: await deadUrl() })
    m.page.onPullDownRefresh()
    await m.waitFor(() => m.fake.log.stopPullDownRefresh === 1, 'stopPullDownRefresh')
    expect(m.fake.log.toasts).toEqual([{ title: '网络不太给力，请检查网络后重试', icon: 'none' }])
    expect(m.page.data.status).toBe('ready')
    expect(shownCards(m).map((c) => c.id)).toEqual(expectedGuides().slice(0, 10).map((g) => g._id))
  })

  test('tapping a card opens the guide; tapping 我的 opens the me page', async () => {
    const m = await firstVisit()
    const third = expectedGuides()[2]!
    await m.tap(inside(m.find('card')[2]!, 'card__title')[0]!)
    expect(m.fake.log.navigateTo).toEqual([`/packages/guide/detail/index?id=${third._id}`])

    const me = m.find('hero__me')[0]!
    expect(textOf(me)).toBe('我的')
    await m.tap(me)
    expect(m.fake.log.navigateTo).toEqual([`/packages/guide/detail/index?id=${third._id}`, '/packages/me/index'])
  })
})

describe('empty and error states', () => {
  test('a category with no guides shows the empty state', async () => {
    const shelf: SeedCategory = { _id: 'empty-shelf', name: '空空如也', order: 99 }
    const reply = await adminRequest(cloud.url, {
      action: 'database.insertDocument',
      collectionName: 'categories',
      data: [JSON.stringify(shelf)],
    })
    expect(reply.body.data.insertedIds).toEqual([shelf._id])
    addedCategories.push(shelf)

    const m = await firstVisit()
    expect(tabNames(m).at(-1)).toBe(shelf.name)
    await m.tap(m.find('t-tabs__item').at(-1)!)
    await m.waitFor(() => m.page.data.active === shelf._id && m.page.data.status === 'empty', 'the empty tab')
    expect(m.text()).toContain('这个分类还没有内容')
    expect(shownCards(m)).toEqual([])
    expect(m.find('card--skeleton')).toHaveLength(0)
    expect(m.text()).not.toContain('没有更多了')
  })

  test('a network failure shows the message and a retry button; retrying after the network is back shows the list and the tabs', async () => {
    const m = await mount({ cloudUrl: await deadUrl() })
    await m.waitFor(() => m.page.data.status === 'error', 'error state')
    expect(m.text()).toContain('网络不太给力，请检查网络后重试')
    const button = m.find('t-button')[0]!
    expect(textOf(button)).toBe('重新加载')
    expect(shownCards(m)).toEqual([])
    expect(m.find('card--skeleton')).toHaveLength(0)
    expect(tabNames(m)).toEqual(['全部'])

    m.cloud.configureCloud({ localCloudUrl: cloud.url })
    await m.tap(inside(button, 't-button__content')[0]!)
    await m.waitFor(() => m.page.data.status === 'ready', 'list after retry')
    expect(shownCards(m)).toEqual(expectedCards(expectedGuides().slice(0, 10), await viewsById()))
    expect(m.text()).not.toContain('网络不太给力')
    await m.waitFor(() => tabNames(m).length === 1 + seed.categories.length + addedCategories.length, 'tabs after retry')
  })

  test('a cloud that never answers shows the timeout message after the retries', async () => {
    const server = await hangingServer()
    try {
      const m = await mount({ cloudUrl: server.url, timeoutMs: 100 })
      await m.waitFor(() => m.page.data.status === 'error', 'timeout error')
      expect(m.text()).toContain('请求超时了，请稍后重试')
      expect(listRequests(m, server.url)).toHaveLength(3) // one attempt and two retries
      expect(textOf(m.find('t-button')[0])).toBe('重新加载')
    } finally {
      await server.close()
    }
  })
})

describe('cache', () => {
  test('a repeat visit renders at once from storage, makes no request while the cache is fresh and shows no error offline', async () => {
    const first = await firstVisit()
    const expected = shownCards(first)
    const tabs = tabNames(first)
    const requests = first.fake.log.requests.length

    const m = await mount({ fake: first.fake, cloudUrl: await deadUrl() })
    await m.waitFor(() => m.page.data.status === 'ready', 'list from cache')
    expect(shownCards(m)).toEqual(expected)
    await m.waitFor(() => tabNames(m).length === tabs.length, 'tabs from cache')
    expect(tabNames(m)).toEqual(tabs)
    await sleep(100)
    expect(m.fake.log.requests).toHaveLength(requests)
    expect(m.page.data.status).toBe('ready')
    expect(m.text()).not.toContain('网络不太给力')
    expect(m.fake.log.toasts).toEqual([])
  })

  test('stale while revalidate: an aged cached list shows first, then the fresh data replaces it', async () => {
    const first = await firstVisit()
    const top = expectedGuides()[0]!
    const old = (await viewsById()).get(top._id)!
    const entry = first.fake.storage.get(PAGE_KEY) as { v: number; t: number; d: unknown }
    first.fake.storage.set(PAGE_KEY, { ...entry, t: Date.now() - 2 * 60_000 })

    const set = (views: number) =>
      adminRequest(cloud.url, {
        action: 'database.modifyDocument',
        collectionName: 'guides',
        query: JSON.stringify({ _id: top._id }),
        data: JSON.stringify({ $set: { views } }),
      })
    expect((await set(12345)).body.data.updated).toBe(1)
    const held = await gate(cloud.url)
    try {
      const m = await mount({ fake: first.fake, cloudUrl: held.url })
      await m.waitFor(() => m.page.data.status === 'ready', 'cached list')
      expect(shownCards(m)[0]).toMatchObject({ id: top._id, stat: `${old} 阅读` })
      await m.waitFor(() => held.held() === 1, 'the background refresh')
      expect(categoryRequests(m, held.url)).toHaveLength(0) // the categories are still fresh

      const releasedAt = Date.now()
      held.release()
      await m.waitFor(() => shownCards(m)[0]?.stat === '1.2万 阅读', 'fresh views')
      expect(shownCards(m).map((c) => c.id)).toEqual(expectedGuides().slice(0, 10).map((g) => g._id))
      const saved = m.fake.storage.get(PAGE_KEY) as { v: number; t: number; d: { items: { id: string; views: number }[] } }
      expect(saved.d.items[0]).toMatchObject({ id: top._id, views: 12345 })
      expect(saved.t).toBeGreaterThanOrEqual(releasedAt)
    } finally {
      await held.close()
      await set(old)
    }
  })

  const BAD = '坏掉的缓存'
  const badItem = { id: 'bad', title: BAD, summary: BAD, category: 'home', tags: [BAD], readMinutes: 1, views: 1, publishedAt: '2026-01-01T00:00:00.000Z' }
  test.each([
    ['the wrong shape', { v: 1, t: Date.now(), d: { list: [badItem], next: null } }],
    ['the wrong version', { v: 0, t: Date.now(), d: { items: [badItem], nextCursor: null } }],
    ['a string', `{"v":1,"d":"${BAD}"}`],
    ['no saved-at time', { v: 1, d: { items: [badItem], nextCursor: null } }],
    ['items missing fields the cards render', { v: 1, t: Date.now(), d: { items: [{ id: 'bad', title: BAD, tags: [] }], nextCursor: null } }],
  ])('a cached first page with %s is discarded, never rendered, and replaced by a valid entry', async (_what, cached) => {
    const held = await gate(cloud.url)
    try {
      const fake = createWx()
      fake.storage.set(PAGE_KEY, cached)
      fake.storage.set(CATEGORIES_KEY, { v: 1, t: Date.now(), d: [{ id: 7, name: BAD }] })
      const m = await mount({ fake, cloudUrl: held.url })
      await m.waitFor(() => held.held() === 2, 'the list and categories requests')
      expect(m.page.data.status).toBe('loading')
      expect(m.find('card--skeleton')).toHaveLength(4)
      expect(m.text()).not.toContain(BAD)

      held.release()
      await m.waitFor(() => m.page.data.status === 'ready' && tabNames(m).length > 1, 'list and tabs from the cloud')
      expect(m.text()).not.toContain(BAD)
      expect(shownCards(m).map((c) => c.id)).toEqual(expectedGuides().slice(0, 10).map((g) => g._id))
      const saved = fake.storage.get(PAGE_KEY) as { v: number; t: number; d: { items: { id: string }[]; nextCursor: string | null } }
      expect(saved.v).toBe(1)
      expect(typeof saved.t).toBe('number')
      expect(saved.d.items.map((g) => g.id)).toEqual(expectedGuides().slice(0, 10).map((g) => g._id))
      expect(typeof saved.d.nextCursor).toBe('string')
      const categories = fake.storage.get(CATEGORIES_KEY) as { v: number; d: { id: string; name: string }[] }
      expect(categories.d.map((c) => c.name)).toEqual(tabNames(m).slice(1))
    } finally {
      await held.close()
    }
  })
})
