import { initCloud } from './core/cloud'
import { currentUser } from './core/session'

App({
  onLaunch() {
    initCloud()
    // Sign in early (it records the first-seen day); pages that need the profile await the same promise.
    currentUser().catch(() => undefined)
  },
})
