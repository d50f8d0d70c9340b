/**
 * The signed-in user. The launch's call (launch.ts) signs in when the launch makes one; otherwise
 * the first page that needs the profile calls login. One reply is shared by every caller; a failed
 * login is retried by the next caller.
 * A device that has not seen the onboarding guide end asks for the guide's steps in the same call.
 */
import type { UserOutputs, UserProfile } from '../../cloudfunctions/user/api'
import { api } from './api'
import { fromLaunch } from './launch'
import { guideEnded } from './onboarding'

export type LoginReply = UserOutputs['login']

let pending: Promise<LoginReply> | null = null

/** The login reply, shared by every caller (one call per launch). */
export function login(): Promise<LoginReply> {
  pending ??= (fromLaunch('login', (reply): LoginReply => reply) ?? api.user.login(guideEnded() ? {} : { onboarding: true })).then(
    (res) => res,
    (err: unknown) => {
      pending = null
      throw err
    },
  )
  return pending
}

export function currentUser(): Promise<UserProfile> {
  return login().then((res) => res.user)
}

/** After the profile changed (e.g. a new nickname). */
export function setCurrentUser(user: UserProfile): void {
  const previous = pending
  pending = previous ? previous.then((res) => ({ ...res, user }), () => ({ user, isNew: false })) : Promise.resolve({ user, isNew: false })
}

/** Forget the session (tests; a future sign-out). */
export function resetSession(): void {
  pending = null
}
