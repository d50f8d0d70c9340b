/**
 * Contract of the `user` function: input schemas and output types. Imported by the function and
 * (type-only) by the mini-program's client core, so both sides agree at compile time.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'
import type { Category, ContentOutputs } from '../content/api'
import type { ClientConfig } from '../experiments/api'

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

/** Where a guide step's popover sits relative to its element (TDesign t-guide placements). */
export const ONBOARDING_PLACEMENTS = [
  'top', 'left', 'right', 'bottom', 'top-left', 'top-right', 'bottom-left', 'bottom-right',
  'left-top', 'left-bottom', 'right-top', 'right-bottom', 'center',
] as const

const onboardingStepId = z.string().regex(/^[a-z0-9_-]{1,32}$/, 'a step id: 1-32 of a-z, 0-9, _ and -')

/**
 * One step of the onboarding guide over the home page. The selector is a class or id the home page
 * renders (a plain `.name` or `#name`, nothing the config could use to reach into other pages).
 */
export const onboardingStepSchema = z.strictObject({
  id: onboardingStepId,
  selector: z.string().regex(/^[.#][A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'a class (.name) or id (#name) on the home page'),
  title: z.string().trim().min(1, 'A step needs a title.').max(20, 'A title is at most 20 characters.'),
  body: z.string().trim().max(80, 'A body is at most 80 characters.').default(''),
  placement: z.enum(ONBOARDING_PLACEMENTS).default('bottom'),
})

/** The guide's steps, as stored in `app_config/onboarding` (`{ steps: [...] }`). */
export const onboardingStepsSchema = z
  .array(onboardingStepSchema)
  .min(1, 'The guide needs at least one step.')
  .max(5, 'Keep the guide to at most 5 steps.')
  .refine((steps) => new Set(steps.map((s) => s.id)).size === steps.length, 'Step ids must be unique.')

export type OnboardingStep = z.output<typeof onboardingStepSchema>

export const ONBOARDING_OUTCOMES = ['finished', 'skipped'] as const
export type OnboardingOutcome = (typeof ONBOARDING_OUTCOMES)[number]

/** How the user left the guide, kept on the user so a reinstall does not replay it. */
export interface OnboardingState {
  status: OnboardingOutcome
  /** The step the user was on when it ended. */
  step: string
  /** ISO instant. */
  at: string
}

export const userActions = {
  /**
   * Creates the user on first call, returns the profile. Identity comes from the platform.
   * `onboarding: true` (a device that has not seen the guide end) also asks for the guide's
   * configured steps, read in parallel with the user.
   */
  login: { input: z.strictObject({ onboarding: z.boolean().optional() }), auth: 'user' },
  /**
   * The launch's one call: what `login` answers, plus everything the first screen and the launch
   * need (the experiments config for this user, the categories, the first page of guides), read in
   * one database round trip (two for a new user, or once a day to record the visit).
   */
  bootstrap: { input: z.strictObject({ onboarding: z.boolean().optional() }), auth: 'user' },
  profile: { input: z.strictObject({}), auth: 'user' },
  updateProfile: {
    input: z
      .strictObject({ nickname: nickname.optional(), avatarUrl: avatarUrl.optional() })
      .refine((v) => v.nickname !== undefined || v.avatarUrl !== undefined, 'Nothing to update.'),
    auth: 'user',
  },
  /** Records how the guide ended; the first outcome stays (a second device cannot turn "finished" into "skipped"). */
  setOnboarding: {
    input: z.strictObject({ status: z.enum(ONBOARDING_OUTCOMES), step: onboardingStepId }),
    auth: 'user',
  },
} as const

export interface UserProfile {
  openid: string
  nickname: string
  /** What is stored: a `cloud://` file ID, an https URL, or ''. */
  avatarUrl: string
  /** An address to show the avatar at (a temporary one for a cloud file, valid for two days), or ''. */
  avatar: string
  /** ISO instant of the first login. */
  firstSeenAt: string
  /** Asia/Shanghai day of the first login, `YYYY-MM-DD`. */
  firstSeenDay: string
  /** How the onboarding guide ended for this user; null while it has not. */
  onboarding: OnboardingState | null
}

export interface BootstrapReply {
  user: UserProfile
  isNew: boolean
  /** As login's: only when asked for. */
  onboardingSteps?: OnboardingStep[] | null
  /** What `experiments.config` answers. */
  config: ClientConfig
  /** What `content.categories` answers. */
  categories: Category[]
  /** What `content.list` answers for the first page of every category (10 guides). */
  guides: ContentOutputs['list']
  /** The user's first touch names an inviter: a referral may be due (incentives.acceptInvite). */
  invited: boolean
}

export interface UserOutputs {
  /**
   * `onboardingSteps` only when asked for: the configured steps, or null when there is no valid
   * configuration (the app then uses its built-in steps).
   */
  login: { user: UserProfile; isNew: boolean; onboardingSteps?: OnboardingStep[] | null }
  bootstrap: BootstrapReply
  profile: UserProfile
  updateProfile: UserProfile
  setOnboarding: { onboarding: OnboardingState }
}

export type UserApi = ApiOf<typeof userActions, UserOutputs>
