/**
 * The guide's steps are data: the built-in ones below, replaced by `app_config/onboarding` when the
 * cloud sends a valid one (checked with zod in the `user` function, and again here, so a bad
 * configuration never reaches the page).
 */
import type { OnboardingStep } from '../../../../cloudfunctions/user/api'

export type { OnboardingStep }

/** The built-in guide: the three things that deliver the app's value on the home page. */
export const DEFAULT_STEPS: readonly OnboardingStep[] = [
  { id: 'tabs', selector: '.home__tabs', title: '按分类找指南', body: '点分类标签，快速找到你关心的生活技巧。', placement: 'bottom' },
  { id: 'card', selector: '.card', title: '点开就能学', body: '每篇只要几分钟，看完就能用上。', placement: 'bottom' },
  { id: 'me', selector: '.hero__me', title: '我的', body: '设置昵称、签到领积分，都在这里。', placement: 'bottom-right' },
]

/** The placements the cloud schema allows (ONBOARDING_PLACEMENTS, not imported: it would bring zod). */
const PLACEMENTS: readonly OnboardingStep['placement'][] = [
  'top', 'left', 'right', 'bottom', 'top-left', 'top-right', 'bottom-left', 'bottom-right',
  'left-top', 'left-bottom', 'right-top', 'right-bottom', 'center',
]
const MAX_STEPS = 5

function isStep(value: unknown): value is OnboardingStep {
  const s = value as OnboardingStep | null
  return (
    typeof s === 'object' && s !== null &&
    typeof s.id === 'string' && /^[a-z0-9_-]{1,32}$/.test(s.id) &&
    typeof s.selector === 'string' && /^[.#][A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(s.selector) &&
    typeof s.title === 'string' && s.title.trim().length > 0 && s.title.length <= 20 &&
    typeof s.body === 'string' && s.body.length <= 80 &&
    PLACEMENTS.includes(s.placement)
  )
}

/** The steps to show: the configured ones when they are usable, else the built-in ones. */
export function stepsFrom(config: unknown): readonly OnboardingStep[] {
  if (!Array.isArray(config) || config.length === 0 || config.length > MAX_STEPS || !config.every(isStep)) return DEFAULT_STEPS
  return new Set(config.map((s) => s.id)).size === config.length ? config : DEFAULT_STEPS
}
