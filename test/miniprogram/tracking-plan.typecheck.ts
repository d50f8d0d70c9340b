/**
 * The tracking plan as the compiler enforces it (never run: `tsc -p tsconfig.test-miniprogram.json`
 * checks it). Each `@ts-expect-error` is a call that must not compile; if one ever does, the
 * directive itself becomes an error ("Unused '@ts-expect-error' directive") and the typecheck fails.
 */
import { track } from '../../miniprogram/core/tracker'

export function wellFormedCalls(): void {
  track('first_launch', {})
  track('app_launch', { path: 'pages/home/index', scene: 1047, code: 'Ab3dEf7h' })
  track('app_show', { path: 'packages/guide/detail/index', utm_source: 'poster', sharer: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' })
  track('app_hide', { durationMs: 1200 })
  track('page_view', {})
  track('page_view', { referrer: 'pages/home/index' })
  track('share', { kind: 'message', target: '/pages/home/index' })
  track('share', { kind: 'timeline' })
  track('element_tap', { element: 'home_card' })
  track('content_open', { guideId: 'fold-shirt', category: 'home' })
  track('js_error', { message: 'TypeError: x is undefined', stack: 'TypeError: x is undefined\n    at f (app.js:1:1)' })
  track('js_error', { message: 'no stack' })
  track('promise_rejection', { message: 'request:fail' })
  track('page_not_found', { path: 'pages/old/index', isEntryPage: true })
  track('cloud_call_failed', { fn: 'content', action: 'detail', code: 'NOT_FOUND', durationMs: 40 })
  track('cloud_calls', { calls: 3, failed: 1, slow: 0, totalMs: 900 })
  track('perf', { metric: 'firstRender', durationMs: 120, target: 'pages/home/index' })
  track('tracker_dropped', { count: 3, reason: 'queue_full' })
}

export function unknownEvents(): void {
  // @ts-expect-error an event that is not in the plan
  track('page_viewed', {})
  // @ts-expect-error a name built at runtime is not an event name
  track(String('page_view'), {})
}

export function wrongPropertyTypes(): void {
  // @ts-expect-error durationMs is a number
  track('app_hide', { durationMs: '1200' })
  // @ts-expect-error kind is 'message' | 'timeline'
  track('share', { kind: 'moments' })
  // @ts-expect-error isEntryPage is a boolean
  track('page_not_found', { path: 'pages/x/index', isEntryPage: 'yes' })
  // @ts-expect-error metric is one of the four performance entries
  track('perf', { metric: 'evaluateScript', durationMs: 10 })
  // @ts-expect-error reason is 'queue_full' | 'corrupted'
  track('tracker_dropped', { count: 1, reason: 'full' })
  // @ts-expect-error props are an object
  track('page_view', null)
}

export function missingProperties(): void {
  // @ts-expect-error content_open needs its category
  track('content_open', { guideId: 'fold-shirt' })
  // @ts-expect-error app_launch needs the launch's path
  track('app_launch', { scene: 1001 })
  // @ts-expect-error element_tap needs the element
  track('element_tap', {})
  // @ts-expect-error props are required, even empty
  track('first_launch')
}

export function extraProperties(): void {
  // @ts-expect-error first_launch has no properties
  track('first_launch', { source: 'poster' })
  // @ts-expect-error page_view takes a referrer, not a title
  track('page_view', { referrer: 'pages/home/index', title: '首页' })
  // @ts-expect-error the envelope is the tracker's: props cannot carry an openid
  track('element_tap', { element: 'home_card', openid: 'o-123' })
}
