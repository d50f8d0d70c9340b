/** Contract of the `monitor` function: the 5-minute health check behind alerts. */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'

export const WINDOW_MS = 5 * 60_000

export const monitorActions = {
  /**
   * Checks the last complete 5-minute window (or the one ending at `at`). Runs on the timer;
   * admins may run it by hand, e.g. to check a past window.
   */
  run: { input: z.strictObject({ at: z.iso.datetime().optional() }), auth: 'public' },
} as const

export type AlertKind = 'error_rate' | 'slow_calls'

export interface WindowStats {
  from: string
  to: string
  sessions: number
  sessionsWithError: number
  errors: number
  calls: number
  slowCalls: number
  failedCalls: number
  /** Share of sessions with at least one error event. */
  errorRate: number
  /** Share of cloud calls slower than the device's slow threshold. */
  slowRate: number
}

export interface Transition {
  kind: AlertKind
  state: 'opened' | 'resolved'
  value: number
  threshold: number
  /** Admins sent the `ops_alert` message; admins with no accept left (not subscribed); whether the webhook answered 2xx. */
  notified: number
  unsubscribed: number
  webhook: 'sent' | 'failed' | 'off'
}

export interface MonitorOutputs {
  run: { window: WindowStats; transitions: Transition[] }
}

export type MonitorApi = ApiOf<typeof monitorActions, MonitorOutputs>
