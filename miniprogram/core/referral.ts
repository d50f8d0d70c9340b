/**
 * Referral acceptance, called from app.ts: on a new user's first day (the cloud's firstSeenDay is
 * today), ask `incentives.acceptInvite` to reward the inviter and the invitee, only when there is
 * an inviter to name: the launch's invite code or sharer, or a first touch that names one (the
 * launch's reply says so). Without one, nothing is asked. Never awaited by the launch; remembered in
 * storage once settled, so later launches make no call. A refusal the cloud answers by design (no
 * inviter found, not new, already accepted) is an answer, never reported as a failed call.
 * Promise chains rather than async/await: this is in the main package, and the compiler's async
 * helpers are not.
 */
import type { UserProfile } from '../../cloudfunctions/user/api'
import { type EntryOptions, touchFrom } from './attribution'
import { call, CloudError } from './cloud'
import { launched, shanghaiDay } from './launch'
import { login } from './session'

const KEY = 'referral:done'

function settle(): void {
  try {
    wx.setStorageSync(KEY, 1)
  } catch {
    // storage full: asked again at the next launch, which the cloud answers without granting twice
  }
}

export function acceptReferral(options: EntryOptions): Promise<void> {
  let done: unknown
  try {
    done = wx.getStorageSync(KEY)
  } catch {
    // unreadable: ask, the cloud grants once whatever happens here
  }
  if (done) return Promise.resolve()
  const touch = touchFrom(options)
  const code = touch.code && touch.code.length === 8 ? touch.code : undefined
  const carried = Boolean(code || touch.sharer)
  // Who this is (and whether their first touch names an inviter) from the launch's call; a launch
  // that made none signs in only when it carries an inviter.
  const who: Promise<{ user: UserProfile; invited?: boolean }> | null = launched() ?? (carried ? login() : null)
  if (!who) return Promise.resolve()
  return who
    .then((reply) => {
      if (reply.user.firstSeenDay !== shanghaiDay()) return settle()
      // No inviter anywhere yet: nothing to ask (a first touch recorded later today may name one).
      if (!carried && !reply.invited) return
      const input = code ? { code } : touch.sharer && !reply.invited ? { sharer: touch.sharer } : {}
      return call('incentives', 'acceptInvite', input, { retries: 2, expected: ['NOT_FOUND', 'FORBIDDEN', 'CONFLICT'] }).then(settle)
    })
    .then(undefined, (err: unknown) => {
      // A refusal is final, except a busy account (CONFLICT) and, without a code, an inviter the
      // cloud does not know yet (NOT_FOUND): those are asked again at the next launch (on day one only).
      if (err instanceof CloudError && !err.retriable && err.code !== 'CONFLICT' && !(err.code === 'NOT_FOUND' && !code)) settle()
    })
}
