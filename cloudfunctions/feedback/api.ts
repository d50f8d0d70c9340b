/**
 * Contract of the `feedback` function: users send feedback (category, text, up to 3 screenshots,
 * optional contact, the device context), read their own with the admin's reply; admins work an
 * inbox (filter, reply, close). Screenshots are uploaded by the device to `feedback/<openid>/…`
 * in cloud storage first; the function checks each one (owner, existence, size) and deletes the
 * caller's uploads on any refusal, so a refused submission leaves no files behind.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'

/** Category ids (the page shows 功能建议 / 使用问题 / 内容纠错 / 其他). */
export const FEEDBACK_CATEGORIES = ['suggestion', 'bug', 'content', 'other'] as const
export type FeedbackCategory = (typeof FEEDBACK_CATEGORIES)[number]

export const FEEDBACK_STATUSES = ['open', 'replied', 'closed'] as const
export type FeedbackStatus = (typeof FEEDBACK_STATUSES)[number]

/** Limits the page enforces too (packages/feedback/rules.ts repeats them: it cannot import zod). */
export const TEXT_MAX = 500
export const CONTACT_MAX = 50
export const IMAGES_MAX = 3
export const IMAGE_MAX_BYTES = 1024 * 1024
export const REPLY_MAX = 500

/** Length as the user sees it: code points, so an emoji counts once (not as two UTF-16 units). */
export function textLength(text: string): number {
  return Array.from(text).length
}

const noControl = (value: string) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)

const text = (max: number, what: string) =>
  z
    .string()
    .trim()
    .min(1, `${what} cannot be empty.`)
    .refine((v) => textLength(v) <= max, `${what} is at most ${max} characters.`)
    .refine(noControl, `${what} contains control characters.`)

/** A cloud:// file ID; whose file it is, whether it exists and its size are checked by the function. */
const fileId = z.string().max(512).regex(/^cloud:\/\/\S+$/, 'Images must be cloud:// file IDs.')

const context = z.strictObject({
  /** Route of the page the user came from, e.g. `packages/guide/detail/index`. */
  page: z.string().max(128).regex(/^[A-Za-z0-9_\-/]*$/, 'page must be a route'),
  /** wx.getAccountInfoSync().miniProgram.version ('' in develop and trial builds). */
  appVersion: z.string().max(32),
  /** Base library version (SDKVersion). */
  sdkVersion: z.string().max(32),
  model: z.string().max(64),
  platform: z.string().max(32),
})

const cursor = z.string().max(200).optional()

export const feedbackActions = {
  submit: {
    input: z.strictObject({
      category: z.enum(FEEDBACK_CATEGORIES),
      text: text(TEXT_MAX, 'Feedback'),
      images: z.array(fileId).max(IMAGES_MAX, `At most ${IMAGES_MAX} screenshots.`).default([]),
      contact: z
        .string()
        .trim()
        .refine((v) => textLength(v) <= CONTACT_MAX, `Contact is at most ${CONTACT_MAX} characters.`)
        .refine(noControl, 'Contact contains control characters.')
        .optional(),
      context,
    }),
    auth: 'user',
  },
  /**
   * Deletes the caller's own uploads that will not be submitted (an upload of the batch failed on
   * the device). Files outside `feedback/<caller>/` or already part of a feedback are left alone.
   */
  discard: { input: z.strictObject({ images: z.array(fileId).min(1).max(IMAGES_MAX) }), auth: 'user' },
  /** The caller's feedback, newest first, with status and the admin's reply. */
  mine: { input: z.strictObject({ cursor }), auth: 'user' },
  /** Admins only. */
  inbox: {
    input: z.strictObject({ status: z.enum(FEEDBACK_STATUSES).optional(), category: z.enum(FEEDBACK_CATEGORIES).optional(), cursor }),
    auth: 'user',
  },
  /** Admins only: stores the reply (replacing an earlier one), status `replied`, notifies the user when they agreed to. */
  reply: { input: z.strictObject({ id: z.string().min(1).max(64), text: text(REPLY_MAX, 'Reply') }), auth: 'user' },
  /** Admins only. */
  close: { input: z.strictObject({ id: z.string().min(1).max(64) }), auth: 'user' },
  /** Admins only: counts by status and by category. */
  stats: { input: z.strictObject({}), auth: 'user' },
} as const

export interface FeedbackContext {
  page: string
  appVersion: string
  sdkVersion: string
  model: string
  platform: string
}

/**
 * What the reply's subscription message did: `sent`; `no_quota` (the user has not agreed, or used
 * up their accepts); `duplicate` (this feedback's reply was notified already: a second reply is
 * stored without a second message); `not_configured` (no template id in app_config/templates);
 * `failed` (WeChat refused or could not be reached, or the message data was invalid).
 */
export type NotifyOutcome = 'sent' | 'no_quota' | 'duplicate' | 'not_configured' | 'failed'

export interface FeedbackReply {
  text: string
  /** ISO instant. */
  at: string
  notify: NotifyOutcome
}

export interface FeedbackItem {
  id: string
  category: FeedbackCategory
  text: string
  /** Screenshots: file IDs with temporary URLs to show them. */
  images: { fileId: string; url: string }[]
  contact?: string
  status: FeedbackStatus
  createdAt: string
  reply?: FeedbackReply
}

/** What an admin sees: the item plus who sent it and from where. */
export interface InboxItem extends FeedbackItem {
  openid: string
  context: FeedbackContext
}

export interface FeedbackPage<T> {
  items: T[]
  nextCursor: string | null
}

export interface FeedbackOutputs {
  submit: { id: string }
  discard: { deleted: number }
  mine: FeedbackPage<FeedbackItem>
  inbox: FeedbackPage<InboxItem>
  reply: { id: string; status: 'replied'; notify: NotifyOutcome }
  close: { id: string; status: 'closed' }
  stats: { total: number; byStatus: Record<FeedbackStatus, number>; byCategory: Record<FeedbackCategory, number> }
}

export type FeedbackApi = ApiOf<typeof feedbackActions, FeedbackOutputs>
