/**
 * The onboarding guide's state on the device, kept in storage: the step on screen while the guide
 * runs (a closed app resumes there), then how it ended, and whether the cloud has recorded that yet.
 * The guide itself and its steps live in subpackage `onboarding` (packages/onboarding/guide/): only
 * this state is needed at launch, by the login and the home page.
 */
import type { OnboardingOutcome } from '../../cloudfunctions/user/api'

/** `active` while the guide runs (on `step`); then how it ended. */
export interface GuideRecord {
  status: 'active' | OnboardingOutcome
  step: string
  /** The cloud has the outcome (a reinstall will not replay the guide). */
  synced: boolean
}

const KEY = 'onboarding'

export function guideRecord(): GuideRecord | null {
  let r: GuideRecord | null = null
  try {
    r = wx.getStorageSync(KEY) as GuideRecord | null
  } catch {
    return null
  }
  const valid = typeof r === 'object' && r !== null && ['active', 'finished', 'skipped'].includes(r.status) && typeof r.step === 'string' && typeof r.synced === 'boolean'
  return valid ? r : null
}

export function saveGuide(record: GuideRecord): void {
  try {
    wx.setStorageSync(KEY, record)
  } catch {
    // storage full: the guide may show again, which is better than failing the page
  }
}

/** The guide ended on this device (finished or skipped). */
export function guideEnded(): boolean {
  const status = guideRecord()?.status
  return status === 'finished' || status === 'skipped'
}

/**
 * The guide may still show on this device, or how it ended is not in the cloud yet. Only then does
 * the home page render the guide, and so load its subpackage: once it has ended and the cloud knows,
 * later launches never download or run t-guide.
 */
export function guidePending(): boolean {
  const record = guideRecord()
  return record === null || record.status === 'active' || !record.synced
}
