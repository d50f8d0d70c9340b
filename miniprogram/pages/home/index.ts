/**
 * Home, the first screen: what the app is for in one sentence, category tabs and the guides,
 * newest first, paged by cursor. A repeat visit renders at once from storage while fresh data
 * loads; pull down to refresh; every failure shows a retry. The one-sentence value proposition is
 * the experiment `home_value_copy` (the goal: a guide opened); the read counts follow the flag
 * `home_show_read_count`.
 */
import type { Category, GuideSummary } from '../../../cloudfunctions/content/api'
import { api } from '../../core/api'
import type { DueSurvey } from '../../../cloudfunctions/survey/api'
import { type CachePolicy, readCache, swr, writeCache } from '../../core/cache'
import { call, describeError } from '../../core/cloud'
import { flag, isReady, variant, whenReady } from '../../core/experiments'
import { formatCount } from '../../core/format'
import { CACHED, FRESH_MS, fromLaunch } from '../../core/launch'
import { guidePending } from '../../core/onboarding'
import { trackedPage } from '../../core/tracked-page'

const ALL = 'all'
const PAGE_SIZE = 10
/** The control's copy: what shows without a config, outside the experiment, or once it has ended. */
const CONTROL_TAGLINE = '每天 3 分钟，学一个马上用得上的生活技巧'
/** On a first launch the tagline waits this long for the config rather than switching copy on screen. */
const TAGLINE_WAIT_MS = 1000
/** When the home page last asked whether a survey is due (ms). */
const SURVEY_CHECKED = 'survey:checked'

interface Card extends GuideSummary {
  viewsText: string
}

interface FirstPage {
  items: GuideSummary[]
  nextCursor: string | null
}

function isCategories(data: unknown): data is Category[] {
  return Array.isArray(data) && data.every((c) => typeof c?.id === 'string' && typeof c?.name === 'string')
}

/** Every field a card renders: a cached item missing one would show "undefined" or "NaN万". */
function isSummary(data: unknown): data is GuideSummary {
  const g = data as GuideSummary | null
  return (
    typeof g === 'object' && g !== null &&
    typeof g.id === 'string' && typeof g.title === 'string' && typeof g.summary === 'string' &&
    Array.isArray(g.tags) && g.tags.every((t) => typeof t === 'string') &&
    Number.isFinite(g.readMinutes) && Number.isFinite(g.views)
  )
}

function isFirstPage(data: unknown): data is FirstPage {
  const page = data as FirstPage | null
  return (
    typeof page === 'object' && page !== null && Array.isArray(page.items) &&
    (page.nextCursor === null || typeof page.nextCursor === 'string') &&
    page.items.every(isSummary)
  )
}

const CATEGORIES_POLICY: CachePolicy<Category[]> = { freshMs: FRESH_MS.categories, staleMs: 30 * 86400_000, isValid: isCategories }
const PAGE_POLICY: CachePolicy<FirstPage> = { freshMs: FRESH_MS.firstPage, staleMs: 7 * 86400_000, isValid: isFirstPage }

const toCards = (items: GuideSummary[]): Card[] => items.map((g) => ({ ...g, viewsText: formatCount(g.views) }))

/** The list on screen already shows exactly these guides (a refresh that changed nothing). */
function sameCards(shown: Card[], items: GuideSummary[]): boolean {
  return shown.length === items.length && JSON.stringify(toCards(items)) === JSON.stringify(shown)
}

Component({
  behaviors: [trackedPage],
  options: { pureDataPattern: /^_/ },

  data: {
    /** Empty while a first launch waits for the experiments config (the space stays reserved). */
    tagline: '',
    showReads: true,
    tabs: [{ id: ALL, name: '全部' }] as Category[],
    active: ALL,
    items: [] as Card[],
    /** loading: first page pending; ready; empty; error: first page failed. */
    status: 'loading' as 'loading' | 'ready' | 'empty' | 'error',
    errorText: '',
    /** The footer: idle (more to load), loading, done (no more), error (retry). */
    more: 'idle' as 'idle' | 'loading' | 'done' | 'error',
    skeleton: [{ width: '60%', height: '36rpx' }, { width: '100%' }, { width: '40%' }],
    /** Skeleton cards only while nothing is cached to show (a repeat launch never renders t-skeleton). */
    skeletonShown: false,
    /** Cursor of the next page (pure data: never rendered). */
    _cursor: null as string | null,
    /** The onboarding guide is rendered (and its subpackage loaded) only while it may still show. */
    onboarding: false,
    /** A survey due for this user: the sheet (subpackage survey) is rendered and loaded only then. */
    survey: null as DueSurvey | null,
  },

  methods: {
    onLoad() {
      this.setData({ onboarding: guidePending() })
      this.showTagline()
      this.loadCategories()
      this.loadFirstPage(false)
    },

    /** After the first render, at most once a day, never during onboarding: is a survey due? (Resolves when answered.) */
    async onReady() {
      const now = Date.now()
      if (this.data.onboarding || now - (Number(wx.getStorageSync(SURVEY_CHECKED)) || 0) < 86_400_000) return
      wx.setStorageSync(SURVEY_CHECKED, now)
      await call('survey', 'due', {}, { retries: 1 }).then(
        ({ survey }) => survey && this.setData({ survey }),
        () => wx.removeStorageSync(SURVEY_CHECKED), // unanswered: ask again next time
      )
    },

    onSurveyClose() {
      this.setData({ survey: null })
    },

    onPullDownRefresh() {
      Promise.all([this.loadCategories(true), this.loadFirstPage(true)]).finally(() => wx.stopPullDownRefresh())
    },

    onReachBottom() {
      this.loadMore()
    },

    onShareAppMessage() {
      return { title: `实用指南｜${this.data.tagline || CONTROL_TAGLINE}`, path: '/pages/home/index' }
    },

    /**
     * The tagline this user is assigned (at once when the config is cached; on a first launch after
     * at most TAGLINE_WAIT_MS, then the control, unlogged). `variant()` logs the exposure as it is shown.
     */
    async showTagline() {
      const ready = isReady() || (await whenReady(TAGLINE_WAIT_MS))
      const copy = ready ? variant('home_value_copy').value : undefined
      this.setData({ tagline: typeof copy === 'string' && copy ? copy : CONTROL_TAGLINE, showReads: flag('home_show_read_count', true) })
    },

    async loadCategories(force = false) {
      const apply = (categories: Category[]) => {
        if (categories.length === this.data.tabs.length - 1 && categories.every((c, i) => c.id === this.data.tabs[i + 1]?.id && c.name === this.data.tabs[i + 1]?.name)) return
        // t-tabs places its underline when it attaches and when a tab goes away, not when one is
        // added (TDesign 1.16): once the new tabs are on screen, have it measure them again.
        this.setData({ tabs: [{ id: ALL, name: '全部' }, ...categories] }, () =>
          wx.nextTick(() => (this.selectComponent('#tabs') as { setTrack?: () => void } | null)?.setTrack?.()),
        )
      }
      try {
        if (force) {
          const { items } = await api.content.categories()
          writeCache('categories', items)
          apply(items)
          return
        }
        // The launch's reply carries the categories when the launch made a call.
        const fetch = () => fromLaunch('categories', (reply) => reply.categories) ?? api.content.categories().then((r) => r.items)
        const { data } = await swr(CACHED.categories, CATEGORIES_POLICY, fetch, apply)
        apply(data)
      } catch {
        // Tabs are a shortcut: "全部" still works without them, and pull-to-refresh tries again.
      }
    },

    /** First page of the active tab; from cache when possible unless forced. */
    async loadFirstPage(force: boolean) {
      const category = this.data.active
      const key = `guides:${category}`
      const fetch = () =>
        (category === ALL ? fromLaunch('firstPage', (reply) => reply.guides) : null) ?? api.content.list({ limit: PAGE_SIZE, ...(category === ALL ? {} : { category }) })
      const apply = (page: FirstPage) => {
        if (this.data.active !== category) return // the user switched tabs meanwhile
        if (this.data.status === 'ready' && this.data._cursor === page.nextCursor && sameCards(this.data.items, page.items)) return
        this.setData({
          _cursor: page.nextCursor,
          items: toCards(page.items),
          status: page.items.length > 0 ? 'ready' : 'empty',
          more: page.nextCursor ? 'idle' : 'done',
        })
      }
      if (this.data.items.length === 0) {
        const cached = !force && readCache(key, PAGE_POLICY.isValid)
        this.setData(cached && cached.ageMs < PAGE_POLICY.staleMs ? { status: 'loading' } : { status: 'loading', skeletonShown: true })
      }
      try {
        if (force) {
          const page = await fetch()
          writeCache(key, page)
          apply(page)
          return
        }
        const { data } = await swr(key, PAGE_POLICY, fetch, apply)
        apply(data)
      } catch (err) {
        if (this.data.active !== category) return
        if (force && this.data.items.length > 0) {
          wx.showToast({ title: describeError(err), icon: 'none' })
          return
        }
        this.setData({ status: 'error', errorText: describeError(err) })
      }
    },

    async loadMore() {
      const cursor = this.data._cursor
      if (this.data.status !== 'ready' || this.data.more === 'loading' || this.data.more === 'done' || !cursor) return
      const category = this.data.active
      this.setData({ more: 'loading' })
      try {
        const page = await api.content.list({ limit: PAGE_SIZE, cursor, ...(category === ALL ? {} : { category }) })
        // The first page was replaced meanwhile (refresh, cache update, tab switch): this page no longer follows it.
        if (this.data.active !== category || this.data._cursor !== cursor) return
        // Only the appended cards travel to the view layer (paths), not the whole list again.
        const appended: Record<string, unknown> = { _cursor: page.nextCursor, more: page.nextCursor ? 'idle' : 'done' }
        const at = this.data.items.length
        toCards(page.items).forEach((card, i) => (appended[`items[${at + i}]`] = card))
        this.setData(appended)
      } catch {
        if (this.data.active === category && this.data._cursor === cursor) this.setData({ more: 'error' })
      }
    },

    onTabChange(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      if (e.detail.value === this.data.active) return
      this.setData({ active: e.detail.value, items: [], more: 'idle', _cursor: null })
      this.loadFirstPage(false)
    },

    retry() {
      // The outage that failed the list usually failed the tabs too (from cache when they loaded).
      this.loadCategories()
      this.loadFirstPage(true)
    },

    openGuide(e: WechatMiniprogram.BaseEvent<Record<string, never>, { id: string }>) {
      wx.navigateTo({ url: `/packages/guide/detail/index?id=${e.currentTarget.dataset.id}` })
    },

    openMe() {
      wx.navigateTo({ url: '/packages/me/index' })
    },
  },
})
