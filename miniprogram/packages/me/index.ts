/**
 * Me: the user's profile (from the `user` function: created on first launch, first-seen day),
 * the membership level (from the `incentives` function: progress to the next level, perks), the
 * avatar (WeChat's avatar chooser, uploaded to the user's own folder in cloud storage and checked by
 * the content-security API in the cloud), the nickname editor (WeChat's nickname input, checked
 * the same way), and the entries to the rest of the app.
 */
import type { UserProfile } from '../../../cloudfunctions/user/api'
import { api } from '../../core/api'
import { type CachePolicy, swr } from '../../core/cache'
import { call, CloudError, describeError } from '../../core/cloud'
import { formatCalendarDay } from '../../core/format'
import { currentUser, setCurrentUser } from '../../core/session'
import { uploadFile } from '../../core/storage'
import { trackedPage } from '../../core/tracked-page'
import { levelView } from './level'

/** Entries to the app's features. Features added later register their pages here. */
export interface Entry {
  title: string
  note?: string
  url: string
}

export const ENTRIES: Entry[] = [
  { title: '浏览全部指南', note: '按分类查看', url: '/pages/home/index' },
  // The one way to feedback from here: the form leads to 我的反馈 (replies) and WeChat's own channels.
  { title: '反馈', note: '问题、建议和回复', url: '/packages/feedback/form/index?from=packages/me/index' },
]

/** The incentive pages (subpackage `incentives`, preloaded from here). */
export const REWARD_ENTRIES = [
  { title: '签到', icon: 'calendar', url: '/packages/incentives/checkin/index' },
  { title: '任务中心', icon: 'task', url: '/packages/incentives/tasks/index' },
  { title: '邀请好友', icon: 'user-add', url: '/packages/incentives/invite/index' },
  { title: '积分明细', icon: 'wallet', url: '/packages/incentives/points/index' },
]

/** Shown to admins only (the `analytics` function decides who is one). */
export const ADMIN_ENTRY: Entry = { title: '数据看板', note: '访问、留存、转化', url: '/packages/admin/index' }
export const FEEDBACK_ADMIN_ENTRY: Entry = { title: '反馈处理', note: '回复用户反馈', url: '/packages/feedback/inbox/index' }
export const SURVEY_ADMIN_ENTRY: Entry = { title: '调研结果', note: 'NPS 和回答分布', url: '/packages/survey-results/index' }

const isAccess = (data: unknown): data is { admin: boolean } => typeof (data as { admin?: unknown } | null)?.admin === 'boolean'
/** Admins are rarely added or removed: ask again after 10 minutes, in the background. */
const ACCESS_POLICY: CachePolicy<{ admin: boolean }> = { freshMs: 10 * 60_000, staleMs: 30 * 86400_000, isValid: isAccess }

/** What 保存 would send, or '' when there is nothing to save (blank, or the current nickname). */
function nicknameToSave(draft: string, user: UserProfile | null): string {
  const nickname = draft.trim()
  return nickname === user?.nickname ? '' : nickname
}

/** The function words its avatar refusals for users (not your file, not uploaded): shown as they are. */
function avatarProblem(err: unknown): string {
  return err instanceof CloudError && err.code === 'INVALID_INPUT' && /[\u4e00-\u9fff]/.test(err.message) ? err.message : describeError(err)
}

function view(user: UserProfile) {
  const name = user.nickname || '微信用户'
  return {
    user,
    name,
    avatar: user.avatar,
    // By code point: a nickname often starts with an emoji, which slice(0, 1) would cut in half.
    initial: Array.from(name)[0] ?? '',
    // The day the function recorded, not recomputed here: both sides agree on what "joined" means.
    sinceText: `${formatCalendarDay(user.firstSeenDay)}加入`,
    draft: user.nickname,
    canSave: false,
  }
}

Component({
  behaviors: [trackedPage],

  data: {
    status: 'loading' as 'loading' | 'ready' | 'error',
    errorText: '',
    user: null as UserProfile | null,
    name: '',
    initial: '',
    /** What the avatar shows: the stored one, or the picked photo while it uploads. */
    avatar: '',
    avatarSaving: false,
    sinceText: '',
    draft: '',
    canSave: false,
    saving: false,
    entries: ENTRIES,
    rewards: REWARD_ENTRIES,
    /** null until the incentives summary arrives (and when it fails: the entries still work). */
    level: null as ReturnType<typeof levelView> | null,
    skeleton: [{ type: 'circle', size: '112rpx' }, { width: '50%' }, { width: '30%' }],
  },

  methods: {
    onLoad() {
      this.load()
      this.loadAdminEntry()
      this.loadLevel()
    },

    /** Back from the incentive pages: points may have changed (the first show is onLoad's). */
    onShow() {
      if (this.data.level) this.loadLevel()
    },

    /** The level card; the page does not wait for it. */
    loadLevel() {
      currentUser()
        .then(() => call('incentives', 'summary', {}, { retries: 2 }))
        .then(
          (summary) => this.setData({ level: levelView(summary) }),
          () => undefined, // no card: the entries below still lead to the points pages
        )
    },

    /** Adds the dashboard entry for admins; the page does not wait for it. */
    async loadAdminEntry() {
      const apply = (access: { admin: boolean }) => this.setData({ entries: access.admin ? [...ENTRIES, ADMIN_ENTRY, SURVEY_ADMIN_ENTRY, FEEDBACK_ADMIN_ENTRY] : ENTRIES })
      try {
        const { data } = await swr('admin-access', ACCESS_POLICY, () => api.analytics.access(), apply)
        apply(data)
      } catch {
        // No entry: the check runs again on the next visit.
      }
    },

    async load() {
      this.setData({ status: 'loading' })
      try {
        this.setData({ status: 'ready', ...view(await currentUser()) })
      } catch (err) {
        this.setData({ status: 'error', errorText: describeError(err) })
      }
    },

    onNicknameInput(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.setData({ draft: e.detail.value, canSave: nicknameToSave(e.detail.value, this.data.user) !== '' })
    },

    async saveNickname() {
      const nickname = nicknameToSave(this.data.draft, this.data.user)
      if (!nickname || this.data.saving) return
      if (nickname.length > 20) {
        wx.showToast({ title: '昵称最多 20 个字', icon: 'none' })
        return
      }
      this.setData({ saving: true })
      try {
        const user = await api.user.updateProfile({ nickname })
        setCurrentUser(user)
        this.setData({ saving: false, ...view(user) })
        wx.showToast({ title: '已保存', icon: 'success' })
      } catch (err) {
        this.setData({ saving: false })
        wx.showToast({ title: describeError(err), icon: 'none' })
      }
    },

    /** WeChat's avatar chooser answered: upload to `avatars/<openid>/`, then store it (the cloud checks it). */
    async onChooseAvatar(e: WechatMiniprogram.CustomEvent<{ avatarUrl: string }>) {
      const path = e.detail.avatarUrl
      if (!path || this.data.avatarSaving || this.data.status !== 'ready') return
      const shown = this.data.avatar
      this.setData({ avatar: path, avatarSaving: true })
      try {
        const { openid } = await currentUser()
        const ext = /\.(jpe?g|png|webp)$/i.exec(path)?.[1]?.toLowerCase() ?? 'jpg'
        const fileId = await uploadFile(`avatars/${openid}/${Date.now().toString(36)}.${ext}`, path)
        const user = await api.user.updateProfile({ avatarUrl: fileId })
        setCurrentUser(user)
        this.setData({ avatarSaving: false, user, avatar: user.avatar })
        wx.showToast({ title: '头像已更新', icon: 'success' })
      } catch (err) {
        this.setData({ avatar: shown, avatarSaving: false })
        wx.showToast({ title: avatarProblem(err), icon: 'none' })
      }
    },

    openReward(e: WechatMiniprogram.BaseEvent<Record<string, never>, { url: string }>) {
      wx.navigateTo({ url: e.currentTarget.dataset.url })
    },

    openEntry(e: WechatMiniprogram.BaseEvent<Record<string, never>, { url: string }>) {
      const url = e.currentTarget.dataset.url
      if (url === '/pages/home/index') wx.reLaunch({ url })
      else wx.navigateTo({ url })
    },
  },
})
