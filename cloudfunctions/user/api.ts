/**
 * Contract of the `user` function: input schemas and output types. Imported by the function and
 * (type-only) by the mini-program's client core, so both sides agree at compile time.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'

const nickname = z
  .string()
  .trim()
  .min(1, 'Nickname cannot be empty.')
  .max(20, 'Nickname is at most 20 characters.')
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'Nickname contains control characters.')

/** An avatar is a file in cloud storage (from chooseAvatar + uploadFile) or an https URL. */
const avatarUrl = z
  .string()
  .max(512)
  .regex(/^(cloud:\/\/|https:\/\/)\S+$/, 'Avatar must be a cloud:// file ID or an https:// URL.')

export const userActions = {
  /** Creates the user on first call, returns the profile. Identity comes from the platform. */
  login: { input: z.strictObject({}), auth: 'user' },
  profile: { input: z.strictObject({}), auth: 'user' },
  updateProfile: {
    input: z
      .strictObject({ nickname: nickname.optional(), avatarUrl: avatarUrl.optional() })
      .refine((v) => v.nickname !== undefined || v.avatarUrl !== undefined, 'Nothing to update.'),
    auth: 'user',
  },
} as const

export interface UserProfile {
  openid: string
  nickname: string
  avatarUrl: string
  /** ISO instant of the first login. */
  firstSeenAt: string
  /** Asia/Shanghai day of the first login, `YYYY-MM-DD`. */
  firstSeenDay: string
}

export interface UserOutputs {
  login: { user: UserProfile; isNew: boolean }
  profile: UserProfile
  updateProfile: UserProfile
}

export type UserApi = ApiOf<typeof userActions, UserOutputs>
