/**
 * The behavior every page includes (`behaviors: [trackedPage]`) to be measured without touching
 * its code or any global: a page view (with the page shown before it) each time it shows, a
 * `share` event and the sharer added to the path when it is shared, and an `element_tap` for
 * taps on elements marked `data-track="<name>"` that have a tap handler (`bind:tap="trackTap"`
 * does nothing else, for elements without one). It wraps the page's methods through the
 * behavior's definitionFilter, WeChat's documented way for a behavior to extend a definition.
 */
import { withSharer } from './attribution'
import { setPage, track } from './tracker'

type Method = (this: unknown, ...args: unknown[]) => unknown

let previous = ''

function routeOf(page: unknown): string {
  const own = (page as { route?: unknown }).route
  if (typeof own === 'string' && own) return own
  const pages = getCurrentPages()
  return pages[pages.length - 1]?.route ?? ''
}

/** The `data-track` name of a tap's own element, if it has one. */
function trackedTap(event: unknown): string | undefined {
  const e = event as { type?: unknown; currentTarget?: { dataset?: { track?: unknown } } } | null
  // `tap` from native elements, `click` from TDesign components such as t-cell.
  if (typeof e !== 'object' || e === null || (e.type !== 'tap' && e.type !== 'click')) return undefined
  const name = e.currentTarget?.dataset?.track
  return typeof name === 'string' && /^[a-z0-9_.-]{1,64}$/.test(name) ? name : undefined
}

function trackTap(event: unknown): void {
  const element = trackedTap(event)
  if (element) track('element_tap', { element })
}

interface ShareMessage {
  title?: string
  path?: string
  imageUrl?: string
}

interface ShareTimeline {
  title?: string
  query?: string
  imageUrl?: string
}

export const trackedPage = Behavior({
  methods: {
    /**
     * For a `data-track` element that has nothing else to do on tap. It tracks by itself: the
     * definitionFilter below only wraps the page's own methods, not the behavior's.
     */
    trackTap,
  },
  definitionFilter(definition: { methods?: Record<string, Method> }) {
    const methods = (definition.methods ??= {})
    for (const [name, original] of Object.entries(methods)) {
      methods[name] = function (this: unknown, ...args: unknown[]) {
        trackTap(args[0])
        return original.apply(this, args)
      }
    }
    const onShow = methods.onShow
    methods.onShow = function (this: unknown, ...args: unknown[]) {
      const route = routeOf(this)
      setPage(route)
      track('page_view', previous && previous !== route ? { referrer: previous } : {})
      previous = route
      return onShow?.apply(this, args)
    }
    const onShareAppMessage = methods.onShareAppMessage
    if (onShareAppMessage) {
      methods.onShareAppMessage = function (this: unknown, ...args: unknown[]) {
        const share = (onShareAppMessage.apply(this, args) ?? {}) as ShareMessage
        const path = share.path ?? `/${routeOf(this)}`
        track('share', { kind: 'message', target: path.slice(0, 64) })
        return { ...share, path: withSharer(path) }
      }
    }
    const onShareTimeline = methods.onShareTimeline
    if (onShareTimeline) {
      methods.onShareTimeline = function (this: unknown, ...args: unknown[]) {
        const share = (onShareTimeline.apply(this, args) ?? {}) as ShareTimeline
        const query = share.query ?? ''
        track('share', { kind: 'timeline', target: `/${routeOf(this)}${query ? `?${query}` : ''}`.slice(0, 64) })
        return { ...share, query: withSharer(`?${query}`).replace(/^\?&?/, '') }
      }
    }
  },
})
