/**
 * Points: the balance, lifetime points and level, and the ledger — every change of the balance,
 * newest first, paged by cursor as the user scrolls (and pulled down to start again).
 */
import type { Summary } from '../../../../cloudfunctions/incentives/api'
import { currentUser } from '../../../core/session'
import { trackedPage } from '../../../core/tracked-page'
import { incentives, refusalText } from '../data'
import { row, type Row } from './rows'

const PAGE_SIZE = 20

function header(s: Summary) {
  return {
    balance: s.balance,
    lifetime: s.lifetime,
    levelName: s.level.name,
    nextText: s.next ? `再得 ${s.next.pointsToGo} 积分升级为「${s.next.name}」` : '已是最高等级',
  }
}

Component({
  behaviors: [trackedPage],
  options: { pureDataPattern: /^_/ },

  data: {
    status: 'loading' as 'loading' | 'ready' | 'error',
    errorText: '',
    balance: 0,
    lifetime: 0,
    levelName: '',
    nextText: '',
    rows: [] as Row[],
    /** The footer: idle (more to load), loading, done (no more), error (retry). */
    more: 'idle' as 'idle' | 'loading' | 'done' | 'error',
    skeleton: [{ width: '40%', height: '56rpx' }, { width: '60%' }, { width: '100%' }, { width: '100%' }],
    _cursor: null as string | null,
  },

  methods: {
    onLoad() {
      this.load()
    },

    onPullDownRefresh() {
      this.load(true).finally(() => wx.stopPullDownRefresh())
    },

    onReachBottom() {
      this.loadMore()
    },

    /** The header and the first page; a refresh keeps what is shown until the answer arrives. */
    load(refresh = false) {
      if (!refresh) this.setData({ status: 'loading' })
      return currentUser()
        .then(() => Promise.all([incentives.summary(), incentives.ledger({ limit: PAGE_SIZE })]))
        .then(([summary, page]) =>
          this.setData({ status: 'ready', ...header(summary), rows: page.items.map(row), _cursor: page.nextCursor, more: page.nextCursor ? 'idle' : 'done' }),
        )
        .catch((err: unknown) => {
          if (refresh && this.data.status === 'ready') wx.showToast({ title: refusalText(err), icon: 'none' })
          else this.setData({ status: 'error', errorText: refusalText(err) })
        })
    },

    retry() {
      this.load()
    },

    loadMore() {
      const cursor = this.data._cursor
      if (this.data.status !== 'ready' || this.data.more === 'loading' || !cursor) return
      this.setData({ more: 'loading' })
      incentives.ledger({ cursor, limit: PAGE_SIZE }).then(
        (page) => {
          // Refreshed meanwhile: this page no longer follows what is shown.
          if (this.data._cursor !== cursor) return
          this.setData({ rows: [...this.data.rows, ...page.items.map(row)], _cursor: page.nextCursor, more: page.nextCursor ? 'idle' : 'done' })
        },
        () => this.data._cursor === cursor && this.setData({ more: 'error' }),
      )
    },

    openCheckin() {
      wx.navigateTo({ url: '/packages/incentives/checkin/index' })
    },
  },
})
