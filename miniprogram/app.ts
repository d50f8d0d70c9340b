import { appHidden, appLaunched, appShown } from './core/app-tracking'
import { initCloud } from './core/cloud'
import { startMonitor } from './core/monitor'
import { currentUser } from './core/session'
import { initTracker } from './core/tracker'

App({
  onLaunch(options) {
    initCloud()
    initTracker()
    startMonitor()
    appLaunched(options)
    // Sign in early (it records the first-seen day); pages that need the profile await the same promise.
    currentUser().catch(() => undefined)
  },
  onShow(options) {
    appShown(options)
  },
  onHide() {
    appHidden()
  },
})
