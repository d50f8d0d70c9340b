import { appHidden, appLaunched, appShown } from './core/app-tracking'
import { initCloud } from './core/cloud'
import { initExperiments } from './core/experiments'
import { startMonitor } from './core/monitor'
import { initPrivacy } from './core/privacy'
import { acceptReferral } from './core/referral'
import { currentUser } from './core/session'
import { initTracker } from './core/tracker'

App({
  onLaunch(options) {
    initCloud()
    initTracker()
    startMonitor()
    appLaunched(options)
    // The privacy agreement: a popup on the page on screen when WeChat or a first launch needs it.
    initPrivacy()
    // Flags and experiments: from storage at once on a repeat launch, refreshed in the background.
    initExperiments(options.query)
    // Sign in early (it records the first-seen day); pages that need the profile await the same promise.
    currentUser().catch(() => undefined)
    // A new user's invite is accepted once, after that login (in the background, never awaited).
    void acceptReferral(options)
  },
  onShow(options) {
    appShown(options)
  },
  onHide() {
    appHidden()
  },
})
