/**
 * Contract of the `notify` function: subscription messages. The device records what the user
 * answered to wx.requestSubscribeMessage and asks which templates it may still ask for; admins test
 * a template and read its numbers; a daily timer sends the check-in reminder.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'
import { type SendOutcome, SUBSCRIBE_OUTCOMES, type SubscribeOutcome, type TemplateKey, templateKeys } from '../_shared/templates'

const templateKey = z.enum(templateKeys as [TemplateKey, ...TemplateKey[]])
const DAY = /^\d{4}-\d{2}-\d{2}$/

export const notifyActions = {
  /** The user's answers, right after wx.requestSubscribeMessage (per template; `switched_off` when the main switch is off). */
  record: {
    input: z.strictObject({
      outcomes: z.partialRecord(templateKey, z.enum(SUBSCRIBE_OUTCOMES)).refine((o) => Object.keys(o).length > 0, 'at least one template'),
    }),
    auth: 'user',
  },
  /** Each configured template: its id, the user's quota and last answer. */
  status: { input: z.strictObject({}), auth: 'user' },
  /** Admins only: a test send of a template to a user, the data checked against the template. */
  send: {
    input: z.strictObject({
      openid: z.string().min(1).max(64),
      template: z.string().min(1).max(64),
      data: z.record(z.string().max(32), z.union([z.string().max(200), z.number()])),
      reason: z.string().min(1).max(128).optional(),
    }),
    auth: 'user',
  },
  /** Admins only: per template, answers, sends, failures and opens. */
  stats: { input: z.strictObject({}), auth: 'user' },
  /**
   * The daily check-in reminder (its timer, or an admin): to users with a reminder accepted who have
   * not checked in on `day` (today, Asia/Shanghai). Stops before `budgetMs`; a later run resumes.
   */
  remind: {
    input: z.strictObject({
      day: z.string().regex(DAY).optional(),
      budgetMs: z.number().int().min(1).max(600_000).optional(),
      batch: z.number().int().min(1).max(1000).optional(),
    }),
    auth: 'public',
  },
} as const

export interface TemplateStatus {
  key: TemplateKey
  /** The template id to pass to wx.requestSubscribeMessage. */
  id: string
  /** Sends the user has accepted and not yet received. */
  quota: number
  last: { outcome: SubscribeOutcome; at: string } | null
}

export interface TemplateStats {
  key: TemplateKey
  configured: boolean
  users: number
  accepts: number
  rejects: number
  quotaLeft: number
  sent: number
  failed: number
  refused: number
  opened: number
}

export interface RemindResult {
  day: string
  /** Subscriptions looked at, users who had checked in already, and what the sends came to. */
  scanned: number
  checkedIn: number
  sent: number
  skipped: number
  failed: number
  exhausted: number
  /** false: stopped at the time budget; the next run goes on. */
  done: boolean
}

export interface NotifyOutputs {
  record: { recorded: number }
  status: { templates: TemplateStatus[] }
  send: SendOutcome
  stats: { templates: TemplateStats[] }
  remind: RemindResult
}

export type NotifyApi = ApiOf<typeof notifyActions, NotifyOutputs>
