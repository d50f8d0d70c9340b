/**
 * The app's part of tracking, called from app.ts: the launch, each session (show to hide, with its
 * last touch), and consent, which follows WeChat's privacy agreement: once the user has agreed
 * (wx.getPrivacySetting reports nothing left to authorize), collection starts.
 */
import { type EntryOptions, touchFrom } from './attribution'
import { flush, hasConsent, newSession, persist, setConsent, track } from './tracker'

let launchOptions: EntryOptions | null = null
let showOptions: EntryOptions | null = null
let launchTracked = false
let showTracked = false
let shownAt = 0

/** Sends what happened before consent arrived (the launch and the current session's start), once. */
function trackEntry(): void {
  if (!hasConsent()) return
  if (launchOptions && !launchTracked) {
    launchTracked = true
    track('app_launch', { path: launchOptions.path ?? '', ...touchFrom(launchOptions) })
  }
  if (showOptions && !showTracked) {
    showTracked = true
    track('app_show', { path: showOptions.path ?? '', ...touchFrom(showOptions) })
  }
}

export function appLaunched(options: EntryOptions): void {
  launchOptions = options
  trackEntry()
  // Before the privacy API existed (base library < 2.32.3) consent stays what setConsent last recorded.
  wx.getPrivacySetting?.({
    success: (res) => {
      if (!res.needAuthorization) return consentGiven()
      // Not agreed, or agreed to terms that have changed since: nothing is collected (what the recorded
      // consent queued is dropped) until the user agrees, and then the launch and show are tracked.
      setConsent(false)
      launchTracked = showTracked = false
    },
  })
}

/** The user agreed to the privacy terms (here, or in the privacy popup). */
export function consentGiven(): void {
  setConsent(true)
  trackEntry()
}

export function appShown(options: EntryOptions): void {
  // The first show continues the session the launch started (one cold start, one session).
  if (shownAt) newSession()
  shownAt = Date.now()
  showOptions = options
  showTracked = false
  trackEntry()
}

export function appHidden(): void {
  track('app_hide', { durationMs: Math.max(0, Date.now() - shownAt) })
  // Write-through: WeChat may kill the app any time after onHide, and the queue must be in storage then.
  persist()
  void flush()
}
