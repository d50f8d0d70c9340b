/** My feedback: newest first, with status and the admin's reply; pages on reaching the bottom. */
import { trackedPage } from '../../../core/tracked-page'
import { feedback, refusalText } from '../rules'
import { itemView, previewShots } from '../view'

Component({
  behaviors: [trackedPage],

  data: {
    status: 'loading' as 'loading' | 'ready' | 'empty' | 'error',
    errorText: '',
    items: [] as ReturnType<typeof itemView>[],
    nextCursor: null as string | null,
    loadingMore: false,
  },

  methods: {
    onLoad() {
      this.load()
    },

    onPullDownRefresh() {
      this.load().then(() => wx.stopPullDownRefresh())
    },

    onReachBottom() {
      this.more()
    },

    load() {
      if (this.data.items.length === 0) this.setData({ status: 'loading' })
      return feedback.mine().then(
        (page) => this.setData({ status: page.items.length ? 'ready' : 'empty', items: page.items.map(itemView), nextCursor: page.nextCursor }),
        (err: unknown) => this.setData({ status: 'error', errorText: refusalText(err) }),
      )
    },

    more() {
      const cursor = this.data.nextCursor
      if (!cursor || this.data.loadingMore) return
      this.setData({ loadingMore: true })
      feedback.mine(cursor).then(
        (page) => this.setData({ loadingMore: false, items: [...this.data.items, ...page.items.map(itemView)], nextCursor: page.nextCursor }),
        () => this.setData({ loadingMore: false }),
      )
    },

    preview(e: WechatMiniprogram.BaseEvent<Record<string, never>, { item: number; index: number }>) {
      previewShots(this.data.items, e)
    },

    write() {
      wx.navigateTo({ url: '/packages/feedback/form/index?from=packages/feedback/mine/index' })
    },
  },
})
