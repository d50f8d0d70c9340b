/**
 * The launch's one call. `user.bootstrap` answers the login, the experiments config for this user,
 * the categories and the first page of guides together (one invocation, one database read). The
 * launch makes it only when something the first screen or the session needs is missing or past its
 * freshness, so a warm launch with fresh caches calls nothing before its first render; every reader
 * then takes its part of the same reply once (the experiments config, the home page's categories and
 * first page, the session), and asks its own action for anything later (a refresh, a retry).
 */
import type { BootstrapReply } from '../../cloudfunctions/user/api'
import { api } from './api'
import { cacheAge } from './cache'
import { guideEnded } from './onboarding'

/** How long each part of the reply stays fresh in the storage cache (the readers' cache policies). */
export const FRESH_MS = { experiments: 10 * 60_000, categories: 6 * 3600_000, firstPage: 60_000 }
/** Cache keys of the parts the launch refreshes: experiments.ts and the home page read them. */
export const CACHED = { experiments: 'experiments', categories: 'categories', firstPage: 'guides:all' } as const
/** The Asia/Shanghai day the cloud last recorded this device's visit (login records one a day). */
const SESSION_KEY = 'session:day'

type Part = 'config' | 'categories' | 'firstPage' | 'login'

let reply: Promise<BootstrapReply> | null = null
let taken: Partial<Record<Part, true>> = {}

/** Today in Asia/Shanghai (UTC+8, no daylight saving), the cloud's calendar. */
export function shanghaiDay(ms = Date.now()): string {
  return new Date(ms + 288e5).toISOString().slice(0, 10)
}

function visitRecorded(): boolean {
  try {
    return wx.getStorageSync(SESSION_KEY) === shanghaiDay()
  } catch {
    return false
  }
}

/** Something the launch's reply would bring is missing or no longer fresh. */
export function launchNeedsCall(): boolean {
  if (!visitRecorded()) return true
  return (Object.keys(CACHED) as (keyof typeof CACHED)[]).some((part) => !(cacheAge(CACHED[part]) < FRESH_MS[part]))
}

/** Called once from app.ts onLaunch, before the readers (experiments, home, session) ask. */
export function startLaunch(): void {
  reply = null
  taken = {}
  if (!launchNeedsCall()) return
  const call = api.user.bootstrap(guideEnded() ? {} : { onboarding: true })
  reply = call
  call.then(
    () => {
      try {
        wx.setStorageSync(SESSION_KEY, shanghaiDay())
      } catch {
        // storage full: the next launch calls again
      }
    },
    () => undefined, // each reader sees the failure through its own part
  )
}

/** The launch's call, when it made one (its reply is shared: reading it takes nothing). */
export function launched(): Promise<BootstrapReply> | null {
  return reply
}

/** A reader's part of the launch's reply, once; null when the launch made no call or it was taken. */
export function fromLaunch<T>(part: Part, pick: (reply: BootstrapReply) => T): Promise<T> | null {
  if (!reply || taken[part]) return null
  taken[part] = true
  return reply.then(pick)
}
