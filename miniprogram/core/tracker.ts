/**
 * The tracker: events from the tracking plan (typed: an unknown event or a wrong property does not
 * compile), each with a UUIDv7 made here, queued in storage so a killed app loses nothing, sent in
 * batches (at `flushAt` events, every `flushIntervalMs`, and when the app hides), retried with
 * exponential backoff and jitter, and removed only when the cloud has acknowledged them — so an
 * event is never lost and, since the cloud dedupes by id, never counted twice.
 *
 * The queue is written to storage at most once per flush window, not once per event: with the reply
 * of each send (what the cloud acknowledged leaves), when a window ends with unsaved events (a send
 * that failed, a backoff), and at once when the app hides (`persist()`, called by app-tracking's
 * onHide right after `app_hide`). WeChat only kills a mini-program after onHide (in the background),
 * so every kill finds the queue in storage; what a foreground crash of WeChat itself could lose is
 * at most the last window's events (none before this change, at the cost of a write per event).
 *
 * Nothing is collected before consent (setConsent(true), when the user agrees to the privacy terms).
 */
import type { EventName, EventProps, TrackedEvent } from '../../cloudfunctions/track/plan'
import { call } from './cloud'
import { isUuidv7, uuidv7 } from './uuid'

export interface TrackerOptions {
  flushAt: number
  flushIntervalMs: number
  /** Queue cap: past it the oldest events are dropped (and the drop itself is reported). */
  maxQueue: number
  /** Events per call; the `track` function takes at most 50. */
  maxBatch: number
  retryBaseMs: number
  retryMaxMs: number
}

export const DEFAULTS: TrackerOptions = {
  flushAt: 20,
  flushIntervalMs: 10_000,
  maxQueue: 1000,
  maxBatch: 50,
  retryBaseMs: 2000,
  retryMaxMs: 5 * 60_000,
}

const KEY = { queue: 'tracker:queue', anonymousId: 'tracker:anon', consent: 'tracker:consent' }
/** What one `track` call takes (MAX_BATCH in cloudfunctions/track/api.ts, not imported: it would bring zod). */
const MAX_BATCH = 50

let options = DEFAULTS
let queue: TrackedEvent[] = []
let consent = false
let anonymous = ''
let session = ''
let page = ''
let dropped = { queue_full: 0, corrupted: 0 }
let flushing = false
let failures = 0
let timer: ReturnType<typeof setTimeout> | undefined
/** Events in memory not yet written to storage, and the timer that writes them when the window ends. */
let unsaved = false
let saveTimer: ReturnType<typeof setTimeout> | undefined
const beforeFlush: (() => void)[] = []

function read(key: string): unknown {
  try {
    return wx.getStorageSync(key)
  } catch {
    return undefined
  }
}

function write(key: string, value: unknown): void {
  try {
    wx.setStorageSync(key, value)
  } catch {
    // storage full: the queue stays in memory and is sent as usual
  }
}

/** Writes the queue as it is now (and ends the window's pending write). */
function save(): void {
  unsaved = false
  if (saveTimer) clearTimeout(saveTimer)
  saveTimer = undefined
  write(KEY.queue, queue)
}

/** Writes the queue now if it holds events storage lacks: the app is hiding, and a kill may follow. */
export function persist(): void {
  if (unsaved && consent) save()
}

function isEvent(value: unknown): value is TrackedEvent {
  const e = value as TrackedEvent | null
  return (
    !!e && isUuidv7(e.id) && isUuidv7(e.anonymousId) && isUuidv7(e.sessionId) &&
    typeof e.name === 'string' && typeof e.ts === 'number' && typeof e.page === 'string' && !!e.props && typeof e.props === 'object'
  )
}

/** Loads identity, consent and the queue left by a previous run. Call once, at launch. */
export function initTracker(overrides: Partial<TrackerOptions> = {}): void {
  options = { ...DEFAULTS, ...overrides }
  consent = read(KEY.consent) === true
  const stored = read(KEY.anonymousId)
  anonymous = isUuidv7(stored) ? stored : ''
  session = uuidv7()
  const saved = read(KEY.queue)
  queue = Array.isArray(saved) ? saved.filter(isEvent) : []
  const unreadable = saved === '' || saved === undefined ? 0 : Array.isArray(saved) ? saved.length - queue.length : 1
  if (unreadable > 0) {
    dropped.corrupted += unreadable
    write(KEY.queue, queue)
  }
  if (consent) begin()
}

/** Consent given: the device gets its anonymous id (a first launch, if it is new). */
function begin(): void {
  if (!anonymous) {
    anonymous = uuidv7()
    write(KEY.anonymousId, anonymous)
    track('first_launch', {})
  }
  for (const reason of ['queue_full', 'corrupted'] as const) {
    if (dropped[reason] > 0) {
      const count = dropped[reason]
      dropped[reason] = 0
      track('tracker_dropped', { count, reason })
    }
  }
  schedule(options.flushIntervalMs)
}

/** Follows the user's answer to the privacy terms. Revoking stops collection and discards what is unsent. */
export function setConsent(granted: boolean): void {
  if (granted === consent) return
  consent = granted
  write(KEY.consent, granted)
  if (granted) {
    begin()
    return
  }
  queue = []
  save()
  if (timer) clearTimeout(timer)
  timer = undefined
}

export function hasConsent(): boolean {
  return consent
}

/** The device's anonymous id ('' without consent: it is not handed out, e.g. to share paths, once revoked). */
export function anonymousId(): string {
  return consent ? anonymous : ''
}

export function sessionId(): string {
  return session
}

/** A new session starts (the app came to the foreground). */
export function newSession(): string {
  session = uuidv7()
  return session
}

/** The page on screen, attached to every event. */
export function setPage(route: string): void {
  page = route
}

export function track<N extends EventName>(name: N, props: EventProps<N>): void {
  if (!consent || !anonymous) return
  const ts = Date.now()
  queue.push({ id: uuidv7(ts), name, ts, anonymousId: anonymous, sessionId: session, page, props })
  const overflow = queue.length - options.maxQueue
  if (overflow > 0) {
    // The oldest go first: recent events describe the current state, and the drop is itself reported.
    queue.splice(0, overflow)
    dropped.queue_full += overflow
  }
  // Coalesced: one write when this flush window ends, unless a send's reply (or the app hiding) writes first.
  unsaved = true
  if (!saveTimer) saveTimer = setTimeout(() => persist(), options.flushIntervalMs)
  // While backing off, the retry timer decides: more events must not mean more attempts.
  if (queue.length >= options.flushAt && !failures) void flush()
  else if (!timer) schedule(options.flushIntervalMs)
}

/** Runs before every flush (the monitor adds its call summary). */
export function onBeforeFlush(listener: () => void): void {
  beforeFlush.push(listener)
}

function schedule(delayMs: number): void {
  if (timer) clearTimeout(timer)
  timer = setTimeout(() => {
    timer = undefined
    void flush()
  }, delayMs)
}

/** Full-jitter exponential backoff, capped. */
function retryDelay(): number {
  return Math.random() * Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** (failures - 1))
}

/** Sends the oldest batch; removes exactly the events the cloud acknowledged (stored or rejected for good). */
export async function flush(): Promise<void> {
  if (flushing || !consent) return
  // Before anything is tracked here (the drop report, the monitor's summary): reaching flushAt must not start a second send of this batch.
  flushing = true
  if (dropped.queue_full > 0) {
    const count = dropped.queue_full
    dropped.queue_full = 0
    track('tracker_dropped', { count, reason: 'queue_full' })
  }
  for (const listener of beforeFlush) listener()
  const max = Math.min(options.maxBatch, MAX_BATCH)
  const batch = queue.slice(0, max)
  try {
    if (batch.length === 0) return
    const result = await call('track', 'ingest', { events: batch })
    if (!consent) return // revoked meanwhile (the queue is gone), or the app was killed (stopTracker)
    const done = new Set(result.accepted)
    for (const rejection of result.rejected) {
      const id = batch[rejection.index]?.id
      // Rejected events can never be accepted: keeping them would block the queue forever.
      if (id) done.add(id)
    }
    queue = queue.filter((e) => !done.has(e.id))
    save()
    failures = 0
  } catch {
    failures++
    // The retry may be minutes away: what is unsaved is written now.
    persist()
  } finally {
    flushing = false
  }
  if (!consent) return
  if (failures > 0) schedule(retryDelay())
  // A full batch means a backlog: drain it now (the app may be hiding), not one batch per interval.
  else if (queue.length >= options.flushAt || (queue.length > 0 && batch.length === max)) void flush()
  else if (queue.length > 0) schedule(options.flushIntervalMs)
}

/**
 * Ends this instance as a kill would (tests, benchmarks): no timer, nothing more tracked or sent,
 * and a reply still on its way changes nothing (the next launch resends from storage).
 */
export function stopTracker(): void {
  consent = false
  if (timer) clearTimeout(timer)
  timer = undefined
  // A kill writes nothing: what storage holds is what the next launch finds.
  if (saveTimer) clearTimeout(saveTimer)
  saveTimer = undefined
}

/** Unsent events (tests and diagnostics). */
export function pending(): readonly TrackedEvent[] {
  return queue
}
