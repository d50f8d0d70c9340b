/**
 * WeChat's privacy agreement (base library >= 2.32.3). One listener for
 * wx.onNeedPrivacyAuthorization, registered once at launch, routes each request to the privacy
 * popup of the page on screen (pages include `<privacy-popup id="privacy-popup" />`); a page
 * without one answers "disagree" at once, so the API that asked fails instead of hanging.
 * On a first launch that needs the agreement the popup is also shown unasked. The tracker's
 * consent follows the answer: nothing is collected until the user agrees.
 */
import { consentGiven } from './app-tracking'
import { setConsent } from './tracker'

export type PrivacyAnswer = { event: 'agree'; buttonId: string } | { event: 'disagree' } | { event: 'exposureAuthorization' }
export type PrivacyResolve = (answer: PrivacyAnswer) => void

/** agreed: nothing left to agree to; declined: the user said no (or closed the popup); unknown: no answer yet. */
export type PrivacyState = 'unknown' | 'needed' | 'agreed' | 'declined'

/** What a privacy popup offers privacy.ts (components/privacy-popup). */
export interface PrivacyPopup {
  /** Shows the popup; `resolve` is WeChat's, when an API is waiting for the answer. */
  ask(contractName: string, resolve?: PrivacyResolve): void
}

export const POPUP_ID = '#privacy-popup'
const DECLINED_KEY = 'privacy:declined'
const DEFAULT_CONTRACT = '《小程序隐私保护指引》'

let registered = false
let state: PrivacyState = 'unknown'
let contractName = DEFAULT_CONTRACT
/** The unasked prompt of a first launch, waiting for a page with a popup to attach. */
let promptPending = false
let settledWaiters: ((state: PrivacyState) => void)[] = []

function popupOnScreen(): PrivacyPopup | null {
  const pages = getCurrentPages()
  const page = pages[pages.length - 1] as { selectComponent?: (selector: string) => unknown } | undefined
  const popup = page?.selectComponent?.(POPUP_ID) as Partial<PrivacyPopup> | null | undefined
  return popup && typeof popup.ask === 'function' ? (popup as PrivacyPopup) : null
}

function settle(next: 'agreed' | 'declined'): void {
  state = next
  for (const waiter of settledWaiters.splice(0)) waiter(next)
}

/** Call once in App.onLaunch (later calls do nothing). */
export function initPrivacy(): void {
  if (registered) return
  registered = true
  // Without the privacy API (old base library) there is nothing to agree to in the app.
  if (!wx.onNeedPrivacyAuthorization || !wx.getPrivacySetting) return settle('agreed')
  // The typings describe the listener's argument as a result object; it is WeChat's resolve function.
  const onNeed = wx.onNeedPrivacyAuthorization as unknown as (listener: (resolve: PrivacyResolve) => void) => void
  onNeed.call(wx, (resolve) => {
    const popup = popupOnScreen()
    if (!popup) return resolve({ event: 'disagree' })
    popup.ask(contractName, resolve)
  })
  wx.getPrivacySetting({
    success: (res) => {
      contractName = res.privacyContractName || DEFAULT_CONTRACT
      if (!res.needAuthorization) return settle('agreed')
      state = 'needed'
      // Declined on this device before: not asked again unasked (a feature that needs it asks).
      if (wx.getStorageSync(DECLINED_KEY)) return settle('declined')
      const popup = popupOnScreen()
      if (popup) popup.ask(contractName)
      else promptPending = true
    },
    // No answer: behave as not agreed, without nagging.
    fail: () => settle('declined'),
  })
}

/** A privacy popup attached to a page: it shows the first launch's prompt if that is still waiting. */
export function popupAttached(popup: PrivacyPopup): void {
  if (!promptPending || popupOnScreen() !== popup) return
  promptPending = false
  popup.ask(contractName)
}

/** The user tapped agree (WeChat has recorded it: the agree button has open-type agreePrivacyAuthorization). */
export function privacyAgreed(): void {
  promptPending = false
  wx.removeStorageSync(DECLINED_KEY)
  consentGiven()
  settle('agreed')
}

/** The user declined or closed the popup: nothing is collected; the app stays usable without personal data. */
export function privacyDeclined(): void {
  promptPending = false
  wx.setStorageSync(DECLINED_KEY, Date.now())
  setConsent(false)
  settle('declined')
}

export function privacyState(): PrivacyState {
  return state
}

/** Resolves once the agreement question is settled (agreed, not needed, or declined), e.g. before the onboarding guide. */
export function whenPrivacySettled(): Promise<PrivacyState> {
  if (state === 'agreed' || state === 'declined') return Promise.resolve(state)
  return new Promise((resolve) => settledWaiters.push(resolve))
}

/** An API failed because the privacy agreement was declined (errno 104 / "privacy permission is not authorized"). */
export function isPrivacyDenied(err: unknown): boolean {
  const e = err as { errno?: unknown; errMsg?: unknown } | null
  return !!e && (e.errno === 104 || (typeof e.errMsg === 'string' && e.errMsg.includes('privacy permission is not authorized')))
}

/** Forget everything (tests: a fresh launch in the same module registry). */
export function resetPrivacy(): void {
  registered = false
  state = 'unknown'
  contractName = DEFAULT_CONTRACT
  promptPending = false
  settledWaiters = []
}
