/**
 * The feedback limits and labels the pages need. The function's contract
 * (cloudfunctions/feedback/api.ts) holds the same limits, but importing it would bring zod into
 * the package: test/miniprogram/feedback.test.ts checks that both agree.
 */
import type { FeedbackCategory, FeedbackStatus } from '../../../cloudfunctions/feedback/api'
import { call, CloudError, describeError, type Input } from '../../core/cloud'

export const TEXT_MAX = 500
export const CONTACT_MAX = 50
export const IMAGES_MAX = 3
export const IMAGE_MAX_BYTES = 1024 * 1024

export const CATEGORIES: { id: FeedbackCategory; label: string }[] = [
  { id: 'suggestion', label: '功能建议' },
  { id: 'bug', label: '使用问题' },
  { id: 'content', label: '内容纠错' },
  { id: 'other', label: '其他' },
]

export const CATEGORY_LABELS = Object.fromEntries(CATEGORIES.map((c) => [c.id, c.label])) as Record<FeedbackCategory, string>

export const STATUS_LABELS: Record<FeedbackStatus, { label: string; theme: string }> = {
  open: { label: '待处理', theme: 'warning' },
  replied: { label: '已回复', theme: 'success' },
  closed: { label: '已关闭', theme: 'default' },
}

/** Length as the user sees it (and as the function counts): code points, an emoji counts once. */
export function textLength(text: string): number {
  return Array.from(text).length
}

/** The function's own zh-CN refusals are shown as they are; anything else gets the generic sentence. */
export function refusalText(err: unknown): string {
  const own = err instanceof CloudError && /[\u4e00-\u9fff]/.test(err.message)
  return own && ['CONTENT_REJECTED', 'RATE_LIMITED', 'INVALID_INPUT', 'FORBIDDEN', 'NOT_FOUND'].includes(err.code) ? err.message : describeError(err)
}

/** "11月24日 10:05" on the device's clock. */
export function formatTime(iso: string): string {
  const d = new Date(iso)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getMonth() + 1}月${d.getDate()}日 ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

export const feedback = {
  submit: (input: Input<'feedback', 'submit'>) => call('feedback', 'submit', input),
  discard: (images: string[]) => call('feedback', 'discard', { images }, { retries: 2 }),
  mine: (cursor?: string) => call('feedback', 'mine', cursor ? { cursor } : {}, { retries: 2 }),
  inbox: (input: Input<'feedback', 'inbox'>) => call('feedback', 'inbox', input, { retries: 2 }),
  reply: (id: string, text: string) => call('feedback', 'reply', { id, text }),
  close: (id: string) => call('feedback', 'close', { id }, { retries: 2 }),
}
