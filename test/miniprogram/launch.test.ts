/**
 * The launch's cost, with the app's real launch (tools/miniprogram/simulate/launch.ts, as app.ts)
 * and the real home page against a real local cloud: a cold launch makes one call before its first
 * render (user.bootstrap), a warm launch with fresh caches none, a stale one renders from storage and
 * refreshes with that one call; and the page renders lean: no skeleton when something is cached, no
 * setData for a refresh that changed nothing, only the appended cards on load more.
 */
import { launchHome, type Launched } from './harness/launch'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { startProxy, until } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(30_000)

let cloud: CloudProcess
const open: Launched[] = []
beforeAll(async () => {
  cloud = await startCloudProcess()
}, 30_000)
afterEach(() => {
  for (const l of open.splice(0)) {
    l.tracker.stopTracker()
    l.unmount()
  }
})
afterAll(() => cloud?.stop())

let devices = 0
function device(): FakeWx {
  const fake = createWx()
  fake.storage.set('local-cloud:openid', `dev-launch${String(++devices).padStart(6, '0')}`)
  fake.privacy = { needAuthorization: false, held: false }
  return fake
}

async function launch(fake: FakeWx, url = cloud.url): Promise<Launched> {
  const l = await launchHome(url, fake, { experiments: true })
  open.push(l)
  return l
}

const actions = (fake: FakeWx, from = 0) => fake.log.requests.slice(from).map((r) => `${r.url.split('/').pop()}.${(r.data as { action?: string }).action}`)
const ready = (l: Launched) => l.waitFor(() => l.page.data.status === 'ready', 'the guides')

/** Every setData the home page (only) makes from now on: the keys it sends. */
function homeSetData(l: Launched): string[][] {
  const calls: string[][] = []
  const setData = l.page.setData.bind(l.page) as (data: Record<string, unknown>, cb?: () => void) => void
  ;(l.page as { setData: unknown }).setData = (data: Record<string, unknown>, cb?: () => void) => {
    calls.push(Object.keys(data))
    setData(data, cb)
  }
  return calls
}

/** The device after a launch: the guide dismissed (as a returning user has it), the caches aged by `ms`. */
function returning(fake: FakeWx, agedMs = 0): void {
  fake.storage.set('onboarding', { status: 'skipped', step: 'tabs', synced: true })
  for (const [key, value] of fake.storage) {
    if (key.startsWith('cache:')) fake.storage.set(key, { ...(value as { t: number }), t: (value as { t: number }).t - agedMs })
  }
}

test('cold: one call before the first render (user.bootstrap), then the tracker\'s batch; nothing else', async () => {
  const fake = device()
  const l = await launch(fake)
  await ready(l)
  expect(actions(fake)).toEqual(['user.bootstrap'])
  expect(l.page.data.tabs.length).toBeGreaterThan(1)
  expect(l.page.data.items).toHaveLength(10)
  await until(() => fake.storage.has('cache:experiments') && fake.storage.has('cache:categories'), 'the caches')
  await l.tracker.flush()
  expect(actions(fake)).toEqual(['user.bootstrap', 'track.ingest'])
})

test('warm with fresh caches: nothing before the first render and no skeleton ever; the tracker\'s batch is the only call', async () => {
  const fake = device()
  const cold = await launch(fake)
  await ready(cold)
  await until(() => fake.storage.has('cache:experiments') && fake.storage.get('session:day') !== undefined, 'the caches')
  cold.tracker.stopTracker()
  cold.unmount()
  open.splice(0)
  returning(fake)

  const before = fake.log.requests.length
  const warm = await launch(fake)
  // From storage, synchronously with the mount: no skeleton, no call.
  expect(warm.page.data.status).toBe('ready')
  expect(warm.page.data.skeletonShown).toBe(false)
  expect(warm.find('skeleton__row')).toHaveLength(0)
  expect(warm.page.data.items).toHaveLength(10)
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect(actions(fake, before)).toEqual([])
  await warm.tracker.flush()
  expect(actions(fake, before)).toEqual(['track.ingest'])
})

test('warm with stale caches: renders from storage, refreshes with one call, and an identical refresh sends no setData', async () => {
  const proxy = await startProxy(cloud.url, (p) => (p.endsWith('/functions/user') ? 'hold' : 'pass'))
  try {
    const fake = device()
    const cold = await launch(fake)
    await ready(cold)
    await until(() => fake.storage.has('cache:experiments') && fake.storage.has('cache:categories'), 'the caches')
    cold.tracker.stopTracker()
    cold.unmount()
    open.splice(0)
    returning(fake, 7 * 3600_000)

    const before = fake.log.requests.length
    const stale = await launch(fake, proxy.url)
    expect(stale.page.data.status).toBe('ready')
    expect(stale.find('skeleton__row')).toHaveLength(0)
    const calls = homeSetData(stale)
    await until(() => proxy.hits.some((h) => h.body?.action === 'bootstrap' && h.reply !== undefined), 'the refresh, held')
    const savedAt = (fake.storage.get('cache:guides:all') as { t: number }).t
    proxy.release()
    await until(() => (fake.storage.get('cache:guides:all') as { t: number }).t > savedAt, 'the refreshed cache')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(actions(fake, before)).toEqual(['user.bootstrap'])
    // Same guides, same tabs: the page sends nothing for them.
    expect(calls.filter((keys) => keys.includes('items') || keys.includes('tabs'))).toEqual([])
  } finally {
    await proxy.close()
  }
})

test('load more sends only the appended cards, by path, not the whole list again', async () => {
  const fake = device()
  const l = await launch(fake)
  await ready(l)
  const calls = homeSetData(l)
  await l.page.loadMore()
  expect(l.page.data.items).toHaveLength(20)
  const sent = calls.flat()
  expect(sent).not.toContain('items')
  expect(sent.filter((k) => k.startsWith('items['))).toEqual(Array.from({ length: 10 }, (_, i) => `items[${10 + i}]`))
  expect(new Set(l.page.data.items.map((c: { id: string }) => c.id)).size).toBe(20)
})
