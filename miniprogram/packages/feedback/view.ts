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

/** Where an inbox item came from, on one line: page · version · base library · model · platform. */
export function contextLine(item: InboxItem): string {
  const c = item.context
  return [c.page || '未知页面', c.appVersion ? `v${c.appVersion}` : '开发版', c.sdkVersion && `基础库 ${c.sdkVersion}`, c.model, c.platform].filter(Boolean).join(' · ')
}

/** Opens a list item's screenshots in the viewer, at the one tapped (`data-item`, `data-index`). */
export function previewShots(items: { images: { url: string }[] }[], e: WechatMiniprogram.BaseEvent<Record<string, never>, { item: number; index: number }>): void {
  const urls = (items[Number(e.currentTarget.dataset.item)]?.images ?? []).map((i) => i.url)
  wx.previewImage({ urls, current: urls[Number(e.currentTarget.dataset.index)] })
}
