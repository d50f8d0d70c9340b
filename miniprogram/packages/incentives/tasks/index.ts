/**
 * The task center: every enabled task with its progress (derived in the cloud from tracked events
 * and function calls), new-user tasks first; 领取 claims a completed task's points once and updates
 * the balance; 去完成 leads to where the task is done. Refusals are shown as the function words them.
 */
import type { TaskKind } from '../../../../cloudfunctions/incentives/api'
import { currentUser } from '../../../core/session'
import { trackedPage } from '../../../core/tracked-page'
import { track } from '../../../core/tracker'
import { incentives, refusalText } from '../data'
import { sections, type TaskCard } from './cards'

/** Where each kind of task is done. */
const WHERE: Record<TaskKind, string> = {
  profile: '/packages/me/index',
  onboarding: '/pages/home/index',
  first_share: '/pages/home/index',
  invite: '/packages/incentives/invite/index',
  read: '/pages/home/index',
  checkin_streak: '/packages/incentives/checkin/index',
}

Component({
  behaviors: [trackedPage],

  data: {
    status: 'loading' as 'loading' | 'ready' | 'empty' | 'error',
    errorText: '',
    balance: 0,
    sections: [] as ReturnType<typeof sections>,
    /** The task being claimed (one at a time). */
    claiming: '',
    skeleton: [{ width: '50%', height: '36rpx' }, { width: '100%' }, { width: '70%' }],
  },

  methods: {
    onLoad() {
      this.load()
    },

    load() {
      this.setData({ status: 'loading' })
      return currentUser()
        .then(() => Promise.all([incentives.summary(), incentives.tasks()]))
        .then(([summary, tasks]) => this.setData({ status: tasks.items.length > 0 ? 'ready' : 'empty', balance: summary.balance, sections: sections(tasks.items) }))
        .catch((err: unknown) => this.setData({ status: 'error', errorText: refusalText(err) }))
    },

    claim(e: WechatMiniprogram.BaseEvent<Record<string, never>, { id: string }>) {
      const taskId = e.currentTarget.dataset.id
      if (this.data.claiming) return
      this.setData({ claiming: taskId })
      incentives.claimTask({ taskId }).then(
        (result) => {
          const claimed = (t: TaskCard) => (t.id === taskId ? { ...t, claimable: false, claimed: true } : t)
          this.setData({
            claiming: '',
            balance: result.balance,
            sections: this.data.sections.map((s) => ({ ...s, items: s.items.map(claimed) })),
          })
          if (result.alreadyClaimed) {
            wx.showToast({ title: '这个任务的奖励已经领过了', icon: 'none' })
          } else {
            wx.showToast({ title: `已领取 +${result.points} 积分`, icon: 'none' })
            track('task_claim', { taskId })
          }
        },
        (err: unknown) => {
          this.setData({ claiming: '' })
          wx.showToast({ title: refusalText(err), icon: 'none' })
        },
      )
    },

    go(e: WechatMiniprogram.BaseEvent<Record<string, never>, { kind: TaskKind }>) {
      const url = WHERE[e.currentTarget.dataset.kind]
      if (!url) return
      if (url === '/pages/home/index') wx.reLaunch({ url })
      else wx.navigateTo({ url })
    },

    openPoints() {
      wx.navigateTo({ url: '/packages/incentives/points/index' })
    },
  },
})
