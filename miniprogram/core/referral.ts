/**
 * Referral acceptance, called from app.ts: on a new user's first day (the cloud's firstSeenDay is
 * today), ask `incentives.acceptInvite` to reward the inviter and the invitee, with the invite code
 * of the launch when there is one (else the cloud uses the first-touch inviter). Never awaited by
 * the launch; remembered in storage once settled, so later launches make no call. Promise chains
 * rather than async/await: this is in the main package, and the compiler's async helpers are not.
 */
import { type EntryOptions, touchFrom } from './attribution'
import { call, CloudError } from './cloud'
import { currentUser } from './session'

const KEY = 'referral:done'

function settle(): void {
  try {
    wx.setStorageSync(KEY, 1)
  } catch {
    // storage full: asked again at the next launch, which the cloud answers without granting twice
  }
}

export function acceptReferral(options: EntryOptions): Promise<void> {
  const code = touchFrom(options).code
  let done: unknown
  try {
    done = wx.getStorageSync(KEY)
  } catch {
    // unreadable: ask, the cloud grants once whatever happens here
  }
  if (done) return Promise.resolve()
  return currentUser()
    .then((user) => {
      if (user.firstSeenDay !== new Date(Date.now() + 288e5).toISOString().slice(0, 10)) return
      return call('incentives', 'acceptInvite', code && code.length === 8 ? { code } : {}, { retries: 2 })
    })
    .then(settle, (err: unknown) => {
      // A refusal is final, except a busy account (CONFLICT) and, without a code, a first touch not
      // recorded yet (NOT_FOUND): those are asked again at the next launch (on day one only).
      if (err instanceof CloudError && !err.retriable && err.code !== 'CONFLICT' && !(err.code === 'NOT_FOUND' && !code)) settle()
    })
}
