/**
 * Contract of the `channel` function: the short-code registry. A mini-program code can carry only
 * a 32-character `scene`, so it carries a short code, and this registry maps the code to its
 * channel, campaign and inviter. Codes are made by admins; `track` resolves them on ingestion.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'

export const CODE = /^[A-Za-z0-9]{8}$/

export const channelActions = {
  /** Admins only: registers a code and makes its mini-program code image (wxacode.getUnlimited). */
  createCode: {
    input: z.strictObject({
      channel: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'a channel id such as "poster" or "store-a"'),
      campaign: z.string().trim().min(1).max(64),
      /** OPENID credited with the users who arrive through this code (referral posters). */
      inviter: z.string().min(1).max(64).optional(),
      page: z.string().regex(/^[A-Za-z0-9_\-/]{1,128}$/).default('pages/home/index'),
      note: z.string().max(100).default(''),
      /** Refuse pages that are not in the published version (WeChat's check_path); turn off before the first release. */
      checkPath: z.boolean().default(true),
    }),
    auth: 'user',
  },
  /** Admins only: the newest codes. */
  listCodes: { input: z.strictObject({ channel: z.string().max(32).optional() }), auth: 'user' },
  /** What a code stands for (anyone). */
  resolve: { input: z.strictObject({ code: z.string().regex(CODE) }), auth: 'public' },
} as const

export interface ChannelCode {
  code: string
  channel: string
  campaign: string
  inviter?: string
  page: string
  note: string
  createdAt: string
  /** The mini-program code image in cloud storage. */
  fileId: string
}

export interface ChannelOutputs {
  createCode: ChannelCode & { imageUrl: string }
  listCodes: { items: ChannelCode[] }
  resolve: { channel: string; campaign: string }
}

export type ChannelApi = ApiOf<typeof channelActions, ChannelOutputs>
