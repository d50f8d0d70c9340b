import { appHidden, appLaunched, appShown } from './core/app-tracking'
import { initCloud } from './core/cloud'
import { initExperiments } from './core/experiments'
import { startLaunch } from './core/launch'
import { startMonitor } from './core/monitor'
import { initPrivacy } from './core/privacy'
import { acceptReferral } from './core/referral'
import { initTracker } from './core/tracker'

App({
  onLaunch(options) {
    initCloud()
    initTracker()
    startMonitor()
    appLaunched(options)
    // The privacy agreement: a popup on the page on screen when WeChat or a first launch needs it.
    initPrivacy()
    // One call (user.bootstrap) signs in and brings the first screen's data, made only when the caches
    // or the day's visit need it: a warm launch with fresh caches calls nothing before first render.
    startLaunch()
    // Flags and experiments: from storage at once on a repeat launch, else from the launch's reply.
    initExperiments(options.query)
    // A new user's invite is accepted once, when there is an inviter (in the background, never awaited).
    void acceptReferral(options)
  },
  onShow(options) {
    appShown(options)
  },
  onHide() {
    appHidden()
  },
})
