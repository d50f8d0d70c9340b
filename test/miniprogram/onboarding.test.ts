/**
 * The onboarding guide end to end: the real home page with TDesign t-guide over it (the guide
 * component of subpackage `onboarding`, which simulate loads at once where WeChat loads it a moment
 * later), launched as App.onLaunch does, talking to a real local cloud (the `user` function keeps
 * the outcome, the `track` function stores the guide's events, `app_config/onboarding` overrides
 * the steps).
 */
import { homeLaunches, type Launched } from './harness/launch'
import { adminRequest } from './harness/net'
import { sleep, storedEvents } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(180_000)

const app = homeLaunches()
const OPENID_KEY = 'local-cloud:openid'
let users = 0

/** A device of a new user (its WeChat identity in the local cloud's storage key). */
function device(): FakeWx {
  const fake = createWx()
  fake.storage.set(OPENID_KEY, `o-guide-${++users}-${Date.now()}`)
  return fake
}

const launch = app.launch
/** Closes the app (the page goes away, the tracker stops) without finishing anything. */
const close = app.close

/** The guide component on the home page, if the page renders it. */
const guide = (l: Launched) => l.$('#onboarding-guide')?.instance
const stepOnScreen = (l: Launched) => (guide(l)?.data.current as number | undefined) ?? -1
const guideSteps = (l: Launched) => guide(l)!.data.steps as { id: string; selector: string }[]
const guideButton = (l: Launched, label: string) =>
  l.find('t-guide__button').find((el) => el.textContent?.includes(label)) ?? null

async function waitForStep(l: Launched, index: number, title: string): Promise<void> {
  await l.waitFor(() => stepOnScreen(l) === index && l.text().includes(title), `guide step ${index} (${title})`)
}

async function press(l: Launched, label: string): Promise<void> {
  await l.waitFor(() => guideButton(l, label) !== null, `the guide's ${label} button`)
  await l.tap(guideButton(l, label)!)
}

async function cloudUser(fake: FakeWx): Promise<{ onboarding?: { status: string; step: string } }> {
  const reply = await adminRequest(app.url(), { action: 'database.getDocument', collectionName: 'users', queryType: 'WHERE', query: JSON.stringify({ _id: fake.storage.get(OPENID_KEY) }), limit: 1 })
  return JSON.parse((reply.body.data.list as string[])[0] ?? '{}')
}

async function guideEvents(l: Launched): Promise<[string, Record<string, unknown>][]> {
  await l.tracker.flush()
  const events = await storedEvents(app.url(), { anonymousId: l.tracker.anonymousId() })
  return events.filter((e) => e.name.startsWith('onboarding_')).map((e) => [e.name, e.props])
}

async function setConfig(steps: unknown): Promise<void> {
  await adminRequest(app.url(), { action: 'database.removeDocument', collectionName: 'app_config', query: JSON.stringify({ _id: 'onboarding' }) })
  if (steps !== undefined) {
    const reply = await adminRequest(app.url(), { action: 'database.insertDocument', collectionName: 'app_config', data: [JSON.stringify({ _id: 'onboarding', steps })] })
    expect(reply.status).toBe(200)
  }
}

test('first launch: the guide points at the tabs, the first guide card and 我的, step by step to the end; events reach the database in order', async () => {
  const fake = device()
  const l = await launch(fake)
  await waitForStep(l, 0, '按分类找指南')
  // t-guide and the guide come from subpackage onboarding (npm run build lays t-guide out there), not the main package.
  expect(l.components).toEqual(expect.arrayContaining(['packages/onboarding/guide/index', 'packages/onboarding/miniprogram_npm/tdesign-miniprogram/guide/guide']))
  expect(l.components).not.toContain('miniprogram_npm/tdesign-miniprogram/guide/guide')
  expect(guideSteps(l).map((s) => [s.id, s.selector])).toEqual([
    ['tabs', '.home__tabs'],
    ['card', '.card'],
    ['me', '.hero__me'],
  ])
  expect(l.text()).toContain('点分类标签，快速找到你关心的生活技巧。')
  expect(guideButton(l, '跳过')).not.toBeNull()
  await press(l, '下一步')
  await waitForStep(l, 1, '点开就能学')
  expect(fake.storage.get('onboarding')).toEqual({ status: 'active', step: 'card', synced: false })
  await press(l, '下一步')
  await waitForStep(l, 2, '我的')
  expect(guideButton(l, '跳过')).toBeNull() // the last step only finishes
  await press(l, '完成')
  await l.waitFor(() => stepOnScreen(l) === -1, 'the guide to close')
  await l.waitFor(() => (fake.storage.get('onboarding') as { synced?: boolean }).synced === true, 'the outcome in the cloud')
  expect(fake.storage.get('onboarding')).toEqual({ status: 'finished', step: 'me', synced: true })
  expect((await cloudUser(fake)).onboarding).toMatchObject({ status: 'finished', step: 'me' })
  expect(await guideEvents(l)).toEqual([
    ['onboarding_step', { step: 'tabs', index: 0 }],
    ['onboarding_step', { step: 'card', index: 1 }],
    ['onboarding_step', { step: 'me', index: 2 }],
    ['onboarding_finish', { steps: 3 }],
  ])

  // Never again on this device.
  close(l)
  const again = await launch(fake)
  await again.waitFor(() => again.page.data.status !== 'loading', 'the guides')
  await sleep(100)
  // Not even rendered: its subpackage is never downloaded again.
  expect(guide(again)).toBeUndefined()
})

test('skip: tracked with its step, kept on the device and in the cloud, never shown again', async () => {
  const fake = device()
  const l = await launch(fake)
  await waitForStep(l, 0, '按分类找指南')
  await press(l, '下一步')
  await waitForStep(l, 1, '点开就能学')
  await press(l, '跳过')
  await l.waitFor(() => stepOnScreen(l) === -1, 'the guide to close')
  await l.waitFor(() => (fake.storage.get('onboarding') as { synced?: boolean }).synced === true, 'the outcome in the cloud')
  expect((await cloudUser(fake)).onboarding).toMatchObject({ status: 'skipped', step: 'card' })
  expect(await guideEvents(l)).toEqual([
    ['onboarding_step', { step: 'tabs', index: 0 }],
    ['onboarding_step', { step: 'card', index: 1 }],
    ['onboarding_skip', { step: 'card', index: 1 }],
  ])
  close(l)
  const again = await launch(fake)
  await again.waitFor(() => again.page.data.status !== 'loading', 'the guides')
  await sleep(100)
  expect(stepOnScreen(again)).toBe(-1)
})

test('closed mid-way: the next launch resumes at that step', async () => {
  const fake = device()
  const l = await launch(fake)
  await waitForStep(l, 0, '按分类找指南')
  await press(l, '下一步')
  await waitForStep(l, 1, '点开就能学')
  close(l)
  const again = await launch(fake)
  await waitForStep(again, 1, '点开就能学')
  await press(again, '下一步')
  await waitForStep(again, 2, '我的')
  await press(again, '完成')
  await again.waitFor(() => (fake.storage.get('onboarding') as { status?: string }).status === 'finished', 'the finish')
})

test('a reinstall (storage cleared, same WeChat user) does not replay a guide the cloud says was finished', async () => {
  const fake = device()
  const l = await launch(fake)
  await waitForStep(l, 0, '按分类找指南')
  await press(l, '跳过')
  await l.waitFor(() => (fake.storage.get('onboarding') as { synced?: boolean }).synced === true, 'the outcome in the cloud')
  close(l)

  const openid = fake.storage.get(OPENID_KEY)
  fake.storage.clear()
  fake.storage.set(OPENID_KEY, openid)
  const again = await launch(fake)
  await again.waitFor(() => fake.storage.has('onboarding'), 'the outcome from the cloud')
  expect(fake.storage.get('onboarding')).toEqual({ status: 'skipped', step: 'tabs', synced: true })
  await sleep(100)
  expect(stepOnScreen(again)).toBe(-1)
})

test('the guide arriving after the page has its content (its subpackage loaded late) starts then, once', async () => {
  const fake = device()
  const l = await launch(fake)
  // As on a device before the subpackage is there: the page renders without the guide (the placeholder is a plain view).
  l.page.setData({ onboarding: false })
  await l.waitFor(() => l.page.data.status !== 'loading', 'the guides')
  await sleep(100)
  expect(fake.storage.has('onboarding')).toBe(false)
  l.page.setData({ onboarding: true })
  await waitForStep(l, 0, '按分类找指南')
  await press(l, '跳过')
  await l.waitFor(() => (fake.storage.get('onboarding') as { synced?: boolean }).synced === true, 'the outcome in the cloud')
  expect(await guideEvents(l)).toEqual([
    ['onboarding_step', { step: 'tabs', index: 0 }],
    ['onboarding_skip', { step: 'tabs', index: 0 }],
  ])
})

test('the guide waits for the privacy popup: no two overlays at once', async () => {
  const fake = device()
  fake.privacy.needAuthorization = true
  const l = await launch(fake)
  await l.waitFor(() => l.popup().data.visible, 'the privacy popup')
  await l.waitFor(() => l.page.data.status !== 'loading', 'the guides')
  await sleep(100)
  expect(stepOnScreen(l)).toBe(-1)
  fake.privacy.needAuthorization = false
  l.fire(l.find('privacy__button--agree')[0]!, 'agreeprivacyauthorization')
  await waitForStep(l, 0, '按分类找指南')
  expect(l.popup().data.visible).toBe(false)
  // Agreed before the first step: its view is tracked.
  expect(await guideEvents(l)).toEqual([['onboarding_step', { step: 'tabs', index: 0 }]])
})

test('declined privacy: the guide still runs, and nothing about it is tracked', async () => {
  const fake = device()
  fake.privacy.needAuthorization = true
  const l = await launch(fake)
  await l.waitFor(() => l.popup().data.visible, 'the privacy popup')
  await l.tap(l.find('privacy__button--decline')[0]!)
  await waitForStep(l, 0, '按分类找指南')
  await press(l, '跳过')
  await l.waitFor(() => (fake.storage.get('onboarding') as { synced?: boolean }).synced === true, 'the outcome in the cloud')
  expect(l.tracker.pending()).toEqual([])
  expect(fake.log.requests.filter((r) => r.url.endsWith('/functions/track'))).toEqual([])
})

describe('configured steps (app_config/onboarding)', () => {
  afterAll(() => setConfig(undefined))

  test('a valid configuration replaces the built-in steps', async () => {
    await setConfig([
      { id: 'me-first', selector: '.hero__me', title: '先看看我的', body: '积分和签到在这里', placement: 'bottom-right' },
      { id: 'list', selector: '.card', title: '再读一篇' },
    ])
    const fake = device()
    const l = await launch(fake)
    await waitForStep(l, 0, '先看看我的')
    expect(l.text()).toContain('积分和签到在这里')
    await press(l, '下一步')
    await waitForStep(l, 1, '再读一篇')
    await press(l, '完成')
    expect(await guideEvents(l)).toEqual([
      ['onboarding_step', { step: 'me-first', index: 0 }],
      ['onboarding_step', { step: 'list', index: 1 }],
      ['onboarding_finish', { steps: 2 }],
    ])
  })

  test('an invalid configuration is ignored: the built-in steps show', async () => {
    await setConfig([{ id: 'evil', selector: 'page >>> .x', title: '' }])
    const l = await launch(device())
    await waitForStep(l, 0, '按分类找指南')
    expect(guideSteps(l).map((s) => s.id)).toEqual(['tabs', 'card', 'me'])
  })

  test('a step whose element the page does not show is left out', async () => {
    await setConfig([
      { id: 'nowhere', selector: '.not-on-the-page', title: '不存在' },
      { id: 'me', selector: '.hero__me', title: '我的入口' },
    ])
    const l = await launch(device())
    await waitForStep(l, 0, '我的入口')
    expect(guideSteps(l).map((s) => s.id)).toEqual(['me'])
  })
})
