/**
 * Contract of the `track` function: a batch of events in, which ids were accepted (stored now or
 * before: the device drops exactly those) and which were rejected and why.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'

/** At most this many events per call; the rest of a larger batch is rejected (and stays queued on the device). */
export const MAX_BATCH = 50

export const trackActions = {
  ingest: {
    // Each event is validated on its own (a bad one must not lose the others), so only the shape of the batch is checked here.
    input: z.strictObject({ events: z.array(z.unknown()).min(1).max(500) }),
    auth: 'user',
  },
} as const

export interface Rejection {
  /** The event's id when it has a readable one. */
  id: string | null
  index: number
  reason: string
}

export interface TrackOutputs {
  ingest: { accepted: string[]; rejected: Rejection[]; duplicates: number }
}

export type TrackApi = ApiOf<typeof trackActions, TrackOutputs>
