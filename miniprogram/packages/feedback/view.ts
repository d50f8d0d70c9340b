/** Feedback items as the list pages show them. */
import type { FeedbackItem, InboxItem } from '../../../cloudfunctions/feedback/api'
import { CATEGORY_LABELS, formatTime, STATUS_LABELS } from './rules'

export function itemView<T extends FeedbackItem>(item: T) {
  return {
    ...item,
    categoryLabel: CATEGORY_LABELS[item.category],
    statusLabel: STATUS_LABELS[item.status].label,
    statusTheme: STATUS_LABELS[item.status].theme,
    time: formatTime(item.createdAt),
    replyTime: item.reply ? formatTime(item.reply.at) : '',
  }
}

/** The pages feedback is sent from, by the names their navigation bars show. */
const PAGE_NAMES: Record<string, string> = {
  'pages/home/index': '首页',
  'packages/guide/detail/index': '指南',
  'packages/me/index': '我的',
  'packages/incentives/checkin/index': '每日签到',
  'packages/incentives/tasks/index': '任务中心',
  'packages/incentives/invite/index': '邀请好友',
  'packages/incentives/points/index': '我的积分',
  'packages/feedback/mine/index': '我的反馈',
  'packages/admin/index': '数据看板',
}

const PLATFORMS: Record<string, string> = { ios: 'iOS', android: 'Android', ohos: '鸿蒙', devtools: '开发者工具', windows: 'Windows', mac: 'macOS' }

/** Where an inbox item came from, on one line: page · version · base library · model · platform. */
export function contextLine(item: InboxItem): string {
  const c = item.context
  const page = c.page ? `来自${PAGE_NAMES[c.page] ?? ` ${c.page}`}` : '页面未知'
  return [page, c.appVersion ? `v${c.appVersion}` : '开发版', c.sdkVersion && `基础库 ${c.sdkVersion}`, c.model, c.platform && (PLATFORMS[c.platform] ?? c.platform)].filter(Boolean).join(' · ')
}

/** Opens a list item's screenshots in the viewer, at the one tapped (`data-item`, `data-index`). */
export function previewShots(items: { images: { url: string }[] }[], e: WechatMiniprogram.BaseEvent<Record<string, never>, { item: number; index: number }>): void {
  const urls = (items[Number(e.currentTarget.dataset.item)]?.images ?? []).map((i) => i.url)
  wx.previewImage({ urls, current: urls[Number(e.currentTarget.dataset.index)] })
}
