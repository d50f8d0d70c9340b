/**
 * The privacy agreement end to end: the real home page with the real privacy popup (TDesign
 * t-popup), launched as App.onLaunch does, the fake `wx` answering wx.getPrivacySetting and running
 * WeChat's onNeedPrivacyAuthorization protocol, and the tracker sending to a real local cloud.
 */
import { homeLaunches, type Launched } from './harness/launch'
import { sleep, storedEvents, until } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(180_000)

const app = homeLaunches()

/** A first launch whose privacy answer the test releases (fake.answerPrivacy) once the page is up. */
async function launch(fake: FakeWx = createWx()): Promise<Launched> {
  fake.privacy.held = true
  const l = await app.launch(fake)
  fake.answerPrivacy()
  await l.waitFor(() => l.page.data.status !== 'loading', 'the guides')
  return l
}

const trackCalls = (fake: FakeWx) => fake.log.requests.filter((r) => r.url.endsWith('/functions/track'))
const popupText = (l: Launched) => l.find('privacy').map((el) => el.textContent?.replace(/\s+/g, ' ').trim()).join('')

/** The user taps 同意: WeChat records the agreement, then the button's agreeprivacyauthorization event fires. */
function tapAgree(l: Launched): void {
  l.fake.privacy.needAuthorization = false
  l.fire(l.find('privacy__button--agree')[0]!, 'agreeprivacyauthorization')
}

/** What a feature's privacy API does first (wx.chooseMedia, an input of type nickname...). */
function privacyApi(fake: FakeWx): Promise<{ ok: boolean; errMsg?: string }> {
  return new Promise((resolve) => {
    ;(fake.wx.requirePrivacyAuthorize as (o: object) => void)({
      success: () => resolve({ ok: true }),
      fail: (err: { errMsg: string }) => resolve({ ok: false, errMsg: err.errMsg }),
    })
  })
}

test('a first launch that needs the agreement shows the popup, naming the agreement, before anything is collected', async () => {
  const fake = createWx()
  fake.privacy.needAuthorization = true
  const l = await launch(fake)
  await l.waitFor(() => l.popup().data.visible, 'the privacy popup')
  expect(l.popup().data).toMatchObject({ visible: true, feature: false, contractName: '《小程序隐私保护指引》' })
  expect(popupText(l)).toContain('隐私保护提示')
  expect(popupText(l)).toContain('使用前请阅读《小程序隐私保护指引》')
  expect(popupText(l)).toContain('不同意也能正常浏览指南')
  expect(l.tracker.hasConsent()).toBe(false)
  expect(l.tracker.pending()).toEqual([])
  expect(fake.storage.has('tracker:anon')).toBe(false)
})

test('the agreement link opens the agreement with wx.openPrivacyContract', async () => {
  const fake = createWx()
  fake.privacy.needAuthorization = true
  const l = await launch(fake)
  await l.waitFor(() => l.popup().data.visible, 'the privacy popup')
  await l.tap(l.find('privacy__link')[0]!)
  expect(fake.privacyContractsOpened).toBe(1)
  expect(l.popup().data.visible).toBe(true) // still waiting for an answer
})

test('agree: consent on, the launch and the page view are tracked and reach the database', async () => {
  const fake = createWx()
  fake.privacy.needAuthorization = true
  const l = await launch(fake)
  l.page.onShow()
  await l.waitFor(() => l.popup().data.visible, 'the privacy popup')
  expect(l.tracker.pending()).toEqual([])
  tapAgree(l)
  expect(l.popup().data.visible).toBe(false)
  expect(l.tracker.hasConsent()).toBe(true)
  expect(l.privacy.privacyState()).toBe('agreed')
  expect(l.tracker.pending().map((e) => e.name)).toEqual(['first_launch', 'app_launch'])
  l.page.onShow()
  await l.tracker.flush()
  const names = (await storedEvents(app.url(), { anonymousId: l.tracker.anonymousId() })).map((e) => e.name).sort()
  expect(names).toEqual(['app_launch', 'first_launch', 'page_view'])
})

test('decline: nothing queued or sent, home still browsable; a feature that needs personal data asks again and says why', async () => {
  const fake = createWx()
  fake.privacy.needAuthorization = true
  const l = await launch(fake)
  await l.waitFor(() => l.popup().data.visible, 'the privacy popup')
  await l.tap(l.find('privacy__button--decline')[0]!)
  expect(l.popup().data.visible).toBe(false)
  expect(l.privacy.privacyState()).toBe('declined')
  expect(fake.log.toasts).toEqual([]) // nothing was waiting: no explanation needed yet

  // Browsing works: cards, tabs, opening a guide.
  expect(l.find('card').length).toBeGreaterThan(0)
  await l.tap(l.find('card')[0]!)
  expect(fake.log.navigateTo[0]).toMatch(/^\/packages\/guide\/detail\/index\?id=/)
  l.page.onShow()
  l.page.onHide?.()
  await sleep(30)
  expect(l.tracker.hasConsent()).toBe(false)
  expect(l.tracker.pending()).toEqual([])
  expect(trackCalls(fake)).toEqual([])
  expect(fake.storage.has('tracker:anon')).toBe(false)

  // A feature calls a privacy API: the popup opens again, worded for the feature.
  const first = privacyApi(fake)
  await l.waitFor(() => l.popup().data.visible, 'the popup, asked by a feature')
  expect(l.popup().data.feature).toBe(true)
  expect(popupText(l)).toContain('这项功能需要用到你的个人信息')
  await l.tap(l.find('privacy__button--decline')[0]!)
  expect(await first).toEqual({ ok: false, errMsg: 'requirePrivacyAuthorize:fail privacy permission is not authorized' })
  expect(fake.log.toasts).toEqual([{ title: '未同意隐私保护指引，这项功能暂时无法使用', icon: 'none' }])
  expect(trackCalls(fake)).toEqual([])

  // Asked once more, the user agrees: the waiting API goes on and collection starts.
  const second = privacyApi(fake)
  await l.waitFor(() => l.popup().data.visible, 'the popup, asked again')
  tapAgree(l)
  expect(await second).toEqual({ ok: true })
  expect(l.tracker.hasConsent()).toBe(true)
  expect(l.tracker.pending().map((e) => e.name)).toEqual(['first_launch', 'app_launch'])
})

test('a declined agreement is not asked again unasked on the next launch (features still ask)', async () => {
  const fake = createWx()
  fake.privacy.needAuthorization = true
  const first = await launch(fake)
  await first.waitFor(() => first.popup().data.visible, 'the privacy popup')
  await first.tap(first.find('privacy__button--decline')[0]!)
  app.close(first)

  const again = await launch(fake)
  await sleep(30)
  expect(again.popup().data.visible).toBe(false)
  expect(again.privacy.privacyState()).toBe('declined')
  const asked = privacyApi(fake)
  await again.waitFor(() => again.popup().data.visible, 'the popup, asked by a feature')
  await again.tap(again.find('privacy__button--decline')[0]!)
  expect((await asked).ok).toBe(false)
})

test('already agreed: no popup, consent on', async () => {
  const l = await launch(createWx())
  await until(() => l.tracker.hasConsent(), 'consent')
  await sleep(20)
  expect(l.popup().data.visible).toBe(false)
  expect(l.privacy.privacyState()).toBe('agreed')
})

test('a page without the popup answers "disagree" at once: the API fails instead of hanging', async () => {
  const fake = createWx()
  fake.privacy.needAuthorization = true
  const l = await launch(fake)
  await l.waitFor(() => l.popup().data.visible, 'the privacy popup')
  const g = globalThis as Record<string, unknown>
  g.getCurrentPages = () => [{ route: 'packages/other/index', selectComponent: () => null }]
  const result = await Promise.race([privacyApi(fake), sleep(1000).then(() => 'hung' as const)])
  expect(result).toEqual({ ok: false, errMsg: 'requirePrivacyAuthorize:fail privacy permission is not authorized' })
})
