/**
 * Attribution on the device (miniprogram/core/attribution.ts): what touchFrom() reads from the
 * launch or show options WeChat passes, for each kind of channel, and the sharer withSharer() adds
 * to share paths. Every touch is also checked against the tracking plan the `track` function
 * validates with, so what the device reads is what the cloud accepts.
 */
import { trackingPlan, UUID_V7 } from '../../cloudfunctions/track/plan'
import { createWx } from './harness/wx'

type TrackerModule = typeof import('../../miniprogram/core/tracker')
type AttributionModule = typeof import('../../miniprogram/core/attribution')
type UuidModule = typeof import('../../miniprogram/core/uuid')

let tracker: TrackerModule
let attribution: AttributionModule
let uuid: UuidModule

/** Fresh modules; `consent` as the user answered the privacy terms. */
function load(consent = true): void {
  jest.resetModules()
  ;(globalThis as Record<string, unknown>).wx = createWx().wx
  tracker = require('../../miniprogram/core/tracker') as TrackerModule
  attribution = require('../../miniprogram/core/attribution') as AttributionModule
  uuid = require('../../miniprogram/core/uuid') as UuidModule
  tracker.initTracker({ flushIntervalMs: 3_600_000 })
  if (consent) tracker.setConsent(true)
}

beforeEach(() => load())
afterEach(() => tracker.stopTracker())

/** touchFrom(), checked against the plan's app_launch schema (what the cloud will validate). */
function touch(options: Parameters<AttributionModule['touchFrom']>[0]): Record<string, unknown> {
  const result = attribution.touchFrom(options)
  const checked = trackingPlan.app_launch.safeParse({ path: 'pages/home/index', ...result })
  expect(checked.success).toBe(true)
  return result
}

const enc = encodeURIComponent

describe('touchFrom()', () => {
  test('scene only: the scene value, and nothing else', () => {
    expect(touch({ path: 'pages/home/index', scene: 1001, query: {} })).toEqual({ scene: 1001 })
    expect(touch({ path: 'pages/home/index', scene: 1089 })).toEqual({ scene: 1089 })
  })

  test.each([[999], [10000], [0], [-1], [Number.NaN]])('a scene outside WeChat’s range (%s) is left out', (scene) => {
    expect(touch({ scene, query: {} })).toEqual({})
  })

  test('no options at all: an empty touch', () => {
    expect(touch({})).toEqual({})
  })

  test('utm_source / utm_medium / utm_campaign: URL-encoded Chinese values are decoded', () => {
    expect(touch({ scene: 1001, query: { utm_source: enc('公众号'), utm_medium: 'article', utm_campaign: enc('双十一 预热') } })).toEqual({
      scene: 1001,
      utm_source: '公众号',
      utm_medium: 'article',
      utm_campaign: '双十一 预热',
    })
  })

  test('utm values are trimmed to 64 characters (after decoding)', () => {
    const long = '春节活动'.repeat(30) // 120 characters, 1080 once encoded
    const result = touch({ query: { utm_campaign: enc(long), utm_source: 'x'.repeat(200) } })
    expect(result.utm_campaign).toBe(long.slice(0, 64))
    expect(result.utm_source).toBe('x'.repeat(64))
  })

  test('a value that is not valid URL encoding is kept as it came; empty values are left out', () => {
    expect(touch({ query: { utm_source: '100%off', utm_medium: '', utm_campaign: undefined } })).toEqual({ utm_source: '100%off' })
  })

  test('a share: sharer=<uuidv7> becomes the touch’s sharer', () => {
    const sharer = uuid.uuidv7()
    expect(touch({ scene: 1007, query: { id: 'fold-shirt', sharer } })).toEqual({ scene: 1007, sharer })
  })

  test('a sharer equal to this device’s own anonymous id is ignored (opening one’s own share)', () => {
    const own = tracker.anonymousId()
    expect(own).toMatch(UUID_V7)
    expect(touch({ scene: 1007, query: { sharer: own } })).toEqual({ scene: 1007 })
  })

  test.each([
    ['not a uuid', 'alice'],
    ['a UUIDv4', '3b241101-e2bb-4255-8caf-4136c566a962'],
    ['upper-case', '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B'],
    ['too long', `${'0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'}x`],
  ])('a sharer that is not a UUIDv7 is ignored (%s)', (_what, sharer) => {
    expect(touch({ scene: 1007, query: { sharer } })).toEqual({ scene: 1007 })
  })

  test('a mini-program code: its `scene` query (URL-encoded, as WeChat passes it) is the code', () => {
    expect(touch({ scene: 1047, query: { scene: 'Ab3dEf7h' } })).toEqual({ scene: 1047, code: 'Ab3dEf7h' })
  })

  test('a mini-program code whose scene is `c=<code>&x=y` (URL-encoded)', () => {
    expect(touch({ scene: 1047, query: { scene: enc('c=Ab3dEf7h&x=y') } })).toEqual({ scene: 1047, code: 'Ab3dEf7h' })
    expect(touch({ scene: 1048, query: { scene: enc('x=y&c=QR2024') } })).toEqual({ scene: 1048, code: 'QR2024' })
    // Passed already decoded (some entries do): the same.
    expect(touch({ scene: 1049, query: { scene: 'c=Ab3dEf7h&x=y' } })).toEqual({ scene: 1049, code: 'Ab3dEf7h' })
  })

  test('a link with c=<code>', () => {
    expect(touch({ scene: 1001, query: { c: 'Spring24' } })).toEqual({ scene: 1001, code: 'Spring24' })
    expect(touch({ query: { c: 'A1b2', utm_source: 'poster' } })).toEqual({ code: 'A1b2', utm_source: 'poster' })
  })

  test.each([
    ['too short', { c: 'abc' }],
    ['too long', { c: 'a'.repeat(33) }],
    ['punctuation', { c: 'ab-cd' }],
    ['Chinese', { c: enc('渠道码') }],
    ['a scene that is not a code', { scene: enc('x=1&y=2') }],
    ['a scene whose c= is invalid', { scene: enc('c=ab!cd&x=y') }],
    ['a scene that only contains a code', { scene: enc('xc=Ab3dEf7h') }],
    ['empty', { c: '' }],
  ])('an invalid code is ignored (%s)', (_what, query) => {
    expect(touch({ scene: 1047, query })).toEqual({ scene: 1047 })
  })

  test('an invalid c= does not hide a valid code in the scene', () => {
    expect(touch({ scene: 1047, query: { c: '!!', scene: enc('c=Ab3dEf7h') } })).toEqual({ scene: 1047, code: 'Ab3dEf7h' })
  })

  test('every kind at once: a shared link with campaign parameters and a code', () => {
    const sharer = uuid.uuidv7()
    expect(touch({ path: 'packages/guide/detail/index', scene: 1007, query: { id: 'x', sharer, c: 'Team01', utm_source: enc('朋友圈') } })).toEqual({
      scene: 1007,
      sharer,
      code: 'Team01',
      utm_source: '朋友圈',
    })
  })
})

describe('withSharer()', () => {
  test('a path without a query gets ?sharer=<anonymous id>', () => {
    const id = tracker.anonymousId()
    expect(attribution.withSharer('/pages/home/index')).toBe(`/pages/home/index?sharer=${id}`)
  })

  test('a path with a query gets &sharer=<anonymous id>', () => {
    const id = tracker.anonymousId()
    expect(attribution.withSharer('/packages/guide/detail/index?id=fold-shirt')).toBe(`/packages/guide/detail/index?id=fold-shirt&sharer=${id}`)
    expect(attribution.withSharer('?id=fold-shirt')).toBe(`?id=fold-shirt&sharer=${id}`)
  })

  test('is idempotent', () => {
    for (const path of ['/pages/home/index', '/packages/guide/detail/index?id=a', '/p?a=1&b=2']) {
      const once = attribution.withSharer(path)
      expect(attribution.withSharer(once)).toBe(once)
      expect(once.match(/sharer=/g)).toHaveLength(1)
    }
  })

  test('a path carrying someone else’s sharer (a shared page, shared on) carries this device’s instead', () => {
    const id = tracker.anonymousId()
    const other = uuid.uuidv7()
    expect(attribution.withSharer(`/packages/guide/detail/index?id=a&sharer=${other}`)).toBe(`/packages/guide/detail/index?id=a&sharer=${id}`)
    expect(attribution.withSharer(`/p?sharer=${other}&id=a`)).toBe(`/p?sharer=${id}&id=a`)
  })

  test('the share round trip: what withSharer() adds is what touchFrom() reads on the other device', () => {
    const path = attribution.withSharer('/packages/guide/detail/index?id=fold-shirt')
    const sharer = tracker.anonymousId()
    const query = Object.fromEntries(new URLSearchParams(path.split('?')[1]))
    load() // the friend's device
    expect(tracker.anonymousId()).not.toBe(sharer)
    expect(touch({ scene: 1007, query })).toEqual({ scene: 1007, sharer })
  })

  test('without consent the path is unchanged (never given, or revoked)', () => {
    tracker.setConsent(false)
    expect(attribution.withSharer('/pages/home/index')).toBe('/pages/home/index')
    load(false)
    expect(attribution.withSharer('/pages/home/index')).toBe('/pages/home/index')
    expect(attribution.withSharer('/p?id=1')).toBe('/p?id=1')
  })
})
