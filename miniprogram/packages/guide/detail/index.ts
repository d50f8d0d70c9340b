/**
 * A guide: title, meta, the body blocks, and sharing to a chat or to Moments. Opened from the
 * home list, a share card or a search result; when it is the first page (no page below it), it
 * offers the way to the rest of the app.
 */
import type { GuideDetail } from '../../../../cloudfunctions/content/api'
import { api } from '../../../core/api'
import { describeError } from '../../../core/cloud'
import { formatCount, formatDay } from '../../../core/format'
import { trackedPage } from '../../../core/tracked-page'
import { track } from '../../../core/tracker'

Component({
  behaviors: [trackedPage],

  data: {
    /** Page query `?id=`: read in onLoad, since `id` is reserved (the node id) and never reaches a property of that name. */
    id: '',
    status: 'loading' as 'loading' | 'ready' | 'missing' | 'error',
    errorText: '',
    guide: null as GuideDetail | null,
    viewsText: '',
    dayText: '',
    /** Opened directly (share, scan, search): show the way to the home page. */
    isEntry: false,
    skeleton: [{ width: '70%', height: '48rpx' }, { width: '40%' }, { width: '100%', height: '200rpx' }, { width: '100%' }, { width: '80%' }],
  },

  methods: {
    onLoad(query: { id?: string }) {
      wx.showShareMenu({ menus: ['shareAppMessage', 'shareTimeline'] })
      this.setData({ id: query.id ?? '', isEntry: getCurrentPages().length <= 1 })
      this.load()
    },

    async load() {
      const id = this.data.id
      if (!/^[a-z0-9-]{1,48}$/.test(id)) {
        this.setData({ status: 'missing' })
        return
      }
      this.setData({ status: 'loading' })
      try {
        const guide = await api.content.detail({ id })
        this.setData({ status: 'ready', guide, viewsText: formatCount(guide.views), dayText: formatDay(guide.publishedAt) })
        track('content_open', { guideId: guide.id, category: guide.category })
      } catch (err) {
        const code = (err as { code?: string }).code
        this.setData(code === 'NOT_FOUND' ? { status: 'missing' } : { status: 'error', errorText: describeError(err) })
      }
    },

    retry() {
      this.load()
    },

    goHome() {
      wx.reLaunch({ url: '/pages/home/index' })
    },

    onShareAppMessage() {
      const guide = this.data.guide
      return {
        title: guide ? guide.title : '实用指南',
        path: `/packages/guide/detail/index?id=${this.data.id}`,
      }
    },

    onShareTimeline() {
      const guide = this.data.guide
      return { title: guide ? `${guide.title}｜实用指南` : '实用指南', query: `id=${this.data.id}` }
    },
  },
})
