/**
 * The admin inbox: feedback filtered by status and category, newest first; reply (stored, and the
 * user notified by subscription message when they agreed to one) and close. Who is an admin is the
 * function's decision: anyone else gets the no-access state.
 */
import type { FeedbackCategory, FeedbackStatus, InboxItem, NotifyOutcome } from '../../../../cloudfunctions/feedback/api'
import { CloudError } from '../../../core/cloud'
import { trackedPage } from '../../../core/tracked-page'
import { CATEGORIES, feedback, refusalText, STATUS_LABELS, textLength } from '../rules'
import { contextLine, itemView, previewShots } from '../view'

const REPLY_MAX = 500

const STATUS_FILTERS = [{ id: '', label: '全部' }, ...(Object.keys(STATUS_LABELS) as FeedbackStatus[]).map((id) => ({ id, label: STATUS_LABELS[id].label }))]
const CATEGORY_FILTERS = [{ id: '', label: '全部类型' }, ...CATEGORIES]

const NOTIFIED: Record<NotifyOutcome, string> = {
  sent: '已回复，并已通知用户',
  no_quota: '已回复（用户未订阅通知）',
  duplicate: '已回复（此前已通知过用户）',
  not_configured: '已回复（未配置通知模板）',
  failed: '已回复（通知发送失败）',
}

function view(item: InboxItem) {
  return { ...itemView(item), contextText: contextLine(item) }
}

Component({
  behaviors: [trackedPage],

  data: {
    status: 'loading' as 'loading' | 'ready' | 'empty' | 'error' | 'forbidden',
    errorText: '',
    statusFilters: STATUS_FILTERS,
    categoryFilters: CATEGORY_FILTERS,
    statusFilter: 'open',
    categoryFilter: '',
    items: [] as ReturnType<typeof view>[],
    nextCursor: null as string | null,
    /** The item whose reply editor is open, its draft, and whether it is being sent. */
    editing: '',
    draft: '',
    busy: '',
    replyMax: REPLY_MAX,
  },

  methods: {
    onLoad() {
      this.load()
    },

    onPullDownRefresh() {
      this.load().then(() => wx.stopPullDownRefresh())
    },

    onReachBottom() {
      const cursor = this.data.nextCursor
      if (!cursor) return
      feedback.inbox({ ...this.filters(), cursor }).then(
        (page) => this.setData({ items: [...this.data.items, ...page.items.map(view)], nextCursor: page.nextCursor }),
        () => undefined,
      )
    },

    filters() {
      const { statusFilter, categoryFilter } = this.data
      return {
        ...(statusFilter ? { status: statusFilter as FeedbackStatus } : {}),
        ...(categoryFilter ? { category: categoryFilter as FeedbackCategory } : {}),
      }
    },

    load() {
      this.setData({ status: 'loading', editing: '' })
      return feedback.inbox(this.filters()).then(
        (page) => this.setData({ status: page.items.length ? 'ready' : 'empty', items: page.items.map(view), nextCursor: page.nextCursor }),
        (err: unknown) => {
          const forbidden = err instanceof CloudError && err.code === 'FORBIDDEN'
          this.setData({ status: forbidden ? 'forbidden' : 'error', errorText: refusalText(err) })
        },
      )
    },

    pickStatus(e: WechatMiniprogram.BaseEvent<Record<string, never>, { id: string }>) {
      this.setData({ statusFilter: e.currentTarget.dataset.id })
      this.load()
    },

    pickCategory(e: WechatMiniprogram.BaseEvent<Record<string, never>, { id: string }>) {
      this.setData({ categoryFilter: e.currentTarget.dataset.id })
      this.load()
    },

    startReply(e: WechatMiniprogram.BaseEvent<Record<string, never>, { id: string }>) {
      const id = e.currentTarget.dataset.id
      this.setData({ editing: id, draft: this.data.items.find((i) => i.id === id)?.reply?.text ?? '' })
    },

    cancelReply() {
      this.setData({ editing: '', draft: '' })
    },

    onDraft(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.setData({ draft: e.detail.value })
    },

    async sendReply() {
      const id = this.data.editing
      const text = this.data.draft.trim()
      if (!id || this.data.busy) return
      if (!text || textLength(text) > REPLY_MAX) {
        wx.showToast({ title: text ? `回复最多 ${REPLY_MAX} 字` : '请先写回复', icon: 'none' })
        return
      }
      this.setData({ busy: id })
      try {
        const result = await feedback.reply(id, text)
        const at = new Date().toISOString()
        const items = this.data.items.map((i) => (i.id === id ? view({ ...i, status: 'replied', reply: { text, at, notify: result.notify } }) : i))
        this.setData({ busy: '', editing: '', draft: '', items })
        wx.showToast({ title: NOTIFIED[result.notify], icon: 'none' })
      } catch (err) {
        this.setData({ busy: '' })
        wx.showToast({ title: refusalText(err), icon: 'none' })
      }
    },

    async closeItem(e: WechatMiniprogram.BaseEvent<Record<string, never>, { id: string }>) {
      const id = e.currentTarget.dataset.id
      if (this.data.busy) return
      this.setData({ busy: id })
      try {
        await feedback.close(id)
        const items = this.data.items.map((i) => (i.id === id ? view({ ...i, status: 'closed' }) : i))
        this.setData({ busy: '', items })
        wx.showToast({ title: '已关闭', icon: 'none' })
      } catch (err) {
        this.setData({ busy: '' })
        wx.showToast({ title: refusalText(err), icon: 'none' })
      }
    },

    preview(e: WechatMiniprogram.BaseEvent<Record<string, never>, { item: number; index: number }>) {
      previewShots(this.data.items, e)
    },
  },
})
