/**
 * The signed-in user. Login (create-or-fetch by OPENID, in the cloud) starts at launch and is
 * shared by every page that needs the profile; a failed login is retried by the next caller.
 */
import type { UserProfile } from '../../cloudfunctions/user/api'
import { api } from './api'

let pending: Promise<UserProfile> | null = null

export function currentUser(): Promise<UserProfile> {
  pending ??= api.user.login().then(
    (res) => res.user,
    (err: unknown) => {
      pending = null
      throw err
    },
  )
  return pending
}

/** After the profile changed (e.g. a new nickname). */
export function setCurrentUser(user: UserProfile): void {
  pending = Promise.resolve(user)
}

/** Forget the session (tests; a future sign-out). */
export function resetSession(): void {
  pending = null
}
